/* Small helpers shared by the Check programs: tolerances, buffers, canaries. */
#ifndef NNR_TEST_UTIL_H
#define NNR_TEST_UTIL_H

#include <check.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nnref.h"

/*
 * Check's ck_assert_msg (and with it ck_assert and every ck_assert_int_eq,
 * ck_assert_ptr_..., which expand to it) reports each PASSING assertion to
 * the parent process through a pipe, _mark_point(): one write(2) per call.
 * The crosschecks assert element by element over up to a million values, and
 * on a loaded machine those syscalls took LayerNorm's streaming crosscheck
 * past a minute (and past its timeout under make -j2 check). Here a passing
 * assertion costs nothing and a failing one reports exactly as Check does
 * (same file, line, expression and message); what is lost is only the "last
 * passed point" Check names when a test crashes or times out.
 */
#undef ck_assert_msg
#define ck_assert_msg(expr, ...) \
    ((expr) ? (void)0 : _ck_assert_failed(__FILE__, __LINE__, "Assertion '" #expr "' failed", ##__VA_ARGS__))

/* A value no kernel computes: outputs must still hold it after a rejected call. */
#define NNR_CANARY (-12345.678f)

static inline float *tu_alloc_f(size_t n)
{
    /* The bound also tells gcc -O2 the byte count cannot wrap: without it,
     * -Walloc-size-larger-than fires on inlined paths it cannot rule out. */
    if (n > SIZE_MAX / sizeof(float))
        ck_abort_msg("tu_alloc_f(%zu): the byte count overflows size_t", n);
    float *p = malloc((n ? n : 1) * sizeof *p);
    ck_assert_ptr_nonnull(p);
    return p;
}

static inline double *tu_alloc_d(size_t n)
{
    /* The bound also tells gcc -O2 the byte count cannot wrap: without it,
     * -Walloc-size-larger-than fires on inlined paths it cannot rule out. */
    if (n > SIZE_MAX / sizeof(double))
        ck_abort_msg("tu_alloc_d(%zu): the byte count overflows size_t", n);
    double *p = malloc((n ? n : 1) * sizeof *p);
    ck_assert_ptr_nonnull(p);
    return p;
}

static inline void tu_fill_canary(float *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = NNR_CANARY;
}

/* 1 if every entry still holds the canary. */
static inline int tu_all_canary(const float *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(&p[i], &(float){NNR_CANARY}, sizeof(float)) != 0)
            return 0;
    return 1;
}

/* Normal random data mean + sd*N(0,1) from the counter-based generator. */
static inline void tu_randn_f(float *p, size_t n, uint64_t seed, double mean, double sd)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (float)(mean + sd * nnr_rng_normal(seed, i));
}

static inline void tu_randn_d(double *p, size_t n, uint64_t seed, double mean, double sd)
{
    for (size_t i = 0; i < n; i++)
        p[i] = mean + sd * nnr_rng_normal(seed, i);
}

/*
 * What a checking helper measured, for the test body to assert: a helper
 * that compares many values (a crosscheck, a golden table, a run of rejected
 * calls) judges each one into a tally and returns; the body then states the
 * result, e.g. "this many cases ran, none outside its bound", with a message
 * that carries the numbers and the first bad value in words. The helper's
 * condition is the bound itself (nothing is loosened by the move), and it
 * keeps going after a bad value so the count and the worst error are whole.
 */
typedef struct tu_tally {
    size_t cases;     /* cases run: helper calls, table rows, shapes */
    size_t checked;   /* values (or calls) judged */
    size_t bad;       /* judged outside their bound */
    double worst;     /* largest error / bound seen: <= 1 within; INFINITY for NaN or a missed exact bound */
    char first[512];  /* the first bad one, in words */
} tu_tally;

/*
 * Judges one value: ok is the helper's own condition (err <= bound, bitwise
 * equality, a status code, ...); err and bound feed `worst` (pass 0, 0 when
 * there is no magnitude). Returns ok; on a bad value the helper then calls
 * tu_note to describe it (only the first description is kept). Not variadic,
 * so it inlines: the crosschecks judge millions of values.
 */
static inline int tu_judge(tu_tally *t, int ok, double err, double bound)
{
    t->checked++;
    double ratio = bound > 0 ? err / bound : (err == 0 ? 0.0 : INFINITY);
    if (isnan(ratio) || (!ok && ratio <= 1.0))
        ratio = INFINITY;   /* NaN, or a failed condition with no magnitude (a code, a word, a canary) */
    if (ratio > t->worst)
        t->worst = ratio;
    if (!ok)
        t->bad++;
    return ok;
}

/* Describes the bad value just judged, if it is the first one. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 2, 3)))
#endif
static inline void tu_note(tu_tally *t, const char *fmt, ...)
{
    if (t->bad != 1 || t->first[0] != '\0')
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->first, sizeof t->first, fmt, ap);
    va_end(ap);
}

/* Adds b's counts into a (keeping a's first bad description if it has one). */
static inline void tu_tally_add(tu_tally *a, const tu_tally *b)
{
    a->cases += b->cases;
    a->checked += b->checked;
    if (a->bad == 0 && b->bad != 0)
        memcpy(a->first, b->first, sizeof a->first);
    a->bad += b->bad;
    if (b->worst > a->worst)
        a->worst = b->worst;
}

/* Runs one suite and returns the number of failures. */
static inline int tu_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed;
}

#endif /* NNR_TEST_UTIL_H */
