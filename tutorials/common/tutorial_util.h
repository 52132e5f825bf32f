/*
 * What every tutorial program shares: the --check tally that prints one TAP
 * line per assertion, the command line (--check, --datadir DIR), and the
 * small helpers that stop the program when a library call it relies on
 * fails. Header-only so each tutorial stays one program built from its own
 * directory; the functions are static inline, so a tutorial that does not
 * use one is not warned about it.
 *
 * Define TUTORIAL_NAME (the program's name, for error messages) before
 * including this header.
 */
#ifndef NNREF_TUTORIAL_UTIL_H
#define NNREF_TUTORIAL_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nnref.h"

#ifndef TUTORIAL_NAME
#error "define TUTORIAL_NAME before including tutorial_util.h"
#endif

/* Every variable visible in gdb, whatever CFLAGS configure was given: the
 * user's CFLAGS (-O2 by default) come after Makefile.am's -O0 on the compiler
 * line, so ask for -O0 here. Only the tutorial's own translation unit; the
 * library keeps its flags. */
#if defined(__clang__)
#pragma clang optimize off
#elif defined(__GNUC__)
#pragma GCC optimize("O0")
#endif

/* The --check mode's running tally; each assertion is one TAP line. */
typedef struct checks {
    int enabled;
    int count;
    int failed;
    int missing_data;   /* a part was skipped for want of a data set (not in --check mode) */
} checks;

/* Exit status of a run that skipped a part for want of a data set: Automake's
 * SKIP. `make tutorials` then keeps the committed transcript and figures of
 * the tutorial instead of overwriting them with an incomplete run's. */
#define TUTORIAL_SKIPPED 77

/* Asserts |got - want| <= tol; prints the TAP line only in --check mode. */
static inline void check_close(checks *ck, const char *what, double got, double want, double tol)
{
    if (!ck->enabled)
        return;
    const int pass = fabs(got - want) <= tol;   /* false for NaN */
    ck->count++;
    if (!pass)
        ck->failed++;
    printf("%s %d - %s: got %.17g, want %.17g, tolerance %.3g\n",
           pass ? "ok" : "not ok", ck->count, what, got, want, tol);
}

static inline void check_true(checks *ck, const char *what, int condition)
{
    if (!ck->enabled)
        return;
    ck->count++;
    if (!condition)
        ck->failed++;
    printf("%s %d - %s\n", condition ? "ok" : "not ok", ck->count, what);
}

/* A check that cannot run here (no data set): a TAP skip, not a pass. */
static inline void check_skip(checks *ck, const char *what, const char *reason)
{
    if (!ck->enabled)
        return;
    ck->count++;
    printf("ok %d - %s # SKIP %s\n", ck->count, what, reason);
}

/* Where Fashion-MNIST is read from: the directory named by the environment
 * variable NNREF_FASHION_MNIST_DIR when it is set and not empty (a copy of
 * the four files elsewhere; an empty directory shows what happens without
 * the data set), else the Debian package's, NNR_FASHION_MNIST_DIR. Writes
 * the path of `file` in it into buf and returns buf. */
static inline const char *fashion_mnist_path(char *buf, size_t size, const char *file)
{
    const char *dir = getenv("NNREF_FASHION_MNIST_DIR");
    snprintf(buf, size, "%s/%s", dir != NULL && dir[0] != '\0' ? dir : NNR_FASHION_MNIST_DIR, file);
    return buf;
}

/* 1 if the Fashion-MNIST file `file` is there. If not, the part `what` that
 * needs it is skipped: in --check mode as a TAP skip, so that make check goes
 * on; otherwise with the reason and the install command on stderr (the
 * transcript on stdout stays free of it), and tutorial_finish() returns
 * TUTORIAL_SKIPPED. */
static inline int fashion_mnist_found(checks *ck, const char *file, const char *what)
{
    char path[4096];
    FILE *probe = fopen(fashion_mnist_path(path, sizeof path, file), "rb");
    if (probe != NULL) {
        fclose(probe);
        return 1;
    }
    if (ck->enabled) {
        printf("  skipped: %s is absent (apt-get install dataset-fashion-mnist)\n", path);
        check_skip(ck, what, "data set not installed");
    } else {
        fprintf(stderr, TUTORIAL_NAME ": skipped %s: %s is absent.\n"
                "  Install the data set with:  sudo apt-get install dataset-fashion-mnist\n"
                "  (or set NNREF_FASHION_MNIST_DIR to a directory holding its four files)\n", what, path);
        ck->missing_data = 1;
    }
    return 0;
}

/* A library call that fails here is a bug in the tutorial: say why and stop. */
static inline void must(nnr_status st, const char *call)
{
    if (st.code != NNR_OK) {
        fprintf(stderr, TUTORIAL_NAME ": %s failed: %s\n", call, nnr_strerror(&st));
        exit(EXIT_FAILURE);
    }
}

static inline void *must_alloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL) {
        fprintf(stderr, TUTORIAL_NAME ": out of memory\n");
        exit(EXIT_FAILURE);
    }
    return p;
}

static inline FILE *open_data_file(const char *datadir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", datadir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        perror(path);
        exit(EXIT_FAILURE);
    }
    return f;
}

static inline double max_abs_diff(const double *a, const double *b, size_t n)
{
    double worst = 0.0;
    for (size_t i = 0; i < n; i++)
        worst = fmax(worst, fabs(a[i] - b[i]));
    return worst;
}

/* --check turns the tally on; --datadir DIR is where the figures' data files
 * go (NULL: none written). Anything else prints the usage and exits 2. */
static inline void tutorial_parse_args(int argc, char **argv, checks *ck, const char **datadir)
{
    *ck = (checks){ 0, 0, 0, 0 };
    *datadir = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--check") == 0)
            ck->enabled = 1;
        else if (strcmp(argv[i], "--datadir") == 0 && i + 1 < argc)
            *datadir = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--check] [--datadir DIR]\n", argv[0]);
            exit(2);
        }
    }
}

/* The TAP plan and a summary line in --check mode; the exit status:
 * failure, TUTORIAL_SKIPPED when a part lacked its data set, or success. */
static inline int tutorial_finish(const checks *ck)
{
    if (ck->enabled) {
        printf("1..%d\n", ck->count);
        printf("# tutorial checks: %d passed, %d failed\n", ck->count - ck->failed, ck->failed);
    }
    if (ck->failed != 0)
        return EXIT_FAILURE;
    return ck->missing_data ? TUTORIAL_SKIPPED : EXIT_SUCCESS;
}

#endif /* NNREF_TUTORIAL_UTIL_H */
