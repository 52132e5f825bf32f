/*
 * nnref bench: how fast the kernels are, judged against what this machine's
 * memory can deliver.
 *
 * BatchNorm is memory bound: a forward pass reads x and writes y and does a
 * handful of flops per element. So the yardstick is not the naive kernel but
 * STREAM triad (a[i] = b[i] + s*c[i], McCalpin), measured in the same run on
 * arrays far larger than the last-level cache. Each kernel's bandwidth counts
 * only the compulsory traffic (every tensor it must read or write, once):
 *   fwd_train, fwd_infer: read x, write y               2 tensors
 *   fwd+bwd train:        fwd (x, y) + bwd (x, dy, dx)  5 tensors
 * A kernel that reads x twice pays for it in time, not in counted bytes.
 *
 * Honesty rule. A 25 MB tensor fits in a 100 MB L3, so calling a kernel again
 * on the same buffers would time the cache, not DRAM. For the large shape each
 * timed call therefore takes the next buffer set from a pool whose touched
 * bytes exceed twice the L3 size, so that every call streams from DRAM as
 * triad does. The small shape is meant to be cache resident: it reuses one
 * buffer set, and the output says so.
 */
#include "config.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef NNR_USE_OPENMP
#include <omp.h>
#endif
#include "nnref.h"
#include "cli.h"

static void print_help(void)
{
    printf("Usage: nnref bench [LAYER...] [--threads N] [--layout nchw|nhwc] [--csv]\n"
           "                   [--reps K] [--small-only]\n"
           "\n"
           "Measures STREAM triad (float arrays totalling at least 4 x L3 and 400 MB),\n"
           "then times the naive and (when this CPU has AVX2+FMA) AVX2 kernels:\n"
           "fwd_train, fwd_infer and fwd+bwd train, on 32x64x56x56 (nchw: axis 1 of\n"
           "(32,64,56,56); nhwc: axis -1 of (32,56,56,64)) and on the cache-resident\n"
           "8x16x14x14. Reports the best time per call (and the median), GB/s of\n"
           "compulsory traffic, and the percentage of triad.\n"
           "LayerNorm and RMSNorm: forward and forward+backward over the last axis of\n"
           "8192x768 (PyTorch presets) and the cache-resident 64x768.\n"
           "GroupNorm: GroupNorm(32) forward and forward+backward on 32x64x56x56 and\n"
           "the cache-resident 8x64x14x14, nchw (PyTorch preset) and nhwc (Keras axis);\n"
           "InstanceNorm: the same with one group per channel.\n"
           "MaxPool and AvgPool: 2x2 windows, stride 2, forward (max with argmax, as in\n"
           "training) and forward+backward on 32x64x56x56 and the cache-resident 8x64x14x14.\n"
           "Layers: batchnorm, layernorm, rmsnorm, groupnorm, instancenorm, maxpool, avgpool\n"
           "(default: all).\n"
           "\n"
           "Options:\n"
           "  --threads N        OpenMP threads for triad and kernels (default 1;\n"
           "                     more than 1 needs a build with --enable-openmp)\n"
           "  --layout L         nchw or nhwc only (default both)\n"
           "  --csv              print kernel,impl,shape,layout,threads,ms,gbps,pct_triad\n"
           "  --reps K           timed repetitions per kernel (default 15 AVX2; naive, whose\n"
           "                     channels_last kernel takes seconds per call, 3 large and 7 small)\n"
           "  --small-only       skip the 32x64x56x56 shape\n");
}

/* ---- Options -------------------------------------------------------------- */

enum { LAYOUT_NCHW = 1, LAYOUT_NHWC = 2 };

typedef struct bench_options {
    unsigned long threads;
    int layouts;          /* LAYOUT_* bits */
    int csv;
    unsigned long reps;   /* 0: the defaults */
    int small_only;
    const char *layers[16];   /* layers named on the command line; none: every layer */
    size_t n_layers;
} bench_options;

/* 1 if the command line asked for @p layer (or named no layer at all). */
static int bench_wants(const bench_options *o, const char *layer)
{
    if (o->n_layers == 0)
        return 1;
    for (size_t i = 0; i < o->n_layers; i++)
        if (strcmp(o->layers[i], layer) == 0)
            return 1;
    return 0;
}

/* Value of option argv[*i]: "--opt=value" or the next word. NULL if missing. */
static const char *option_value(int argc, char **argv, int *i, const char *name)
{
    size_t len = strlen(name);
    if (argv[*i][len] == '=')
        return argv[*i] + len + 1;
    if (*i + 1 >= argc)
        return NULL;
    return argv[++*i];
}

/* 1 if argv word is exactly `name` or `name=...`. */
static int is_option(const char *word, const char *name)
{
    size_t len = strlen(name);
    return strncmp(word, name, len) == 0 && (word[len] == '\0' || word[len] == '=');
}

static int parse_options(int argc, char **argv, bench_options *o, int *help)
{
    *o = (bench_options){.threads = 1, .layouts = LAYOUT_NCHW | LAYOUT_NHWC};
    *help = 0;
    for (int i = 1; i < argc; i++) {
        const char *w = argv[i];
        if (nnr_is_help(w)) {
            *help = 1;
            return NNR_EXIT_OK;
        }
        if (is_option(w, "--threads")) {
            const char *v = option_value(argc, argv, &i, "--threads");
            if (v == NULL)
                return nnr_usage_error("bench", "--threads needs a value, a thread count of at least 1.");
            if (!nnr_parse_count(v, 1, 4096, &o->threads))
                return nnr_usage_error("bench", "--threads '%s' is not a thread count from 1 to 4096.", v);
#ifndef NNR_USE_OPENMP
            if (o->threads > 1)
                return nnr_usage_error("bench",
                                       "--threads %lu: this nnref was built without OpenMP "
                                       "(configure --enable-openmp), so it runs 1 thread only.",
                                       o->threads);
#endif
        } else if (is_option(w, "--layout")) {
            const char *v = option_value(argc, argv, &i, "--layout");
            if (v == NULL)
                return nnr_usage_error("bench", "--layout needs a value, nchw or nhwc.");
            if (strcmp(v, "nchw") == 0)
                o->layouts = LAYOUT_NCHW;
            else if (strcmp(v, "nhwc") == 0)
                o->layouts = LAYOUT_NHWC;
            else
                return nnr_usage_error("bench", "--layout '%s' is not a layout; use nchw or nhwc.", v);
        } else if (is_option(w, "--reps")) {
            const char *v = option_value(argc, argv, &i, "--reps");
            if (v == NULL)
                return nnr_usage_error("bench", "--reps needs a value, a repetition count of at least 1.");
            if (!nnr_parse_count(v, 1, 100000, &o->reps))
                return nnr_usage_error("bench", "--reps '%s' is not a repetition count from 1 to 100000.", v);
        } else if (strcmp(w, "--csv") == 0) {
            o->csv = 1;
        } else if (strcmp(w, "--small-only") == 0) {
            o->small_only = 1;
        } else if (w[0] == '-') {
            return nnr_usage_error("bench", "unknown option '%s'.", w);
        } else if (!nnr_layer_known(w)) {
            return nnr_usage_error("bench",
                                   "unknown layer '%s'; the layers are: batchnorm, layernorm, rmsnorm, groupnorm, "
                                   "instancenorm, maxpool, avgpool.", w);
        } else if (o->n_layers < sizeof o->layers / sizeof o->layers[0]) {
            o->layers[o->n_layers++] = w;
        }
    }
    return NNR_EXIT_OK;
}

/* ---- Timing and memory ---------------------------------------------------- */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Page-aligned floats, so that no two buffers share a page or a cache line. */
static float *alloc_floats(size_t count)
{
    const size_t align = 4096;
    size_t bytes;
    if (!nnr_size_mul(count, sizeof(float), &bytes) || bytes > SIZE_MAX - align)
        return NULL;
    bytes = (bytes + align - 1) / align * align;
    return aligned_alloc(align, bytes);
}

/*
 * Writes every element (so every page is mapped before timing) with values of
 * order 1 that differ from element to element; the values' only role is to be
 * ordinary floats (no denormals, no NaN).
 */
static void fill_pattern(float *p, size_t count, uint32_t salt)
{
#ifdef NNR_USE_OPENMP
#pragma omp parallel for schedule(static)
#endif
    for (size_t i = 0; i < count; i++)
        p[i] = (float)(((uint32_t)i * 2654435761u + salt) >> 20) * (1.0f / 4096.0f) - 0.5f;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Best and median of n samples (sorts them). */
static void best_and_median(double *samples, size_t n, double *best, double *median)
{
    qsort(samples, n, sizeof *samples, compare_double);
    *best = samples[0];
    *median = n % 2 ? samples[n / 2] : 0.5 * (samples[n / 2 - 1] + samples[n / 2]);
}

/* Keeps results observable so the compiler cannot drop the timed stores. */
static volatile float bench_sink;

/* ---- STREAM triad --------------------------------------------------------- */

typedef struct triad_result {
    size_t n;           /* elements per array */
    double best_s;
    double gbps;
} triad_result;

/* Best of 10: on a shared machine the minimum needs several chances to find a quiet moment. */
enum { TRIAD_REPS = 10 };

/* a[i] = b[i] + s*c[i] over three arrays totalling `total_bytes`; best of TRIAD_REPS. */
static int run_triad(size_t total_bytes, triad_result *r)
{
    size_t n = total_bytes / (3 * sizeof(float)) + 1;
    float *a = alloc_floats(n), *b = alloc_floats(n), *c = alloc_floats(n);
    if (a == NULL || b == NULL || c == NULL) {
        fprintf(stderr, "nnref bench: cannot allocate the triad arrays (3 x %zu floats).\n", n);
        free(a);
        free(b);
        free(c);
        return NNR_EXIT_FAIL;
    }
    fill_pattern(a, n, 1);
    fill_pattern(b, n, 2);
    fill_pattern(c, n, 3);
    const float s = 3.0f;
    double best = 1e30;
    for (int rep = 0; rep < TRIAD_REPS + 1; rep++) {   /* rep 0 is the warm-up */
        double t0 = now_seconds();
#ifdef NNR_USE_OPENMP
#pragma omp parallel for schedule(static)
#endif
        for (size_t i = 0; i < n; i++)
            a[i] = b[i] + s * c[i];
        double t = now_seconds() - t0;
        if (rep > 0 && t < best)
            best = t;
    }
    bench_sink = a[n / 2] + a[n - 1];
    free(a);
    free(b);
    free(c);
    r->n = n;
    r->best_s = best;
    /* STREAM's convention: two arrays read and one written, no write-allocate counted. */
    r->gbps = 3.0 * (double)n * sizeof(float) / best / 1e9;
    return NNR_EXIT_OK;
}

/* ---- BatchNorm ------------------------------------------------------------ */

/* One implementation's kernels, called by their explicit names. */
typedef struct bn_impl {
    const char *name;
    nnr_batchnorm_fwd_train_fn fwd_train;
    nnr_batchnorm_fwd_infer_fn fwd_infer;
    nnr_batchnorm_bwd_train_fn bwd_train;
    unsigned long reps_large;   /* default timed calls on the DRAM-sized shape */
    unsigned long reps_small;   /* default timed samples on the cache-resident shape */
} bn_impl;

typedef enum bn_pass { PASS_FWD_TRAIN, PASS_FWD_INFER, PASS_FWD_BWD_TRAIN, PASS_COUNT } bn_pass;

static const struct {
    const char *kernel;
    int tensors_counted;  /* compulsory tensor passes for GB/s */
    int buffers_touched;  /* distinct big buffers the call streams: sizes the pool */
} pass_info[PASS_COUNT] = {
    [PASS_FWD_TRAIN] = {"batchnorm_fwd_train", 2, 2},
    [PASS_FWD_INFER] = {"batchnorm_fwd_infer", 2, 2},
    [PASS_FWD_BWD_TRAIN] = {"batchnorm_fwd_bwd_train", 5, 4},
};

/* The big tensors of one call. */
typedef struct bn_buffers {
    float *x, *y, *dy, *dx;
} bn_buffers;

/* Per-channel arrays shared by every buffer set: they are C floats, always cached. */
typedef struct bn_small {
    float *gamma, *beta, *dgamma, *dbeta, *mean, *istd, *running_mean, *running_var;
    nnr_batchnorm_cache cache;
    nnr_batchnorm_state state;
} bn_small;

typedef struct bn_pool {
    bn_buffers *sets;
    size_t n_sets;
    size_t numel;
} bn_pool;

static void pool_free(bn_pool *pool)
{
    for (size_t s = 0; s < pool->n_sets; s++) {
        free(pool->sets[s].x);
        free(pool->sets[s].y);
        free(pool->sets[s].dy);
        free(pool->sets[s].dx);
    }
    free(pool->sets);
    *pool = (bn_pool){0};
}

static int pool_alloc(bn_pool *pool, size_t n_sets, size_t numel)
{
    *pool = (bn_pool){0};
    pool->sets = calloc(n_sets, sizeof *pool->sets);
    if (pool->sets == NULL)
        return 0;
    pool->n_sets = n_sets;
    pool->numel = numel;
    for (size_t s = 0; s < n_sets; s++) {
        bn_buffers *b = &pool->sets[s];
        b->x = alloc_floats(numel);
        b->y = alloc_floats(numel);
        b->dy = alloc_floats(numel);
        b->dx = alloc_floats(numel);
        if (b->x == NULL || b->y == NULL || b->dy == NULL || b->dx == NULL) {
            pool_free(pool);
            return 0;
        }
        fill_pattern(b->x, numel, 11u + (uint32_t)s);
        fill_pattern(b->y, numel, 0);
        fill_pattern(b->dy, numel, 101u + (uint32_t)s);
        fill_pattern(b->dx, numel, 0);
    }
    return 1;
}

static void small_free(bn_small *s)
{
    free(s->gamma);
    free(s->beta);
    free(s->dgamma);
    free(s->dbeta);
    free(s->mean);
    free(s->istd);
    free(s->running_mean);
    free(s->running_var);
    *s = (bn_small){0};
}

static int small_alloc(bn_small *s, size_t channels, size_t cache_len)
{
    *s = (bn_small){0};
    s->gamma = alloc_floats(channels);
    s->beta = alloc_floats(channels);
    s->dgamma = alloc_floats(channels);
    s->dbeta = alloc_floats(channels);
    s->running_mean = alloc_floats(channels);
    s->running_var = alloc_floats(channels);
    s->mean = alloc_floats(cache_len);
    s->istd = alloc_floats(cache_len);
    if (!s->gamma || !s->beta || !s->dgamma || !s->dbeta || !s->running_mean || !s->running_var || !s->mean
        || !s->istd) {
        small_free(s);
        return 0;
    }
    for (size_t c = 0; c < channels; c++) {
        s->gamma[c] = 1.0f + 0.01f * (float)c;
        s->beta[c] = 0.1f;
    }
    s->cache = (nnr_batchnorm_cache){.mean = s->mean, .istd = s->istd};
    s->state = (nnr_batchnorm_state){.running_mean = s->running_mean, .running_var = s->running_var};
    nnr_status st = nnr_batchnorm_state_init(&s->state, channels);
    if (st.code != NNR_OK) {
        small_free(s);
        return 0;
    }
    return 1;
}

static nnr_status run_pass(const bn_impl *impl, bn_pass pass, const nnr_batchnorm_params *p,
                           const nnr_shape *shape, const bn_buffers *b, bn_small *s)
{
    nnr_status st;
    switch (pass) {
    case PASS_FWD_TRAIN:
        return impl->fwd_train(p, shape, b->x, s->gamma, s->beta, b->y, &s->cache, &s->state);
    case PASS_FWD_INFER:
        return impl->fwd_infer(p, shape, b->x, s->gamma, s->beta, b->y, &s->state);
    case PASS_FWD_BWD_TRAIN:
        st = impl->fwd_train(p, shape, b->x, s->gamma, s->beta, b->y, &s->cache, &s->state);
        if (st.code != NNR_OK)
            return st;
        return impl->bwd_train(p, shape, b->x, s->gamma, &s->cache, b->dy, b->dx, s->dgamma, s->dbeta);
    default:
        return nnr_error(NNR_ERR_PARAM, "pass %d is not a benchmark pass", (int)pass);
    }
}

/* One row of results. */
typedef struct bench_row {
    const char *kernel, *impl, *layout;
    char shape[64];
    double best_ms, median_ms, gbps, pct_triad;
} bench_row;

typedef struct bench_ctx {
    const bench_options *opt;
    double triad_gbps;
    int header_printed;
} bench_ctx;

static void print_row(bench_ctx *ctx, const bench_row *r)
{
    if (ctx->opt->csv) {
        printf("%s,%s,%s,%s,%lu,%.6f,%.2f,%.1f\n", r->kernel, r->impl, r->shape, r->layout, ctx->opt->threads,
               r->best_ms, r->gbps, r->pct_triad);
    } else {
        printf("%-24s %-6s %-12s %-6s %7lu %10.3f %10.3f %8.2f %7.1f\n", r->kernel, r->impl, r->shape,
               r->layout, ctx->opt->threads, r->best_ms, r->median_ms, r->gbps, r->pct_triad);
    }
    fflush(stdout);
}

static void print_table_header(bench_ctx *ctx)
{
    if (ctx->opt->csv || ctx->header_printed)
        return;
    printf("%-24s %-6s %-12s %-6s %7s %10s %10s %8s %7s\n", "kernel", "impl", "shape", "layout", "threads",
           "best_ms", "median_ms", "GB/s", "%triad");
    ctx->header_printed = 1;
}

/* "32x64x56x56" */
static void format_shape(const nnr_shape *shape, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t d = 0; d < shape->rank && used < size; d++)
        used += (size_t)snprintf(out + used, size - used, d ? "x%zu" : "%zu", shape->dims[d]);
}

/* One kernel invocation on buffer set b; arg holds everything else it needs. */
typedef nnr_status (*bench_call_fn)(const void *arg, const bn_buffers *b);

/* What time_kernel times and how to label it. */
typedef struct timed_kernel {
    const char *kernel, *impl;
    double tensors_counted;     /* compulsory tensor passes for GB/s (x-sized; pooling's y is a fraction) */
    unsigned long reps;         /* timed samples unless --reps says otherwise */
    bench_call_fn call;
    const void *arg;
} timed_kernel;

/*
 * Times one kernel on a shape. With more than one buffer set, the warm-up
 * uses set 0 and timed call r set (r + 1) mod n_sets, so each call finds its
 * buffers evicted by the others; with one set, each sample is `inner`
 * back-to-back calls long enough to time reliably.
 */
static int time_kernel(bench_ctx *ctx, const timed_kernel *k, const nnr_shape *shape, const char *layout,
                       const bn_pool *pool, size_t n_sets)
{
    unsigned long reps = ctx->opt->reps ? ctx->opt->reps : k->reps;
    double *samples = malloc(reps * sizeof *samples);
    if (samples == NULL) {
        fprintf(stderr, "nnref bench: cannot allocate %lu timing samples.\n", reps);
        return NNR_EXIT_FAIL;
    }

    /* Warm-up (page tables, code, branch predictors), and the call count per sample. */
    double t0 = now_seconds();
    nnr_status st = k->call(k->arg, &pool->sets[0]);
    double once = now_seconds() - t0;
    unsigned long inner = 1;
    if (n_sets == 1 && st.code == NNR_OK) {
        const double min_sample_s = 2e-3;
        inner = once > 0 && once < min_sample_s ? (unsigned long)(min_sample_s / once) + 1 : 1;
    }

    for (unsigned long r = 0; r < reps && st.code == NNR_OK; r++) {
        const bn_buffers *b = &pool->sets[(r + 1) % n_sets];
        t0 = now_seconds();
        for (unsigned long i = 0; i < inner && st.code == NNR_OK; i++)
            st = k->call(k->arg, b);
        samples[r] = (now_seconds() - t0) / (double)inner;
    }
    if (st.code != NNR_OK) {
        fprintf(stderr, "nnref bench: %s %s failed: %s\n", k->kernel, k->impl, nnr_strerror(&st));
        free(samples);
        return NNR_EXIT_FAIL;
    }
    bench_sink = pool->sets[0].y[0] + pool->sets[0].dx[0];

    bench_row row = {.kernel = k->kernel, .impl = k->impl, .layout = layout};
    format_shape(shape, row.shape, sizeof row.shape);
    double best_s, median_s;
    best_and_median(samples, reps, &best_s, &median_s);
    free(samples);
    row.best_ms = best_s * 1e3;
    row.median_ms = median_s * 1e3;
    row.gbps = k->tensors_counted * (double)pool->numel * sizeof(float) / best_s / 1e9;
    row.pct_triad = 100.0 * row.gbps / ctx->triad_gbps;
    print_row(ctx, &row);
    return NNR_EXIT_OK;
}

/* A BatchNorm pass as a bench_call_fn. */
typedef struct bn_call_args {
    const bn_impl *impl;
    bn_pass pass;
    const nnr_batchnorm_params *p;
    const nnr_shape *shape;
    bn_small *s;
} bn_call_args;

static nnr_status bn_call(const void *arg, const bn_buffers *b)
{
    const bn_call_args *a = arg;
    return run_pass(a->impl, a->pass, a->p, a->shape, b, a->s);
}

static int time_pass(bench_ctx *ctx, const bn_impl *impl, bn_pass pass, const nnr_batchnorm_params *p,
                     const nnr_shape *shape, const char *layout, const bn_pool *pool, size_t n_sets,
                     bn_small *s)
{
    const bn_call_args args = {impl, pass, p, shape, s};
    const timed_kernel k = {pass_info[pass].kernel, impl->name, pass_info[pass].tensors_counted,
                            n_sets > 1 ? impl->reps_large : impl->reps_small, bn_call, &args};
    return time_kernel(ctx, &k, shape, layout, pool, n_sets);
}

/* The implementations this binary and CPU can time. */
static size_t list_impls(bn_impl impls[2])
{
    size_t n = 0;
    impls[n++] = (bn_impl){"naive", nnr_batchnorm_fwd_train_naive, nnr_batchnorm_fwd_infer_naive,
                           nnr_batchnorm_bwd_train_naive, 3, 7};
#ifdef NNR_HAVE_AVX2_BUILD
    if (nnr_avx2_usable())
        impls[n++] = (bn_impl){"avx2", nnr_batchnorm_fwd_train_avx2, nnr_batchnorm_fwd_infer_avx2,
                               nnr_batchnorm_bwd_train_avx2, 15, 15};
#endif
    return n;
}

/* Shape of a (n, c, h, w) problem in a layout: nchw axis 1, nhwc axis -1. */
static void layout_shape(int layout, const size_t nchw[4], nnr_shape *shape, nnr_batchnorm_params *p)
{
    *p = nnr_batchnorm_torch();
    if (layout == LAYOUT_NCHW) {
        *shape = (nnr_shape){4, {nchw[0], nchw[1], nchw[2], nchw[3]}};
        p->axis = 1;
    } else {
        *shape = (nnr_shape){4, {nchw[0], nchw[2], nchw[3], nchw[1]}};
        p->axis = -1;
    }
}

/*
 * Benchmarks one (n, c, h, w) problem in each requested layout. `large`
 * selects the rotating pool; otherwise one buffer set is reused.
 */
static int bench_shape(bench_ctx *ctx, const size_t nchw[4], int large, size_t l3_bytes)
{
    size_t numel = nchw[0] * nchw[1] * nchw[2] * nchw[3];
    size_t tensor_bytes = numel * sizeof(float);
    bn_impl impls[2];
    size_t n_impls = list_impls(impls);

    /* Sets per pass: enough that the buffers one pass touches exceed 2 x L3. */
    size_t sets_for_pass[PASS_COUNT], max_sets = 1;
    for (int k = 0; k < PASS_COUNT; k++) {
        size_t per_set = (size_t)pass_info[k].buffers_touched * tensor_bytes;
        sets_for_pass[k] = large ? 2 * l3_bytes / per_set + 1 : 1;
        if (sets_for_pass[k] < (large ? 2u : 1u))
            sets_for_pass[k] = large ? 2 : 1;
        if (sets_for_pass[k] > max_sets)
            max_sets = sets_for_pass[k];
    }

    bn_pool pool;
    if (!pool_alloc(&pool, max_sets, numel)) {
        fprintf(stderr, "nnref bench: cannot allocate %zu buffer sets of 4 x %zu floats.\n", max_sets, numel);
        return NNR_EXIT_FAIL;
    }
    if (!ctx->opt->csv) {
        if (large)
            printf("\n%zux%zux%zux%zu: %.1f MB per tensor; each timed call takes the next of %zu (fwd) or %zu "
                   "(fwd+bwd) buffer sets, %.0f and %.0f MB touched > 2 x L3 = %.0f MB, so every call "
                   "streams from DRAM.\n",
                   nchw[0], nchw[1], nchw[2], nchw[3], tensor_bytes / 1e6, sets_for_pass[PASS_FWD_TRAIN],
                   sets_for_pass[PASS_FWD_BWD_TRAIN],
                   sets_for_pass[PASS_FWD_TRAIN] * 2.0 * tensor_bytes / 1e6,
                   sets_for_pass[PASS_FWD_BWD_TRAIN] * 4.0 * tensor_bytes / 1e6, 2.0 * l3_bytes / 1e6);
        else
            printf("\n%zux%zux%zux%zu: %.2f MB per tensor, one buffer set reused: CACHE RESIDENT by design, "
                   "so %%triad can exceed 100.\n",
                   nchw[0], nchw[1], nchw[2], nchw[3], tensor_bytes / 1e6);
        ctx->header_printed = 0;
        print_table_header(ctx);
    }

    int status = NNR_EXIT_OK;
    static const int layouts[] = {LAYOUT_NCHW, LAYOUT_NHWC};
    for (size_t l = 0; l < 2 && status == NNR_EXIT_OK; l++) {
        if (!(ctx->opt->layouts & layouts[l]))
            continue;
        nnr_shape shape;
        nnr_batchnorm_params p;
        layout_shape(layouts[l], nchw, &shape, &p);
        size_t channels = 0, cache_len = 0;
        nnr_status st = nnr_batchnorm_sizes(&p, &shape, &channels, &cache_len);
        bn_small small;
        if (st.code != NNR_OK) {
            fprintf(stderr, "nnref bench: %s\n", nnr_strerror(&st));
            status = NNR_EXIT_FAIL;
            break;
        }
        if (!small_alloc(&small, channels, cache_len)) {
            fprintf(stderr, "nnref bench: cannot allocate the per-channel arrays.\n");
            status = NNR_EXIT_FAIL;
            break;
        }
        const char *layout_name = layouts[l] == LAYOUT_NCHW ? "nchw" : "nhwc";
        for (size_t i = 0; i < n_impls && status == NNR_EXIT_OK; i++)
            for (int k = 0; k < PASS_COUNT && status == NNR_EXIT_OK; k++)
                status = time_pass(ctx, &impls[i], (bn_pass)k, &p, &shape, layout_name, &pool,
                                   sets_for_pass[k], &small);
        small_free(&small);
    }
    pool_free(&pool);
    return status;
}

/* ---- LayerNorm and RMSNorm ------------------------------------------------ */

/* Both layers' kernels of one implementation, called by their explicit names. */
typedef struct ln_impl {
    const char *name;
    nnr_layernorm_fwd_fn fwd;
    nnr_layernorm_bwd_fn bwd;
    nnr_rmsnorm_fwd_fn rms_fwd;
    nnr_rmsnorm_bwd_fn rms_bwd;
    unsigned long reps_large, reps_small;
} ln_impl;

typedef enum ln_pass { LN_FWD, LN_FWD_BWD, RMS_FWD, RMS_FWD_BWD, LN_PASS_COUNT } ln_pass;

static const struct {
    const char *kernel, *layer;
    int tensors_counted;  /* compulsory tensor passes for GB/s: fwd x, y; fwd+bwd also x, dy, dx */
    int buffers_touched;  /* distinct big buffers the call streams: sizes the pool */
} ln_pass_info[LN_PASS_COUNT] = {
    [LN_FWD] = {"layernorm_fwd", "layernorm", 2, 2},
    [LN_FWD_BWD] = {"layernorm_fwd_bwd", "layernorm", 5, 4},
    [RMS_FWD] = {"rmsnorm_fwd", "rmsnorm", 2, 2},
    [RMS_FWD_BWD] = {"rmsnorm_fwd_bwd", "rmsnorm", 5, 4},
};

/* Per-row and per-element arrays shared by every buffer set (D and rows floats: cached). */
typedef struct ln_small {
    const ln_impl *impl;
    ln_pass pass;
    nnr_shape shape;
    nnr_layernorm_params lp;
    nnr_rmsnorm_params rp;
    float *gamma, *beta, *dgamma, *dbeta, *mean, *istd;
} ln_small;

static nnr_status ln_call(const void *arg, const bn_buffers *b)
{
    const ln_small *s = arg;
    const nnr_layernorm_cache cache = {s->mean, s->istd};
    const nnr_rmsnorm_cache rcache = {s->istd};
    nnr_status st;
    switch (s->pass) {
    case LN_FWD:
        return s->impl->fwd(&s->lp, &s->shape, b->x, s->gamma, s->beta, b->y, &cache);
    case LN_FWD_BWD:
        st = s->impl->fwd(&s->lp, &s->shape, b->x, s->gamma, s->beta, b->y, &cache);
        if (st.code != NNR_OK)
            return st;
        return s->impl->bwd(&s->lp, &s->shape, b->x, s->gamma, &cache, b->dy, b->dx, s->dgamma, s->dbeta);
    case RMS_FWD:
        return s->impl->rms_fwd(&s->rp, &s->shape, b->x, s->gamma, b->y, &rcache);
    case RMS_FWD_BWD:
        st = s->impl->rms_fwd(&s->rp, &s->shape, b->x, s->gamma, b->y, &rcache);
        if (st.code != NNR_OK)
            return st;
        return s->impl->rms_bwd(&s->rp, &s->shape, b->x, s->gamma, &rcache, b->dy, b->dx, s->dgamma);
    default:
        return nnr_error(NNR_ERR_PARAM, "pass %d is not a LayerNorm benchmark pass", (int)s->pass);
    }
}

/* rows x D, normalized over the last axis; `large` selects the rotating pool. */
static int bench_ln_shape(bench_ctx *ctx, size_t rows, size_t D, int large, size_t l3_bytes)
{
    const size_t numel = rows * D, tensor_bytes = numel * sizeof(float);
    ln_impl impls[2];
    size_t n_impls = 0;
    impls[n_impls++] = (ln_impl){"naive", nnr_layernorm_fwd_naive, nnr_layernorm_bwd_naive, nnr_rmsnorm_fwd_naive,
                                 nnr_rmsnorm_bwd_naive, 5, 7};
#ifdef NNR_HAVE_AVX2_BUILD
    if (nnr_avx2_usable())
        impls[n_impls++] = (ln_impl){"avx2", nnr_layernorm_fwd_avx2, nnr_layernorm_bwd_avx2, nnr_rmsnorm_fwd_avx2,
                                     nnr_rmsnorm_bwd_avx2, 15, 15};
#endif
    /* Sets per pass: enough that the buffers one pass touches exceed 2 x L3. */
    size_t sets_for_pass[LN_PASS_COUNT], max_sets = 1;
    for (int k = 0; k < LN_PASS_COUNT; k++) {
        const size_t per_set = (size_t)ln_pass_info[k].buffers_touched * tensor_bytes;
        sets_for_pass[k] = large ? 2 * l3_bytes / per_set + 1 : 1;
        if (large && sets_for_pass[k] < 2)
            sets_for_pass[k] = 2;
        if (sets_for_pass[k] > max_sets)
            max_sets = sets_for_pass[k];
    }
    bn_pool pool;
    if (!pool_alloc(&pool, max_sets, numel)) {
        fprintf(stderr, "nnref bench: cannot allocate %zu buffer sets of 4 x %zu floats.\n", max_sets, numel);
        return NNR_EXIT_FAIL;
    }
    ln_small s = {0};
    s.shape = (nnr_shape){2, {rows, D}};
    s.lp = nnr_layernorm_torch(1);
    s.rp = nnr_rmsnorm_torch(1);
    s.gamma = alloc_floats(D);
    s.beta = alloc_floats(D);
    s.dgamma = alloc_floats(D);
    s.dbeta = alloc_floats(D);
    s.mean = alloc_floats(rows);
    s.istd = alloc_floats(rows);
    int status = NNR_EXIT_OK;
    if (!s.gamma || !s.beta || !s.dgamma || !s.dbeta || !s.mean || !s.istd) {
        fprintf(stderr, "nnref bench: cannot allocate the LayerNorm parameter arrays.\n");
        status = NNR_EXIT_FAIL;
    } else {
        for (size_t k = 0; k < D; k++) {
            s.gamma[k] = 1.0f + 0.001f * (float)k;
            s.beta[k] = 0.1f;
        }
        if (!ctx->opt->csv) {
            if (large)
                printf("\n%zux%zu (normalized over the last axis): %.1f MB per tensor; each timed call takes the "
                       "next of %zu (fwd) or %zu (fwd+bwd) buffer sets, > 2 x L3 = %.0f MB, so every call streams "
                       "from DRAM.\n",
                       rows, D, tensor_bytes / 1e6, sets_for_pass[LN_FWD], sets_for_pass[LN_FWD_BWD],
                       2.0 * l3_bytes / 1e6);
            else
                printf("\n%zux%zu (normalized over the last axis): %.2f MB per tensor, one buffer set reused: "
                       "CACHE RESIDENT by design, so %%triad can exceed 100.\n",
                       rows, D, tensor_bytes / 1e6);
            ctx->header_printed = 0;
            print_table_header(ctx);
        }
        for (size_t i = 0; i < n_impls && status == NNR_EXIT_OK; i++)
            for (int k = 0; k < LN_PASS_COUNT && status == NNR_EXIT_OK; k++) {
                if (!bench_wants(ctx->opt, ln_pass_info[k].layer))
                    continue;
                s.impl = &impls[i];
                s.pass = (ln_pass)k;
                const timed_kernel tk = {ln_pass_info[k].kernel, impls[i].name, ln_pass_info[k].tensors_counted,
                                         large ? impls[i].reps_large : impls[i].reps_small, ln_call, &s};
                status = time_kernel(ctx, &tk, &s.shape, "-", &pool, sets_for_pass[k]);
            }
    }
    free(s.gamma);
    free(s.beta);
    free(s.dgamma);
    free(s.dbeta);
    free(s.mean);
    free(s.istd);
    pool_free(&pool);
    return status;
}

/* ---- GroupNorm and InstanceNorm -------------------------------------------- */

typedef enum gn_pass { GN_FWD, GN_FWD_BWD, IN_FWD, IN_FWD_BWD, GN_PASS_COUNT } gn_pass;

static const struct {
    const char *kernel, *layer;
    int groups;           /* -1: one group per channel (InstanceNorm) */
    int with_bwd;
    int tensors_counted;  /* compulsory tensor passes for GB/s: fwd x, y; fwd+bwd also x, dy, dx */
    int buffers_touched;  /* distinct big buffers the call streams: sizes the pool */
} gn_pass_info[GN_PASS_COUNT] = {
    [GN_FWD] = {"groupnorm_fwd", "groupnorm", 32, 0, 2, 2},
    [GN_FWD_BWD] = {"groupnorm_fwd_bwd", "groupnorm", 32, 1, 5, 4},
    [IN_FWD] = {"instancenorm_fwd", "instancenorm", -1, 0, 2, 2},
    [IN_FWD_BWD] = {"instancenorm_fwd_bwd", "instancenorm", -1, 1, 5, 4},
};

/* One GroupNorm call's kernels, parameters and per-channel arrays (C and N*G floats: cached). */
typedef struct gn_call_args {
    nnr_groupnorm_fwd_fn fwd;
    nnr_groupnorm_bwd_fn bwd;
    int with_bwd;
    nnr_groupnorm_params p;
    nnr_shape shape;
    float *gamma, *beta, *dgamma, *dbeta, *mean, *istd;
} gn_call_args;

static nnr_status gn_call(const void *arg, const bn_buffers *b)
{
    const gn_call_args *a = arg;
    const nnr_groupnorm_cache cache = {a->mean, a->istd, NULL};
    nnr_status st = a->fwd(&a->p, &a->shape, b->x, a->gamma, a->beta, b->y, &cache);
    if (st.code != NNR_OK || !a->with_bwd)
        return st;
    return a->bwd(&a->p, &a->shape, b->x, a->gamma, &cache, b->dy, b->dx, a->dgamma, a->dbeta);
}

/* One (n, c, h, w) problem in each requested layout; `large` selects the rotating pool. */
static int bench_gn_shape(bench_ctx *ctx, const size_t nchw[4], int large, size_t l3_bytes)
{
    const size_t numel = nchw[0] * nchw[1] * nchw[2] * nchw[3], tensor_bytes = numel * sizeof(float);
    const size_t C = nchw[1], cache_len = nchw[0] * nchw[1];   /* N*G <= N*C */
    struct {
        const char *name;
        nnr_groupnorm_fwd_fn fwd;
        nnr_groupnorm_bwd_fn bwd;
        unsigned long reps_large, reps_small;
    } impls[2];
    size_t n_impls = 0;
    impls[n_impls].name = "naive", impls[n_impls].fwd = nnr_groupnorm_fwd_naive;
    impls[n_impls].bwd = nnr_groupnorm_bwd_naive, impls[n_impls].reps_large = 3, impls[n_impls++].reps_small = 7;
#ifdef NNR_HAVE_AVX2_BUILD
    if (nnr_avx2_usable()) {
        impls[n_impls].name = "avx2", impls[n_impls].fwd = nnr_groupnorm_fwd_avx2;
        impls[n_impls].bwd = nnr_groupnorm_bwd_avx2, impls[n_impls].reps_large = 15;
        impls[n_impls++].reps_small = 15;
    }
#endif
    size_t sets_for_pass[GN_PASS_COUNT], max_sets = 1;
    for (int k = 0; k < GN_PASS_COUNT; k++) {
        const size_t per_set = (size_t)gn_pass_info[k].buffers_touched * tensor_bytes;
        sets_for_pass[k] = large ? 2 * l3_bytes / per_set + 1 : 1;
        if (large && sets_for_pass[k] < 2)
            sets_for_pass[k] = 2;
        if (sets_for_pass[k] > max_sets)
            max_sets = sets_for_pass[k];
    }
    bn_pool pool;
    if (!pool_alloc(&pool, max_sets, numel)) {
        fprintf(stderr, "nnref bench: cannot allocate %zu buffer sets of 4 x %zu floats.\n", max_sets, numel);
        return NNR_EXIT_FAIL;
    }
    gn_call_args a = {0};
    a.gamma = alloc_floats(C);
    a.beta = alloc_floats(C);
    a.dgamma = alloc_floats(C);
    a.dbeta = alloc_floats(C);
    a.mean = alloc_floats(cache_len);
    a.istd = alloc_floats(cache_len);
    int status = NNR_EXIT_OK;
    if (!a.gamma || !a.beta || !a.dgamma || !a.dbeta || !a.mean || !a.istd) {
        fprintf(stderr, "nnref bench: cannot allocate the GroupNorm parameter arrays.\n");
        status = NNR_EXIT_FAIL;
    } else {
        for (size_t c = 0; c < C; c++) {
            a.gamma[c] = 1.0f + 0.01f * (float)c;
            a.beta[c] = 0.1f;
        }
        if (!ctx->opt->csv) {
            if (large)
                printf("\nGroupNorm %zux%zux%zux%zu: %.1f MB per tensor; each timed call takes the next of %zu (fwd) "
                       "or %zu (fwd+bwd) buffer sets, > 2 x L3 = %.0f MB, so every call streams from DRAM.\n",
                       nchw[0], nchw[1], nchw[2], nchw[3], tensor_bytes / 1e6, sets_for_pass[GN_FWD],
                       sets_for_pass[GN_FWD_BWD], 2.0 * l3_bytes / 1e6);
            else
                printf("\nGroupNorm %zux%zux%zux%zu: %.2f MB per tensor, one buffer set reused: CACHE RESIDENT by "
                       "design, so %%triad can exceed 100.\n",
                       nchw[0], nchw[1], nchw[2], nchw[3], tensor_bytes / 1e6);
            ctx->header_printed = 0;
            print_table_header(ctx);
        }
        static const int layouts[] = {LAYOUT_NCHW, LAYOUT_NHWC};
        for (size_t l = 0; l < 2 && status == NNR_EXIT_OK; l++) {
            if (!(ctx->opt->layouts & layouts[l]))
                continue;
            const int nhwc = layouts[l] == LAYOUT_NHWC;
            a.shape = nhwc ? (nnr_shape){4, {nchw[0], nchw[2], nchw[3], nchw[1]}}
                           : (nnr_shape){4, {nchw[0], nchw[1], nchw[2], nchw[3]}};
            for (size_t i = 0; i < n_impls && status == NNR_EXIT_OK; i++)
                for (int k = 0; k < GN_PASS_COUNT && status == NNR_EXIT_OK; k++) {
                    if (!bench_wants(ctx->opt, gn_pass_info[k].layer))
                        continue;
                    /* PyTorch preset for nchw, Keras' channel axis for nhwc (epsilon does not change the work) */
                    const int groups = gn_pass_info[k].groups;
                    a.p = nhwc ? nnr_groupnorm_keras(groups) : nnr_groupnorm_torch(groups);
                    a.fwd = impls[i].fwd;
                    a.bwd = impls[i].bwd;
                    a.with_bwd = gn_pass_info[k].with_bwd;
                    const timed_kernel tk = {gn_pass_info[k].kernel, impls[i].name, gn_pass_info[k].tensors_counted,
                                             large ? impls[i].reps_large : impls[i].reps_small, gn_call, &a};
                    status = time_kernel(ctx, &tk, &a.shape, nhwc ? "nhwc" : "nchw", &pool, sets_for_pass[k]);
                }
        }
    }
    free(a.gamma);
    free(a.beta);
    free(a.dgamma);
    free(a.dbeta);
    free(a.mean);
    free(a.istd);
    pool_free(&pool);
    return status;
}

/* ---- MaxPool and AvgPool ---------------------------------------------------- */

/*
 * 2x2 windows with stride 2 (PyTorch preset for nchw, Keras' for nhwc), so y,
 * dy and argmax are a quarter of x each. Counted traffic in x-sized tensors:
 *   max fwd (training, argmax saved): x 1 + y 1/4 + argmax 1/4       = 1.5
 *   max fwd+bwd: fwd 1.5 + bwd dy 1/4 + argmax 1/4 + dx 1             = 3
 *   avg fwd: x 1 + y 1/4                                              = 1.25
 *   avg fwd+bwd: fwd 1.25 + bwd dy 1/4 + dx 1                         = 2.5
 * y and argmax share the set's y buffer (argmax after the quarter y uses),
 * dy is the first quarter of the dy buffer.
 */
typedef enum pool_pass { MAXPOOL_FWD, MAXPOOL_FWD_BWD, AVGPOOL_FWD, AVGPOOL_FWD_BWD, POOL_PASS_COUNT } pool_pass;

static const struct {
    const char *kernel, *layer;
    double tensors_counted;   /* compulsory traffic, x-sized tensors */
} pool_pass_info[POOL_PASS_COUNT] = {
    [MAXPOOL_FWD] = {"maxpool_fwd", "maxpool", 1.5},
    [MAXPOOL_FWD_BWD] = {"maxpool_fwd_bwd", "maxpool", 3.0},
    [AVGPOOL_FWD] = {"avgpool_fwd", "avgpool", 1.25},
    [AVGPOOL_FWD_BWD] = {"avgpool_fwd_bwd", "avgpool", 2.5},
};

typedef struct pool_call_args {
    nnr_maxpool_fwd_fn max_fwd;
    nnr_maxpool_bwd_fn max_bwd;
    nnr_avgpool_fwd_fn avg_fwd;
    nnr_avgpool_bwd_fn avg_bwd;
    pool_pass pass;
    nnr_pool_params p;
    nnr_shape shape;
    size_t out_count;
} pool_call_args;

static nnr_status pool_call(const void *arg, const bn_buffers *b)
{
    const pool_call_args *a = arg;
    int32_t *argmax = (int32_t *)(b->y + a->out_count);
    nnr_status st;
    switch (a->pass) {
    case MAXPOOL_FWD:
        return a->max_fwd(&a->p, &a->shape, b->x, b->y, argmax);
    case MAXPOOL_FWD_BWD:
        st = a->max_fwd(&a->p, &a->shape, b->x, b->y, argmax);
        if (st.code != NNR_OK)
            return st;
        return a->max_bwd(&a->p, &a->shape, b->dy, argmax, b->dx);
    case AVGPOOL_FWD:
        return a->avg_fwd(&a->p, &a->shape, b->x, b->y);
    case AVGPOOL_FWD_BWD:
        st = a->avg_fwd(&a->p, &a->shape, b->x, b->y);
        if (st.code != NNR_OK)
            return st;
        return a->avg_bwd(&a->p, &a->shape, b->dy, b->dx);
    default:
        return nnr_error(NNR_ERR_PARAM, "pass %d is not a pooling benchmark pass", (int)a->pass);
    }
}

/* One (n, c, h, w) problem in each requested layout; `large` selects the rotating pool. */
static int bench_pool_shape(bench_ctx *ctx, const size_t nchw[4], int large, size_t l3_bytes)
{
    const size_t numel = nchw[0] * nchw[1] * nchw[2] * nchw[3], tensor_bytes = numel * sizeof(float);
    struct {
        const char *name;
        nnr_maxpool_fwd_fn max_fwd;
        nnr_maxpool_bwd_fn max_bwd;
        nnr_avgpool_fwd_fn avg_fwd;
        nnr_avgpool_bwd_fn avg_bwd;
        unsigned long reps_large, reps_small;
    } impls[2] = {{"naive", nnr_maxpool_fwd_naive, nnr_maxpool_bwd_naive, nnr_avgpool_fwd_naive,
                   nnr_avgpool_bwd_naive, 5, 7}};
    size_t n_impls = 1;
#ifdef NNR_HAVE_AVX2_BUILD
    if (nnr_avx2_usable()) {
        impls[1].name = "avx2", impls[1].max_fwd = nnr_maxpool_fwd_avx2, impls[1].max_bwd = nnr_maxpool_bwd_avx2;
        impls[1].avg_fwd = nnr_avgpool_fwd_avx2, impls[1].avg_bwd = nnr_avgpool_bwd_avx2;
        impls[1].reps_large = 15, impls[1].reps_small = 15;
        n_impls = 2;
    }
#endif
    /* Sets per pass: enough that the bytes one pass touches (its counted
     * traffic, argmax read twice aside) exceed 2 x L3. */
    size_t sets_for_pass[POOL_PASS_COUNT], max_sets = 1;
    for (int k = 0; k < POOL_PASS_COUNT; k++) {
        const size_t per_set = (size_t)(pool_pass_info[k].tensors_counted * (double)tensor_bytes);
        sets_for_pass[k] = large ? 2 * l3_bytes / per_set + 1 : 1;
        if (large && sets_for_pass[k] < 2)
            sets_for_pass[k] = 2;
        if (sets_for_pass[k] > max_sets)
            max_sets = sets_for_pass[k];
    }
    bn_pool pool;
    if (!pool_alloc(&pool, max_sets, numel)) {
        fprintf(stderr, "nnref bench: cannot allocate %zu buffer sets of 4 x %zu floats.\n", max_sets, numel);
        return NNR_EXIT_FAIL;
    }
    if (!ctx->opt->csv) {
        if (large)
            printf("\nMaxPool/AvgPool 2x2 stride 2 on %zux%zux%zux%zu: %.1f MB input; each timed call takes the next "
                   "of %zu to %zu buffer sets, > 2 x L3 = %.0f MB, so every call streams from DRAM. Counted: max fwd "
                   "1.5 x-sized tensors (x, y, argmax), fwd+bwd 3; avg fwd 1.25, fwd+bwd 2.5.\n",
                   nchw[0], nchw[1], nchw[2], nchw[3], tensor_bytes / 1e6, sets_for_pass[MAXPOOL_FWD_BWD],
                   sets_for_pass[AVGPOOL_FWD], 2.0 * l3_bytes / 1e6);
        else
            printf("\nMaxPool/AvgPool 2x2 stride 2 on %zux%zux%zux%zu: %.2f MB input, one buffer set reused: CACHE "
                   "RESIDENT by design, so %%triad can exceed 100.\n",
                   nchw[0], nchw[1], nchw[2], nchw[3], tensor_bytes / 1e6);
        ctx->header_printed = 0;
        print_table_header(ctx);
    }
    pool_call_args a = {0};
    int status = NNR_EXIT_OK;
    static const int layouts[] = {LAYOUT_NCHW, LAYOUT_NHWC};
    for (size_t l = 0; l < 2 && status == NNR_EXIT_OK; l++) {
        if (!(ctx->opt->layouts & layouts[l]))
            continue;
        const int nhwc = layouts[l] == LAYOUT_NHWC;
        a.shape = nhwc ? (nnr_shape){4, {nchw[0], nchw[2], nchw[3], nchw[1]}}
                       : (nnr_shape){4, {nchw[0], nchw[1], nchw[2], nchw[3]}};
        a.p = nhwc ? nnr_pool_keras(2, 2) : nnr_pool_torch(2, 2);
        nnr_shape out;
        nnr_status st = nnr_pool_output_shape(&a.p, &a.shape, &out);
        if (st.code != NNR_OK || nnr_shape_numel(&out, "out", &a.out_count).code != NNR_OK) {
            fprintf(stderr, "nnref bench: %s\n", nnr_strerror(&st));
            status = NNR_EXIT_FAIL;
            break;
        }
        for (size_t i = 0; i < n_impls && status == NNR_EXIT_OK; i++)
            for (int k = 0; k < POOL_PASS_COUNT && status == NNR_EXIT_OK; k++) {
                if (!bench_wants(ctx->opt, pool_pass_info[k].layer))
                    continue;
                a.max_fwd = impls[i].max_fwd, a.max_bwd = impls[i].max_bwd;
                a.avg_fwd = impls[i].avg_fwd, a.avg_bwd = impls[i].avg_bwd;
                a.pass = (pool_pass)k;
                const timed_kernel tk = {pool_pass_info[k].kernel, impls[i].name, pool_pass_info[k].tensors_counted,
                                         large ? impls[i].reps_large : impls[i].reps_small, pool_call, &a};
                status = time_kernel(ctx, &tk, &a.shape, nhwc ? "nhwc" : "nchw", &pool, sets_for_pass[k]);
            }
    }
    pool_free(&pool);
    return status;
}

int nnr_cmd_bench(int argc, char **argv)
{
    bench_options opt;
    int help;
    int status = parse_options(argc, argv, &opt, &help);
    if (status != NNR_EXIT_OK)
        return status;
    if (help) {
        print_help();
        return NNR_EXIT_OK;
    }
#ifdef NNR_USE_OPENMP
    omp_set_num_threads((int)opt.threads);
#endif

    /* 4 x L3 and at least 400 MB, so triad cannot be served from any cache. */
    const size_t l3_known = nnr_cache_size(3);
    const size_t l3 = l3_known ? l3_known : (size_t)64 << 20;
    size_t triad_bytes = 4 * l3;
    if (triad_bytes < (size_t)400000000)
        triad_bytes = 400000000;
    triad_result triad;
    status = run_triad(triad_bytes, &triad);
    if (status != NNR_EXIT_OK)
        return status;

    bench_ctx ctx = {.opt = &opt, .triad_gbps = triad.gbps};
    char triad_shape[64];
    snprintf(triad_shape, sizeof triad_shape, "3x%zu", triad.n);
    if (opt.csv) {
        printf("kernel,impl,shape,layout,threads,ms,gbps,pct_triad\n");
        printf("stream_triad,scalar,%s,-,%lu,%.6f,%.2f,100.0\n", triad_shape, opt.threads, triad.best_s * 1e3,
               triad.gbps);
    } else {
        const char *avx2_note = nnr_avx2_usable()     ? " and avx2"
                                : nnr_avx2_compiled() ? " (this CPU lacks AVX2 or FMA)"
                                                      : " (AVX2 kernels not compiled in)";
        printf("nnref %s bench, kernels: naive%s, threads: %lu, L3: %.1f MB%s\n", nnr_version(), avx2_note,
               opt.threads, l3 / 1e6, l3_known ? "" : " (unknown; assumed)");
        printf("STREAM triad a[i] = b[i] + s*c[i]: 3 float arrays x %.1f MB = %.1f MB, best of %d: %.3f ms, "
               "%.2f GB/s\n",
               triad.n * 4 / 1e6, 3.0 * triad.n * 4 / 1e6, TRIAD_REPS, triad.best_s * 1e3, triad.gbps);
        printf("GB/s counts compulsory traffic: fwd_train and fwd_infer 2 tensors (x, y), "
               "fwd_bwd_train 5 (x, y, x, dy, dx).\n"
               "Triad counts 3 arrays, as STREAM does, but its ordinary stores also read a[] first (write-allocate);\n"
               "a kernel with streaming stores avoids that read, so it can exceed 100%% of triad from DRAM.\n"
               "best_ms and median_ms are per call. Parameters: PyTorch preset, axis 1 (nchw) or -1 (nhwc).\n");
    }

    static const size_t large_shape[4] = {32, 64, 56, 56};
    static const size_t small_shape[4] = {8, 16, 14, 14};
    if (bench_wants(&opt, "batchnorm")) {
        if (!opt.small_only)
            status = bench_shape(&ctx, large_shape, 1, l3);
        if (status == NNR_EXIT_OK)
            status = bench_shape(&ctx, small_shape, 0, l3);
    }
    if (status == NNR_EXIT_OK && (bench_wants(&opt, "layernorm") || bench_wants(&opt, "rmsnorm"))) {
        if (!opt.small_only)
            status = bench_ln_shape(&ctx, 8192, 768, 1, l3);
        if (status == NNR_EXIT_OK)
            status = bench_ln_shape(&ctx, 64, 768, 0, l3);
    }
    if (status == NNR_EXIT_OK && (bench_wants(&opt, "groupnorm") || bench_wants(&opt, "instancenorm"))) {
        static const size_t gn_small[4] = {8, 64, 14, 14};
        if (!opt.small_only)
            status = bench_gn_shape(&ctx, large_shape, 1, l3);
        if (status == NNR_EXIT_OK)
            status = bench_gn_shape(&ctx, gn_small, 0, l3);
    }
    if (status == NNR_EXIT_OK && (bench_wants(&opt, "maxpool") || bench_wants(&opt, "avgpool"))) {
        static const size_t pool_small[4] = {8, 64, 14, 14};
        if (!opt.small_only)
            status = bench_pool_shape(&ctx, large_shape, 1, l3);
        if (status == NNR_EXIT_OK)
            status = bench_pool_shape(&ctx, pool_small, 0, l3);
    }
    return status;
}
