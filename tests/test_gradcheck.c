/*
 * The gradient-check harness proves itself: a smooth toy problem passes with
 * a tiny error, a backward that is wrong (slightly everywhere, or badly in
 * one entry) fails and points at the entry, a backward that is not
 * deterministic is caught, a ReLU at 0 is reported as a kink and not judged,
 * sampling checks exactly the requested number of entries, perturbed values
 * come back bit for bit, and malformed problems or options are rejected with
 * a sentence naming the field.
 */
#include "config.h"
#include <float.h>
#include <stdio.h>
#include "test_util.h"

#define TOY_N 7
#define TOY_BIG 1000

/*
 * Toy layer: out_j = x_j^3 + sin(w x_j) (or ReLU(x_j)), with a scalar w.
 *   dL/dx_j = g_j (3 x_j^2 + w cos(w x_j)),  dL/dw = sum_j g_j x_j cos(w x_j).
 * Switches make its backward wrong in controlled ways.
 */
typedef enum toy_fault {
    TOY_CORRECT = 0,
    TOY_ALL_OFF_1E4,    /* every dx times (1 + 1e-4) */
    TOY_ONE_ENTRY,      /* dx[TOY_WRONG_INDEX] off by 1e-3 relative */
    TOY_NONDET,         /* dx drifts by 1e-13 per backward call */
    TOY_BACKWARD_FAILS, /* backward returns an error */
    TOY_FORWARD_FAILS   /* the 4th forward returns an error */
} toy_fault;

#define TOY_WRONG_INDEX 3

typedef struct toy {
    size_t n;
    double *x, *out, *dx;
    double w, dw;
    int relu;
    toy_fault fault;
    size_t forward_calls, backward_calls;
    const double *x_orig;   /* if set: forward records which entry is perturbed */
    unsigned char *visited;
} toy;

static nnr_status toy_forward(void *ctx)
{
    toy *t = ctx;
    t->forward_calls++;
    if (t->fault == TOY_FORWARD_FAILS && t->forward_calls == 4)
        return nnr_error(NNR_ERR_UNSUPPORTED, "toy forward refuses call 4");
    for (size_t j = 0; j < t->n; j++) {
        if (t->x_orig != NULL && memcmp(&t->x[j], &t->x_orig[j], sizeof(double)) != 0)
            t->visited[j] = 1;
        if (t->relu)
            t->out[j] = t->x[j] > 0.0 ? t->x[j] : 0.0;
        else
            t->out[j] = t->x[j] * t->x[j] * t->x[j] + sin(t->w * t->x[j]);
    }
    return nnr_ok();
}

static nnr_status toy_backward(void *ctx, const double *dout)
{
    toy *t = ctx;
    t->backward_calls++;
    if (t->fault == TOY_BACKWARD_FAILS)
        return nnr_error(NNR_ERR_PARAM, "toy backward was told to fail");
    t->dw = 0.0;
    for (size_t j = 0; j < t->n; j++) {
        const double xj = t->x[j];
        if (t->relu) {
            /* At x = 0 the derivative does not exist; return nonsense on purpose:
             * the harness must report a kink there, not judge it. */
            t->dx[j] = xj > 0.0 ? dout[j] : (xj == 0.0 ? 123.0 : 0.0);
        } else {
            t->dx[j] = dout[j] * (3.0 * xj * xj + t->w * cos(t->w * xj));
            t->dw += dout[j] * xj * cos(t->w * xj);
        }
    }
    if (t->fault == TOY_ALL_OFF_1E4)
        for (size_t j = 0; j < t->n; j++)
            t->dx[j] *= 1.0 + 1e-4;
    if (t->fault == TOY_ONE_ENTRY)
        t->dx[TOY_WRONG_INDEX] *= 1.0 + 1e-3;
    if (t->fault == TOY_NONDET)
        for (size_t j = 0; j < t->n; j++)
            t->dx[j] += 1e-13 * (double)t->backward_calls;
    return nnr_ok();
}

/* x_j spread over [-1.4, 1.6] with values that do not survive x + h - h. */
static void toy_init(toy *t, size_t n, toy_fault fault)
{
    memset(t, 0, sizeof *t);
    t->n = n;
    t->x = tu_alloc_d(n);
    t->out = tu_alloc_d(n);
    t->dx = tu_alloc_d(n);
    for (size_t j = 0; j < n; j++)
        t->x[j] = -1.4 + 3.0 * (double)j / (double)(n > 1 ? n - 1 : 1) + 0.1 / 3.0;
    t->w = 1.7;
    t->fault = fault;
}

static void toy_free(toy *t)
{
    free(t->x);
    free(t->out);
    free(t->dx);
}

static nnr_gc_problem toy_problem(toy *t)
{
    nnr_gc_problem p;
    memset(&p, 0, sizeof p);
    p.ctx = t;
    p.forward = toy_forward;
    p.backward = toy_backward;
    p.out = t->out;
    p.out_count = t->n;
    p.tensors[0] = (nnr_gc_tensor){"x", t->x, t->dx, t->n};
    p.n_tensors = 1;
    if (!t->relu) {
        p.tensors[1] = (nnr_gc_tensor){"w", &t->w, &t->dw, 1};
        p.n_tensors = 2;
    }
    return p;
}

#define ASSERT_OK(call) do { nnr_status st_ = (call); \
    ck_assert_msg(st_.code == NNR_OK, "%s failed: %s", #call, nnr_strerror(&st_)); } while (0)

/* ---- reference ------------------------------------------------------------ */

START_TEST(reference_smooth_toy_passes)
{
    toy t;
    toy_init(&t, TOY_N, TOY_CORRECT);
    double *x_before = tu_alloc_d(TOY_N);
    memcpy(x_before, t.x, TOY_N * sizeof(double));
    const double w_before = t.w;
    nnr_gc_problem p = toy_problem(&t);
    nnr_gc_report r;
    ASSERT_OK(nnr_gradcheck(&p, NULL, &r));

    ck_assert_int_eq(r.passed, 1);
    ck_assert_int_eq(r.deterministic, 1);
    ck_assert_uint_eq(r.n_tensors, 2);
    ck_assert_str_eq(r.tensors[0].name, "x");
    ck_assert_str_eq(r.tensors[1].name, "w");
    ck_assert_uint_eq(r.tensors[0].checked, TOY_N);
    ck_assert_uint_eq(r.tensors[1].checked, 1);
    for (size_t i = 0; i < 2; i++) {
        ck_assert_uint_eq(r.tensors[i].failed, 0);
        ck_assert_uint_eq(r.tensors[i].kinks, 0);
        ck_assert_double_lt(r.tensors[i].max_rel_err, 1e-8);
        ck_assert_double_lt(r.tensors[i].max_abs_err, 1e-8);
    }
    /* Every perturbation was undone to the bit, and out matches the restored x. */
    ck_assert_int_eq(memcmp(x_before, t.x, TOY_N * sizeof(double)), 0);
    ck_assert(memcmp(&w_before, &t.w, sizeof(double)) == 0);
    ck_assert_double_eq(t.out[0], t.x[0] * t.x[0] * t.x[0] + sin(t.w * t.x[0]));
    /* Two forwards per entry, one at the start and one at the end; two backwards. */
    ck_assert_uint_eq(t.forward_calls, 2 * (TOY_N + 1) + 2);
    ck_assert_uint_eq(t.backward_calls, 2);
    free(x_before);
    toy_free(&t);
}
END_TEST

/* The same check twice gives the same report, bit for bit (fixed g, fixed order). */
START_TEST(reference_reproducible)
{
    toy t;
    toy_init(&t, TOY_N, TOY_CORRECT);
    nnr_gc_problem p = toy_problem(&t);
    nnr_gc_report a, b;
    ASSERT_OK(nnr_gradcheck(&p, NULL, &a));
    ASSERT_OK(nnr_gradcheck(&p, NULL, &b));
    for (size_t i = 0; i < 2; i++) {
        ck_assert(memcmp(&a.tensors[i].max_abs_err, &b.tensors[i].max_abs_err, sizeof(double)) == 0);
        ck_assert(memcmp(&a.tensors[i].worst_numeric, &b.tensors[i].worst_numeric, sizeof(double)) == 0);
        ck_assert_uint_eq(a.tensors[i].worst_index, b.tensors[i].worst_index);
    }
    toy_free(&t);
}
END_TEST

/* A gradient wrong by 1e-4 relative everywhere fails under the default tolerances. */
START_TEST(reference_off_by_1e4_fails)
{
    toy t;
    toy_init(&t, TOY_N, TOY_ALL_OFF_1E4);
    nnr_gc_problem p = toy_problem(&t);
    nnr_gc_report r;
    ASSERT_OK(nnr_gradcheck(&p, NULL, &r));
    ck_assert_int_eq(r.passed, 0);
    ck_assert_int_eq(r.deterministic, 1);
    /* Every x entry has |dL/dx| well above atol / (1e-4 - rtol) ~ 1e-3. */
    for (size_t j = 0; j < TOY_N; j++)
        ck_assert_double_gt(fabs(t.dx[j]), 1e-2);
    ck_assert_uint_eq(r.tensors[0].failed, TOY_N);
    ck_assert_double_gt(r.tensors[0].max_rel_err, 0.5e-4);
    ck_assert_double_lt(r.tensors[0].max_rel_err, 2e-4);
    ck_assert_uint_eq(r.tensors[1].failed, 0);   /* dw was left right */
    toy_free(&t);
}
END_TEST

/* One wrong entry fails alone, and the report points at it with both values. */
START_TEST(reference_one_wrong_entry_is_worst)
{
    toy t;
    toy_init(&t, TOY_N, TOY_ONE_ENTRY);
    nnr_gc_problem p = toy_problem(&t);
    nnr_gc_report r;
    ASSERT_OK(nnr_gradcheck(&p, NULL, &r));
    ck_assert_int_eq(r.passed, 0);
    ck_assert_uint_eq(r.tensors[0].failed, 1);
    ck_assert_uint_eq(r.tensors[0].worst_index, TOY_WRONG_INDEX);
    const double a = r.tensors[0].worst_analytic, n = r.tensors[0].worst_numeric;
    ck_assert_double_eq_tol(a / n, 1.0 + 1e-3, 1e-7);
    ck_assert_double_eq_tol(r.tensors[0].max_rel_err, nnr_gc_rel_err(a, n, 0.1), 1e-15);
    ck_assert_uint_eq(r.tensors[1].failed, 0);
    toy_free(&t);
}
END_TEST

START_TEST(reference_nondeterministic_backward)
{
    toy t;
    toy_init(&t, TOY_N, TOY_NONDET);
    nnr_gc_problem p = toy_problem(&t);
    nnr_gc_report r;
    ASSERT_OK(nnr_gradcheck(&p, NULL, &r));
    ck_assert_int_eq(r.deterministic, 0);
    ck_assert_int_eq(r.passed, 0);
    /* A drift of 1e-13 is far inside the tolerances: only the determinism
     * check can catch it, and it does. */
    ck_assert_uint_eq(r.tensors[0].failed, 0);
    ck_assert_uint_eq(r.tensors[1].failed, 0);
    toy_free(&t);
}
END_TEST

/* ReLU at exactly 0 is a kink: counted, neither passed nor failed, even though
 * the toy's backward returns nonsense (123) there. Entries away from 0 are judged. */
START_TEST(reference_relu_kink_reported)
{
    toy t;
    toy_init(&t, 5, TOY_CORRECT);
    t.relu = 1;
    const double xs[5] = {-0.7, -0.2, 0.0, 0.3, 1.1};
    memcpy(t.x, xs, sizeof xs);
    nnr_gc_problem p = toy_problem(&t);
    nnr_gc_report r;
    ASSERT_OK(nnr_gradcheck(&p, NULL, &r));
    ck_assert_uint_eq(r.tensors[0].checked, 5);
    ck_assert_uint_eq(r.tensors[0].kinks, 1);
    ck_assert_uint_eq(r.tensors[0].failed, 0);
    ck_assert_double_lt(r.tensors[0].max_abs_err, 1e-9);
    ck_assert_int_eq(r.passed, 1);
    ck_assert_uint_ne(r.tensors[0].worst_index, 2);   /* the kink is not among the judged */

    /* The table says so. */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(f);
    nnr_gc_print(f, "relu", "toy", &r);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(text, "1 kinks, not judged"));
    ck_assert_ptr_nonnull(strstr(text, "PASS"));
    free(text);

    /* With kink detection off, the nonsense at 0 is judged and fails. */
    nnr_gc_options o = nnr_gc_defaults();
    o.kink_tol = INFINITY;
    ASSERT_OK(nnr_gradcheck(&p, &o, &r));
    ck_assert_uint_eq(r.tensors[0].kinks, 0);
    ck_assert_uint_eq(r.tensors[0].failed, 1);
    ck_assert_uint_eq(r.tensors[0].worst_index, 2);
    toy_free(&t);
}
END_TEST

/* max_per_tensor checks exactly that many distinct entries, chosen by the seed;
 * a tensor no larger than the limit is checked whole. */
START_TEST(reference_sampling_exact_count)
{
    toy t;
    toy_init(&t, TOY_BIG, TOY_CORRECT);
    double *x_orig = tu_alloc_d(TOY_BIG);
    memcpy(x_orig, t.x, TOY_BIG * sizeof(double));
    unsigned char *first = calloc(TOY_BIG, 1), *second = calloc(TOY_BIG, 1);
    ck_assert_ptr_nonnull(first);
    ck_assert_ptr_nonnull(second);
    t.x_orig = x_orig;
    nnr_gc_problem p = toy_problem(&t);
    nnr_gc_options o = nnr_gc_defaults();
    o.max_per_tensor = 37;
    nnr_gc_report r;

    t.visited = first;
    ASSERT_OK(nnr_gradcheck(&p, &o, &r));
    ck_assert_int_eq(r.passed, 1);
    ck_assert_uint_eq(r.tensors[0].checked, 37);
    ck_assert_uint_eq(r.tensors[1].checked, 1);          /* w: 1 entry <= 37, all of it */
    ck_assert_uint_eq(t.forward_calls, 2 * (37 + 1) + 2);
    size_t visited = 0, spread_lo = 0, spread_hi = 0;
    for (size_t j = 0; j < TOY_BIG; j++) {
        visited += first[j];
        spread_lo += first[j] && j < TOY_BIG / 2;
        spread_hi += first[j] && j >= TOY_BIG / 2;
    }
    ck_assert_uint_eq(visited, 37);
    ck_assert_uint_gt(spread_lo, 5);   /* a sample of the whole tensor, not a prefix */
    ck_assert_uint_gt(spread_hi, 5);
    ck_assert_int_eq(memcmp(x_orig, t.x, TOY_BIG * sizeof(double)), 0);

    /* Another seed, another sample (of the same size). */
    o.seed = 43;
    t.visited = second;
    ASSERT_OK(nnr_gradcheck(&p, &o, &r));
    ck_assert_uint_eq(r.tensors[0].checked, 37);
    ck_assert_int_ne(memcmp(first, second, TOY_BIG), 0);

    free(first);
    free(second);
    free(x_orig);
    toy_free(&t);
}
END_TEST

START_TEST(reference_rel_err)
{
    ck_assert_double_eq(nnr_gc_rel_err(1.0, 1.0, 0.0), 0.0);
    ck_assert_double_eq(nnr_gc_rel_err(0.0, 0.0, 0.0), 0.0);
    ck_assert_double_eq_tol(nnr_gc_rel_err(1.0, 1.1, 0.0), 0.1 / 1.1, 1e-15);
    ck_assert_double_eq_tol(nnr_gc_rel_err(-2.0, -1.0, 0.0), 0.5, 1e-15);
    ck_assert_double_eq(nnr_gc_rel_err(0.0, 1e-30, 0.0), 1.0);
    /* Below the floor the error is measured against the floor. */
    ck_assert_double_eq_tol(nnr_gc_rel_err(1e-3, 2e-3, 0.1), 1e-2, 1e-15);
    ck_assert(isnan(nnr_gc_rel_err(NAN, 1.0, 0.1)));
}
END_TEST

START_TEST(reference_print_rows)
{
    toy t;
    toy_init(&t, TOY_N, TOY_ONE_ENTRY);
    nnr_gc_problem p = toy_problem(&t);
    nnr_gc_report r;
    ASSERT_OK(nnr_gradcheck(&p, NULL, &r));
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(f);
    nnr_gc_print_header(f);
    nnr_gc_print(f, "toy", "train", &r);
    fclose(f);
    /* header + one row per tensor */
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    ck_assert_uint_eq(lines, 3);
    ck_assert_ptr_nonnull(strstr(text, "max_rel_err"));
    char *row_x = strstr(text, "toy        train          x ");
    char *row_w = strstr(text, "toy        train          w ");
    ck_assert_ptr_nonnull(row_x);
    ck_assert_ptr_nonnull(row_w);
    ck_assert_ptr_nonnull(strstr(row_x, "[3]  FAIL (1 failed; at the worst: analytic"));
    ck_assert(strstr(row_w, "PASS") != NULL && strstr(row_w, "kinks") == NULL);
    free(text);
    toy_free(&t);
}
END_TEST

/* ---- errors ---------------------------------------------------------------- */

static void expect_error(const nnr_gc_problem *p, const nnr_gc_options *o, nnr_code code, const char *words)
{
    nnr_gc_report r;
    memset(&r, 0x5a, sizeof r);
    nnr_gc_report canary = r;
    nnr_status st = nnr_gradcheck(p, o, &r);
    ck_assert_msg(st.code == code, "expected code %d, got %d (%s)", (int)code, (int)st.code, nnr_strerror(&st));
    ck_assert_msg(strstr(nnr_strerror(&st), words) != NULL, "sentence \"%s\" does not name \"%s\"",
                  nnr_strerror(&st), words);
    ck_assert_msg(memcmp(&r, &canary, sizeof r) == 0, "report written on a rejected call");
}

START_TEST(errors_malformed_problem)
{
    toy t;
    toy_init(&t, TOY_N, TOY_CORRECT);
    const nnr_gc_problem good = toy_problem(&t);
    nnr_gc_problem p;
    nnr_gc_report r;

    expect_error(NULL, NULL, NNR_ERR_NULL, "problem is NULL");
    nnr_status st = nnr_gradcheck(&good, NULL, NULL);
    ck_assert_int_eq(st.code, NNR_ERR_NULL);
    ck_assert_ptr_nonnull(strstr(nnr_strerror(&st), "report"));

    p = good; p.forward = NULL;        expect_error(&p, NULL, NNR_ERR_NULL, "problem->forward");
    p = good; p.backward = NULL;       expect_error(&p, NULL, NNR_ERR_NULL, "problem->backward");
    p = good; p.out = NULL;            expect_error(&p, NULL, NNR_ERR_NULL, "problem->out");
    p = good; p.out_count = 0;         expect_error(&p, NULL, NNR_ERR_SHAPE, "problem->out_count");
    p = good; p.n_tensors = 0;         expect_error(&p, NULL, NNR_ERR_SHAPE, "problem->n_tensors");
    p = good; p.n_tensors = NNR_GC_MAX_TENSORS + 1;
    expect_error(&p, NULL, NNR_ERR_SHAPE, "problem->n_tensors");
    p = good; p.tensors[1].name = NULL;  expect_error(&p, NULL, NNR_ERR_NULL, "problem->tensors[1].name");
    p = good; p.tensors[0].value = NULL; expect_error(&p, NULL, NNR_ERR_NULL, "problem->tensors[0].value (x)");
    p = good; p.tensors[1].grad = NULL;  expect_error(&p, NULL, NNR_ERR_NULL, "problem->tensors[1].grad (w)");
    p = good; p.tensors[0].count = 0;    expect_error(&p, NULL, NNR_ERR_SHAPE, "problem->tensors[0].count (x)");
    /* Nothing ran. */
    ck_assert_uint_eq(t.forward_calls, 0);
    ck_assert_uint_eq(t.backward_calls, 0);
    ASSERT_OK(nnr_gradcheck(&good, NULL, &r));
    toy_free(&t);
}
END_TEST

START_TEST(errors_bad_options)
{
    toy t;
    toy_init(&t, TOY_N, TOY_CORRECT);
    const nnr_gc_problem p = toy_problem(&t);
    const nnr_gc_options good = nnr_gc_defaults();
    nnr_gc_options o;
    o = good; o.h = 0.0;        expect_error(&p, &o, NNR_ERR_PARAM, "options->h");
    o = good; o.h = -1e-5;      expect_error(&p, &o, NNR_ERR_PARAM, "options->h");
    o = good; o.h = NAN;        expect_error(&p, &o, NNR_ERR_PARAM, "options->h");
    o = good; o.h = INFINITY;   expect_error(&p, &o, NNR_ERR_PARAM, "options->h");
    o = good; o.atol = -1e-7;   expect_error(&p, &o, NNR_ERR_PARAM, "options->atol");
    o = good; o.atol = NAN;     expect_error(&p, &o, NNR_ERR_PARAM, "options->atol");
    o = good; o.rtol = -1e-6;   expect_error(&p, &o, NNR_ERR_PARAM, "options->rtol");
    o = good; o.rtol = NAN;     expect_error(&p, &o, NNR_ERR_PARAM, "options->rtol");
    o = good; o.kink_tol = 0.0; expect_error(&p, &o, NNR_ERR_PARAM, "options->kink_tol");
    o = good; o.kink_tol = -1;  expect_error(&p, &o, NNR_ERR_PARAM, "options->kink_tol");
    ck_assert_uint_eq(t.forward_calls, 0);
    toy_free(&t);
}
END_TEST

/* A failing forward or backward is passed on with its code and sentence, and
 * the perturbed entry is restored before the harness returns. */
START_TEST(errors_forward_backward_fail)
{
    toy t;
    toy_init(&t, TOY_N, TOY_FORWARD_FAILS);
    double *x_before = tu_alloc_d(TOY_N);
    memcpy(x_before, t.x, TOY_N * sizeof(double));
    nnr_gc_problem p = toy_problem(&t);
    /* Call 4 is the first forward of entry x[1], with x[1] perturbed. */
    expect_error(&p, NULL, NNR_ERR_UNSUPPORTED, "toy forward refuses call 4");
    ck_assert_int_eq(memcmp(x_before, t.x, TOY_N * sizeof(double)), 0);
    t.forward_calls = 0;
    expect_error(&p, NULL, NNR_ERR_UNSUPPORTED, "x[1] perturbed");
    ck_assert_int_eq(memcmp(x_before, t.x, TOY_N * sizeof(double)), 0);

    t.fault = TOY_BACKWARD_FAILS;
    expect_error(&p, NULL, NNR_ERR_PARAM, "toy backward was told to fail");
    expect_error(&p, NULL, NNR_ERR_PARAM, "backward failed");
    free(x_before);
    toy_free(&t);
}
END_TEST

/* The ready-made BatchNorm problem checks its own arguments. */
START_TEST(errors_batchnorm_problem)
{
    nnr_batchnorm_params bp = nnr_batchnorm_torch();
    nnr_shape shape = {2, {4, 3}};
    nnr_gc_report r;
    nnr_status st;

    st = nnr_gradcheck_batchnorm(NULL, &shape, NNR_BN_GC_TRAIN, 1, NULL, &r);
    ck_assert_int_eq(st.code, NNR_ERR_NULL);
    ck_assert_ptr_nonnull(strstr(nnr_strerror(&st), "params"));
    st = nnr_gradcheck_batchnorm(&bp, NULL, NNR_BN_GC_TRAIN, 1, NULL, &r);
    ck_assert_int_eq(st.code, NNR_ERR_NULL);
    ck_assert_ptr_nonnull(strstr(nnr_strerror(&st), "shape"));
    st = nnr_gradcheck_batchnorm(&bp, &shape, NNR_BN_GC_TRAIN, 1, NULL, NULL);
    ck_assert_int_eq(st.code, NNR_ERR_NULL);
    ck_assert_ptr_nonnull(strstr(nnr_strerror(&st), "report"));
    st = nnr_gradcheck_batchnorm(&bp, &shape, (nnr_bn_gc_pass)7, 1, NULL, &r);
    ck_assert_int_eq(st.code, NNR_ERR_PARAM);
    ck_assert_ptr_nonnull(strstr(nnr_strerror(&st), "pass"));

    /* Shape and parameter faults come from the BatchNorm checks. */
    nnr_shape rank1 = {1, {4}};
    st = nnr_gradcheck_batchnorm(&bp, &rank1, NNR_BN_GC_TRAIN, 1, NULL, &r);
    ck_assert_int_eq(st.code, NNR_ERR_SHAPE);
    nnr_batchnorm_params bad = bp;
    bad.epsilon = -1.0;
    st = nnr_gradcheck_batchnorm(&bad, &shape, NNR_BN_GC_TRAIN, 1, NULL, &r);
    ck_assert_int_eq(st.code, NNR_ERR_PARAM);
    ck_assert_ptr_nonnull(strstr(nnr_strerror(&st), "epsilon"));

    /* Bad options reach the harness' checks. */
    nnr_gc_options o = nnr_gc_defaults();
    o.h = -1.0;
    st = nnr_gradcheck_batchnorm(&bp, &shape, NNR_BN_GC_TRAIN, 1, &o, &r);
    ck_assert_int_eq(st.code, NNR_ERR_PARAM);
    ck_assert_ptr_nonnull(strstr(nnr_strerror(&st), "options->h"));

    /* Unclipped renorm cannot be checked by finite differences, and says why. */
    nnr_batchnorm_params rn = nnr_batchnorm_keras();
    rn.renorm = 1;                 /* Keras defaults: rmax = dmax = +inf */
    st = nnr_gradcheck_batchnorm(&rn, &shape, NNR_BN_GC_TRAIN, 1, NULL, &r);
    ck_assert_int_eq(st.code, NNR_ERR_PARAM);
    ck_assert_ptr_nonnull(strstr(nnr_strerror(&st), "finite rmax and dmax"));
    ck_assert_ptr_nonnull(strstr(nnr_strerror(&st), "stop-gradient"));
    rn.rmax = 3.0;                 /* dmax still infinite */
    st = nnr_gradcheck_batchnorm(&rn, &shape, NNR_BN_GC_TRAIN, 1, NULL, &r);
    ck_assert_int_eq(st.code, NNR_ERR_PARAM);
    /* rmax so large that r = sigma_B / sqrt(eps) stays below it, and rmin 0. */
    rn.rmax = 1e9;
    rn.dmax = 5.0;
    st = nnr_gradcheck_batchnorm(&rn, &shape, NNR_BN_GC_TRAIN, 1, NULL, &r);
    ck_assert_int_eq(st.code, NNR_ERR_PARAM);
    ck_assert_ptr_nonnull(strstr(nnr_strerror(&st), "cannot clip r"));
    /* ... but with rmin > 0 the problem clips r at rmin instead, and passes. */
    rn.rmin = 0.5;
    ASSERT_OK(nnr_gradcheck_batchnorm(&rn, &shape, NNR_BN_GC_TRAIN, 1, NULL, &r));
    ck_assert_int_eq(r.passed, 1);
}
END_TEST

static Suite *gradcheck_suite(void)
{
    Suite *s = suite_create("gradcheck");
    TCase *reference = tcase_create("reference");
    tcase_add_test(reference, reference_smooth_toy_passes);
    tcase_add_test(reference, reference_reproducible);
    tcase_add_test(reference, reference_off_by_1e4_fails);
    tcase_add_test(reference, reference_one_wrong_entry_is_worst);
    tcase_add_test(reference, reference_nondeterministic_backward);
    tcase_add_test(reference, reference_relu_kink_reported);
    tcase_add_test(reference, reference_sampling_exact_count);
    tcase_add_test(reference, reference_rel_err);
    tcase_add_test(reference, reference_print_rows);
    suite_add_tcase(s, reference);
    TCase *errors = tcase_create("errors");
    tcase_add_test(errors, errors_malformed_problem);
    tcase_add_test(errors, errors_bad_options);
    tcase_add_test(errors, errors_forward_backward_fail);
    tcase_add_test(errors, errors_batchnorm_problem);
    suite_add_tcase(s, errors);
    return s;
}

int main(void)
{
    return tu_run(gradcheck_suite()) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
