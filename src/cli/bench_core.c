/*
 * nnref bench: how fast the kernels are, judged against what this machine
 * can deliver. This file is the framework (bench.h); the layer families'
 * benchmarks are bench_norm.c, bench_pool.c, ...
 *
 * Two yardsticks are measured in the same run as the kernels:
 * - Memory-bound kernels (normalization, pooling: a few flops per element)
 *   are judged against STREAM triad (a[i] = b[i] + s*c[i], McCalpin) on
 *   arrays far larger than the last-level cache. A kernel's bandwidth counts
 *   only its compulsory traffic (every tensor it must read or write, once);
 *   a kernel that reads x twice pays for it in time, not in counted bytes.
 * - Compute-bound kernels are judged against the single-thread AVX2 FMA
 *   peak: 12 independent chains of _mm256_fmadd_ps (bench_fma_avx2.c),
 *   measured at startup and again just before each compute-bound family's
 *   rows; those rows take the larger of the two (remeasure_peak()).
 *
 * Honesty rule. A 25 MB tensor fits in a 100 MB L3, so calling a kernel again
 * on the same buffers would time the cache, not DRAM. For a large shape each
 * timed call therefore takes the next buffer set from a pool whose touched
 * bytes exceed twice the L3 size, so that every call streams from DRAM as
 * triad does. A small shape is meant to be cache resident: it reuses one
 * buffer set, and the output says so.
 *
 * Idle pages. Memory left untouched for a second or more can cost about
 * half a microsecond per 4 KiB page on its next touch (measured on the
 * project's VM, whose kernel runs a DAMON pageout scheme over idle memory:
 * a 256 MB read sweep took 42-68 ms after 3-12 s idle, 20-29 ms after one
 * read per page), as much again as streaming the page. Triad sweeps its arrays back to back and never pays
 * it; a buffer set last touched when the pool was filled, seconds and other
 * passes earlier, does. So before each timed call on a rotating pool, one
 * float per page of the call's set is read, untimed: the call then finds
 * its pages as triad does, and still streams its data from DRAM (64 bytes
 * of each 4 KiB page, 1.6 %, were just read and may still be cached).
 */
#include "config.h"
#include <stdarg.h>
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
#include "cli/bench.h"

/* ---- The registry ------------------------------------------------------------ */

const bench_family bench_families[] = {
    {{"batchnorm", NULL}, bench_batchnorm,
     "BatchNorm: fwd_train, fwd_infer and fwd+bwd train on 32x64x56x56 (nchw: axis 1\n"
     "of (32,64,56,56); nhwc: axis -1 of (32,56,56,64)) and the cache-resident 8x16x14x14.\n",
     0},
    {{"layernorm", "rmsnorm", NULL}, bench_layernorm,
     "LayerNorm and RMSNorm: forward and forward+backward over the last axis of\n"
     "8192x768 (PyTorch presets) and the cache-resident 64x768.\n",
     0},
    {{"groupnorm", "instancenorm", NULL}, bench_groupnorm,
     "GroupNorm: GroupNorm(32) forward and forward+backward on 32x64x56x56 and\n"
     "the cache-resident 8x64x14x14, nchw (PyTorch preset) and nhwc (Keras axis);\n"
     "InstanceNorm: the same with one group per channel.\n",
     0},
    {{"maxpool", "avgpool", NULL}, bench_pooling,
     "MaxPool and AvgPool: 2x2 windows, stride 2, forward (max with argmax, as in\n"
     "training) and forward+backward on 32x64x56x56 and the cache-resident 8x64x14x14.\n",
     0},
    {{"conv2d", NULL}, bench_conv,
     "Conv2D: 3x3 pad 1, 64 -> 64 channels, forward, backward-data, backward-weights\n"
     "and forward+backward on 8x64x56x56 (the issue's shape) and the cache-resident\n"
     "1x64x28x28; GFLOP/s and % of the same-run 1-thread FMA peak.\n",
     1},
    {{"dense", NULL}, bench_dense,
     "Dense: 768 -> 768 forward, backward (dx, dW, db) and forward+backward on a\n"
     "batch of 8192 and the cache-resident 64, PyTorch (nchw rows) and Keras (nhwc\n"
     "rows) weights; the AVX2 GEMM alone on 64x3136x576 and 512x3136x576 (the\n"
     "product of a 3x3 64 -> 64 convolution on 56x56); GFLOP/s and % of FMA peak.\n",
     1},
    {{"dropout", "relu", NULL}, bench_dropout,
     "Dropout (rate 0.5, training, mask saved) and ReLU: forward and forward+backward\n"
     "on 32x64x56x56 and the cache-resident 8x64x14x14 (elementwise: one layout).\n",
     0},
};
const size_t bench_n_families = sizeof bench_families / sizeof bench_families[0];

/* 1 if a layer name selects a family of the registry. */
static int bench_layer_known(const char *layer)
{
    for (size_t f = 0; f < bench_n_families; f++)
        for (size_t i = 0; bench_families[f].layers[i] != NULL; i++)
            if (strcmp(bench_families[f].layers[i], layer) == 0)
                return 1;
    return 0;
}

/* "batchnorm, layernorm, ..." into out. */
static void list_layers(char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t f = 0; f < bench_n_families; f++)
        for (size_t i = 0; bench_families[f].layers[i] != NULL && used < size; i++)
            used += (size_t)snprintf(out + used, size - used, used ? ", %s" : "%s", bench_families[f].layers[i]);
}

static void print_help(void)
{
    char layers[256];
    list_layers(layers, sizeof layers);
    printf("Usage: nnref bench [LAYER...] [--threads N] [--layout nchw|nhwc] [--csv]\n"
           "                   [--reps K] [--small-only]\n"
           "\n"
           "Measures STREAM triad (float arrays totalling at least 4 x L3 and 400 MB) and,\n"
           "when this CPU has AVX2+FMA, the single-thread FMA peak (12 independent chains of\n"
           "_mm256_fmadd_ps), then times the naive and AVX2 kernels. Reports the best time per\n"
           "call (and the median); memory-bound kernels GB/s of compulsory traffic and the\n"
           "percentage of triad, compute-bound kernels GFLOP/s and the percentage of the FMA\n"
           "peak (times the thread count). The FMA peak is measured again just before each\n"
           "compute-bound family's rows (conv2d, dense) and printed; those rows' %%peak is of\n"
           "the larger of that and the startup measurement (a loaded machine lowers either).\n"
           "\n");
    for (size_t f = 0; f < bench_n_families; f++)
        fputs(bench_families[f].help, stdout);
    printf("Layers: %s (default: all).\n"
           "\n"
           "Options:\n"
           "  --threads N        OpenMP threads for triad and kernels (default 1;\n"
           "                     more than 1 needs a build with --enable-openmp)\n"
           "  --layout L         nchw or nhwc only (default both)\n"
           "  --csv              print kernel,impl,shape,layout,threads,ms,gbps,pct_triad,gflops,pct_peak\n"
           "                     (memory-bound rows leave gflops,pct_peak empty, compute-bound rows\n"
           "                     gbps,pct_triad); the stream_triad and fma_peak rows come first,\n"
           "                     and an fma_peak row (the fresh measurement) again before each\n"
           "                     compute-bound family, whose pct_peak is of the larger of the\n"
           "                     first fma_peak row and that one\n"
           "  --reps K           timed repetitions per kernel (default 15 AVX2; naive, whose\n"
           "                     channels_last kernel takes seconds per call, 3 large and 7 small)\n"
           "  --small-only       skip the large (DRAM-streamed) shapes\n",
           layers);
}

/* ---- Options -------------------------------------------------------------- */

int bench_wants(const bench_options *o, const char *layer)
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
    *o = (bench_options){.threads = 1, .layouts = BENCH_NCHW | BENCH_NHWC};
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
                o->layouts = BENCH_NCHW;
            else if (strcmp(v, "nhwc") == 0)
                o->layouts = BENCH_NHWC;
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
        } else if (!bench_layer_known(w)) {
            char layers[256];
            list_layers(layers, sizeof layers);
            return nnr_usage_error("bench", "unknown layer '%s'; the layers bench times are: %s.", w, layers);
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

float *bench_alloc_floats(size_t count)
{
    const size_t align = 4096;
    size_t bytes;
    if (!nnr_size_mul(count, sizeof(float), &bytes) || bytes > SIZE_MAX - align)
        return NULL;
    bytes = (bytes + align - 1) / align * align;
    return aligned_alloc(align, bytes);
}

void bench_fill(float *p, size_t count, uint32_t salt)
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

void bench_pool_free(bench_pool *pool)
{
    for (size_t s = 0; s < pool->n_sets; s++) {
        free(pool->sets[s].x);
        free(pool->sets[s].y);
        free(pool->sets[s].dy);
        free(pool->sets[s].dx);
    }
    free(pool->sets);
    *pool = (bench_pool){0};
}

/* A buffer of count floats filled with salt's pattern; NULL only on failure when count > 0. */
static float *filled_buffer(size_t count, uint32_t salt, int *failed)
{
    if (count == 0)
        return NULL;
    float *p = bench_alloc_floats(count);
    if (p == NULL)
        *failed = 1;
    else
        bench_fill(p, count, salt);
    return p;
}

int bench_pool_alloc(bench_pool *pool, size_t n_sets, const size_t count[4])
{
    *pool = (bench_pool){0};
    pool->sets = calloc(n_sets, sizeof *pool->sets);
    if (pool->sets == NULL)
        return 0;
    pool->n_sets = n_sets;
    memcpy(pool->count, count, sizeof pool->count);
    int failed = 0;
    for (size_t s = 0; s < n_sets && !failed; s++) {
        bench_buffers *b = &pool->sets[s];
        b->x = filled_buffer(count[0], 11u + (uint32_t)s, &failed);
        b->y = filled_buffer(count[1], 0, &failed);
        b->dy = filled_buffer(count[2], 101u + (uint32_t)s, &failed);
        b->dx = filled_buffer(count[3], 0, &failed);
    }
    if (failed)
        bench_pool_free(pool);
    return !failed;
}

size_t bench_sets_needed(const bench_ctx *ctx, double bytes_per_set, int large)
{
    if (!large)
        return 1;
    const size_t per_set = (size_t)bytes_per_set;
    size_t sets = per_set ? 2 * ctx->l3_bytes / per_set + 1 : 2;
    return sets < 2 ? 2 : sets;
}

/* ---- Yardsticks: STREAM triad and the FMA peak --------------------------------- */

typedef struct triad_result {
    size_t n;           /* elements per array */
    double best_s;
    double gbps;
} triad_result;

/*
 * Best of 10, chunk by chunk: each sweep's chunks of TRIAD_CHUNK elements
 * (3 x 16.8 MB, a few ms, the traffic of one pooling or normalization
 * call) are timed separately, and the triad time is the sum of every
 * chunk's best. On a shared machine a whole sweep of the arrays (hundreds
 * of ms) is rarely left alone, while a kernel call of a few ms often is;
 * timing triad in pieces of a call's size gives both best-of figures the
 * same chance.
 */
enum { TRIAD_REPS = 10, PEAK_REPS = 10, TRIAD_CHUNK = 1 << 22 };

/* a[i] = b[i] + s*c[i] over three arrays totalling `total_bytes`. */
static int run_triad(size_t total_bytes, triad_result *r)
{
    size_t n = total_bytes / (3 * sizeof(float)) + 1;
    const size_t n_chunks = (n + TRIAD_CHUNK - 1) / TRIAD_CHUNK;
    float *a = bench_alloc_floats(n), *b = bench_alloc_floats(n), *c = bench_alloc_floats(n);
    double *chunk_best = malloc(n_chunks * sizeof *chunk_best);
    if (a == NULL || b == NULL || c == NULL || chunk_best == NULL) {
        fprintf(stderr, "nnref bench: cannot allocate the triad arrays (3 x %zu floats).\n", n);
        free(a);
        free(b);
        free(c);
        free(chunk_best);
        return NNR_EXIT_FAIL;
    }
    bench_fill(a, n, 1);
    bench_fill(b, n, 2);
    bench_fill(c, n, 3);
    const float s = 3.0f;
    for (size_t k = 0; k < n_chunks; k++)
        chunk_best[k] = 1e30;
    for (int rep = 0; rep < TRIAD_REPS + 1; rep++) {   /* rep 0 is the warm-up */
        for (size_t k = 0; k < n_chunks; k++) {
            const size_t i0 = k * TRIAD_CHUNK, i1 = i0 + TRIAD_CHUNK < n ? i0 + TRIAD_CHUNK : n;
            double t0 = now_seconds();
#ifdef NNR_USE_OPENMP
#pragma omp parallel for schedule(static)
#endif
            for (size_t i = i0; i < i1; i++)
                a[i] = b[i] + s * c[i];
            double t = now_seconds() - t0;
            if (rep > 0 && t < chunk_best[k])
                chunk_best[k] = t;
        }
    }
    double best = 0.0;
    for (size_t k = 0; k < n_chunks; k++)
        best += chunk_best[k];
    bench_sink = a[n / 2] + a[n - 1];
    free(a);
    free(b);
    free(c);
    free(chunk_best);
    r->n = n;
    r->best_s = best;
    /* STREAM's convention: two arrays read and one written, no write-allocate counted. */
    r->gbps = 3.0 * (double)n * sizeof(float) / best / 1e9;
    return NNR_EXIT_OK;
}

typedef struct peak_result {
    uint64_t rounds;    /* rounds of BENCH_FMA_CHAINS FMAs per run */
    double best_s;
    double gflops;      /* 0: not measured (no AVX2 build or CPU) */
} peak_result;

/*
 * Single-thread AVX2 FMA peak: best of PEAK_REPS runs of the chain loop,
 * 2^23 rounds each (2 x 8 x 12 x 2^23 = 1.6 GFLOP, tens of ms).
 */
static void run_peak(peak_result *r)
{
    *r = (peak_result){.rounds = (uint64_t)1 << 23};
#ifdef NNR_HAVE_AVX2_BUILD
    if (!nnr_avx2_usable())
        return;
    double best = 1e30;
    for (int rep = 0; rep < PEAK_REPS + 1; rep++) {   /* rep 0 is the warm-up (and the clock's ramp) */
        double t0 = now_seconds();
        bench_sink = bench_fma_chains_avx2(r->rounds, 0.999f, 1e-3f);
        double t = now_seconds() - t0;
        if (rep > 0 && t < best)
            best = t;
    }
    r->best_s = best;
    r->gflops = 2.0 * 8.0 * BENCH_FMA_CHAINS * (double)r->rounds / best / 1e9;
#endif
}

/* The peak's CSV row, or its line of text saying `when` it was measured. */
static void print_peak(const bench_ctx *ctx, const peak_result *r, const char *when)
{
    if (ctx->opt->csv)
        printf("fma_peak,avx2,%dx8,-,1,%.6f,,,%.2f,100.0\n", BENCH_FMA_CHAINS, r->best_s * 1e3, r->gflops);
    else
        printf("AVX2 FMA peak, 1 thread%s: %d independent _mm256_fmadd_ps chains x %llu rounds, best of %d: "
               "%.3f ms, %.2f GFLOP/s\n",
               when, BENCH_FMA_CHAINS, (unsigned long long)r->rounds, PEAK_REPS, r->best_s * 1e3, r->gflops);
}

/*
 * Before a compute-bound family: the peak again, printed, and the larger of
 * it and the startup peak as the 100 % of the family's rows. A background
 * load lowers a measurement, never raises it, so the larger is the better
 * estimate; a peak measured once at startup under load gave rows of 116-167 %.
 */
static void remeasure_peak(bench_ctx *ctx, double startup_gflops)
{
    if (startup_gflops <= 0)
        return;
    peak_result fresh;
    run_peak(&fresh);
    if (!ctx->opt->csv)
        putchar('\n');
    print_peak(ctx, &fresh, ", measured again for the rows below");
    ctx->peak_gflops = fresh.gflops > startup_gflops ? fresh.gflops : startup_gflops;
    if (!ctx->opt->csv)
        printf("%%peak below is of %.2f GFLOP/s, the larger of this measurement and the startup one (%.2f).\n",
               ctx->peak_gflops, startup_gflops);
}

/* ---- Rows ------------------------------------------------------------------- */

/* One row of results; a zero gbps or gflops is left empty (csv) or "-" (table). */
typedef struct bench_row {
    const char *kernel, *impl, *layout;
    char shape[64];
    double best_ms, median_ms, gbps, pct_triad, gflops, pct_peak;
} bench_row;

/* v printed with format into out, or `empty` when v is 0 (the column does not apply). */
static const char *cell(char *out, size_t size, const char *format, double v, const char *empty)
{
    if (v == 0)
        return empty;
    snprintf(out, size, format, v);
    return out;
}

static void print_row(bench_ctx *ctx, const bench_row *r)
{
    char b1[32], b2[32], b3[32], b4[32];
    const char *empty = ctx->opt->csv ? "" : "-";
    const char *gbps = cell(b1, sizeof b1, "%.2f", r->gbps, empty);
    const char *pct_triad = cell(b2, sizeof b2, "%.1f", r->pct_triad, empty);
    const char *gflops = cell(b3, sizeof b3, "%.2f", r->gflops, empty);
    const char *pct_peak = cell(b4, sizeof b4, "%.1f", r->pct_peak, empty);
    if (ctx->opt->csv)
        printf("%s,%s,%s,%s,%lu,%.6f,%s,%s,%s,%s\n", r->kernel, r->impl, r->shape, r->layout, ctx->opt->threads,
               r->best_ms, gbps, pct_triad, gflops, pct_peak);
    else
        printf("%-24s %-6s %-12s %-6s %7lu %10.3f %10.3f %8s %7s %8s %6s\n", r->kernel, r->impl, r->shape,
               r->layout, ctx->opt->threads, r->best_ms, r->median_ms, gbps, pct_triad, gflops, pct_peak);
    fflush(stdout);
}

static void print_table_header(bench_ctx *ctx)
{
    if (ctx->opt->csv || ctx->header_printed)
        return;
    printf("%-24s %-6s %-12s %-6s %7s %10s %10s %8s %7s %8s %6s\n", "kernel", "impl", "shape", "layout", "threads",
           "best_ms", "median_ms", "GB/s", "%triad", "GFLOP/s", "%peak");
    ctx->header_printed = 1;
}

void bench_section(bench_ctx *ctx, const char *format, ...)
{
    if (ctx->opt->csv)
        return;
    va_list ap;
    va_start(ap, format);
    putchar('\n');
    vprintf(format, ap);
    va_end(ap);
    ctx->header_printed = 0;
    print_table_header(ctx);
}

/* Reads one float of every 4 KiB page of set b's buffers (see "Idle pages" above). */
static void touch_pages(const bench_pool *pool, const bench_buffers *b)
{
    const size_t page = 4096 / sizeof(float);
    const float *const bufs[4] = {b->x, b->y, b->dy, b->dx};
    float sum = 0.0f;
    for (int k = 0; k < 4; k++)
        for (size_t i = 0; bufs[k] != NULL && i < pool->count[k]; i += page)
            sum += ((const volatile float *)bufs[k])[i];
    bench_sink = sum;
}

/* "32x64x56x56" */
static void format_shape(const nnr_shape *shape, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t d = 0; d < shape->rank && used < size; d++)
        used += (size_t)snprintf(out + used, size - used, d ? "x%zu" : "%zu", shape->dims[d]);
}

int bench_time(bench_ctx *ctx, const bench_kernel *k, const bench_pool *pool, size_t n_sets)
{
    unsigned long reps = ctx->opt->reps ? ctx->opt->reps : k->reps;
    double *samples = malloc(reps * sizeof *samples);
    if (samples == NULL) {
        fprintf(stderr, "nnref bench: cannot allocate %lu timing samples.\n", reps);
        return NNR_EXIT_FAIL;
    }
    if (pool == NULL)
        n_sets = 1;
    const bench_buffers *first = pool ? &pool->sets[0] : NULL;

    /* Warm-up (page tables, code, branch predictors), and the call count per sample. */
    if (n_sets > 1)
        touch_pages(pool, first);
    double t0 = now_seconds();
    nnr_status st = k->call(k->arg, k->kernels, k->pass, first);
    double once = now_seconds() - t0;
    unsigned long inner = 1;
    if (n_sets == 1 && st.code == NNR_OK) {
        const double min_sample_s = 2e-3;
        inner = once > 0 && once < min_sample_s ? (unsigned long)(min_sample_s / once) + 1 : 1;
    }

    for (unsigned long r = 0; r < reps && st.code == NNR_OK; r++) {
        const bench_buffers *b = pool ? &pool->sets[(r + 1) % n_sets] : NULL;
        if (n_sets > 1)
            touch_pages(pool, b);
        t0 = now_seconds();
        for (unsigned long i = 0; i < inner && st.code == NNR_OK; i++)
            st = k->call(k->arg, k->kernels, k->pass, b);
        samples[r] = (now_seconds() - t0) / (double)inner;
    }
    if (st.code != NNR_OK) {
        fprintf(stderr, "nnref bench: %s %s failed: %s\n", k->kernel, k->impl, nnr_strerror(&st));
        free(samples);
        return NNR_EXIT_FAIL;
    }
    if (first != NULL)
        bench_sink = (first->y ? first->y[0] : 0.0f) + (first->dx ? first->dx[0] : 0.0f);

    bench_row row = {.kernel = k->kernel, .impl = k->impl, .layout = k->layout};
    format_shape(k->shape, row.shape, sizeof row.shape);
    double best_s, median_s;
    best_and_median(samples, reps, &best_s, &median_s);
    free(samples);
    row.best_ms = best_s * 1e3;
    row.median_ms = median_s * 1e3;
    if (k->bytes > 0) {
        row.gbps = k->bytes / best_s / 1e9;
        row.pct_triad = 100.0 * row.gbps / ctx->triad_gbps;
    }
    if (k->flops > 0) {
        row.gflops = k->flops / best_s / 1e9;
        /* Threads share nothing in the FMA units, so n threads' peak is n single-thread peaks. */
        if (ctx->peak_gflops > 0)
            row.pct_peak = 100.0 * row.gflops / (ctx->peak_gflops * (double)ctx->opt->threads);
    }
    print_row(ctx, &row);
    return NNR_EXIT_OK;
}

int bench_large_then_small(bench_ctx *ctx, bench_shape_fn fn, const size_t large[4], const size_t small[4])
{
    int status = NNR_EXIT_OK;
    if (!ctx->opt->small_only)
        status = fn(ctx, large, 1);
    if (status == NNR_EXIT_OK)
        status = fn(ctx, small, 0);
    return status;
}

/* ---- A family's rows ---------------------------------------------------------- */

size_t bench_impls_run(size_t n)
{
    return n > 1 && nnr_avx2_usable() ? n : 1;
}

int bench_rows_pool(const bench_ctx *ctx, bench_rows *rows, const size_t count[4])
{
    size_t max_sets = 1;
    for (size_t k = 0; k < rows->n_passes; k++) {
        const bench_pass *pass = &rows->passes[k];
        const double streamed = pass->streamed > 0 ? pass->streamed : pass->counted;
        rows->sets[k] = bench_sets_needed(ctx, streamed * rows->tensor_bytes, rows->large);
        if (rows->sets[k] > max_sets)
            max_sets = rows->sets[k];
    }
    if (bench_pool_alloc(&rows->pool, max_sets, count))
        return 1;
    fprintf(stderr, "nnref bench: cannot allocate %zu buffer sets of 4 x %zu floats.\n", max_sets, count[0]);
    return 0;
}

/* The workspace impl's query asks for, filled, in *scratch; 0 with a message when that fails. */
static int impl_workspace(const bench_rows *rows, const bench_impl *impl, const void *arg, bench_buffers *scratch)
{
    nnr_status st = rows->workspace(arg, impl->kernels, &scratch->ws_floats);
    if (st.code != NNR_OK) {
        fprintf(stderr, "nnref bench: %s\n", nnr_strerror(&st));
        return 0;
    }
    if (scratch->ws_floats == 0)
        return 1;
    scratch->ws = bench_alloc_floats(scratch->ws_floats);
    if (scratch->ws == NULL) {
        fprintf(stderr, "nnref bench: cannot allocate %zu floats of %s workspace.\n", scratch->ws_floats, rows->what);
        return 0;
    }
    bench_fill(scratch->ws, scratch->ws_floats, 9);
    return 1;
}

int bench_rows_time(bench_ctx *ctx, const bench_rows *rows, const char *layout, const nnr_shape *shape,
                    const void *arg)
{
    int status = NNR_EXIT_OK;
    for (size_t i = 0; i < bench_impls_run(rows->n_impls) && status == NNR_EXIT_OK; i++) {
        const bench_impl *impl = &rows->impls[i];
        /* A compute-bound family's calls all take the one set `scratch`: its workspace, or nothing. */
        bench_buffers scratch = {0};
        const bench_pool one_set = {&scratch, 1, {0}};
        if (rows->workspace != NULL && !impl_workspace(rows, impl, arg, &scratch)) {
            status = NNR_EXIT_FAIL;
            break;
        }
        for (size_t k = 0; k < rows->n_passes && status == NNR_EXIT_OK; k++) {
            const bench_pass *pass = &rows->passes[k];
            if (!bench_wants(ctx->opt, pass->layer) || (i == 0 && rows->large && pass->naive_small_only))
                continue;
            const bench_kernel bk = {pass->kernel, impl->name, layout, shape, pass->counted * rows->tensor_bytes,
                                     pass->counted * rows->flops, rows->large ? impl->reps_large : impl->reps_small,
                                     rows->call, arg, impl->kernels, (int)k};
            if (rows->tensor_bytes > 0)
                status = bench_time(ctx, &bk, &rows->pool, rows->sets[k]);
            else
                status = bench_time(ctx, &bk, &one_set, 1);
        }
        free(scratch.ws);
    }
    return status;
}

int bench_layout_wanted(const bench_ctx *ctx, int nhwc)
{
    return (ctx->opt->layouts & (nhwc ? BENCH_NHWC : BENCH_NCHW)) != 0;
}

const char *bench_layout_name(int nhwc)
{
    return nhwc ? "nhwc" : "nchw";
}

nnr_shape bench_layout_shape(const size_t nchw[4], int nhwc)
{
    if (nhwc)
        return (nnr_shape){4, {nchw[0], nchw[2], nchw[3], nchw[1]}};
    return (nnr_shape){4, {nchw[0], nchw[1], nchw[2], nchw[3]}};
}

/* ---- Layers with weights ------------------------------------------------------ */

void bench_weighted_free(bench_weighted *t)
{
    free(t->x), free(t->w), free(t->b), free(t->dy), free(t->y), free(t->dx), free(t->dw), free(t->db);
    *t = (bench_weighted){0};
}

int bench_weighted_alloc(bench_weighted *t, size_t nx, size_t ny, size_t nw, size_t nb, const char *what)
{
    int failed = 0;
    t->x = filled_buffer(nx, 1, &failed);
    t->dy = filled_buffer(ny, 2, &failed);
    t->w = filled_buffer(nw, 3, &failed);
    t->b = filled_buffer(nb, 4, &failed);
    t->y = filled_buffer(ny, 5, &failed);
    t->dx = filled_buffer(nx, 6, &failed);
    t->dw = filled_buffer(nw, 7, &failed);
    t->db = filled_buffer(nb, 8, &failed);
    if (!failed)
        return 1;
    fprintf(stderr, "nnref bench: cannot allocate the %s buffers (%zu + %zu + %zu floats).\n", what, nx, ny, nw);
    bench_weighted_free(t);
    return 0;
}

/* ---- The command ------------------------------------------------------------- */

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

    /* The families the command line asked for, and whether one of them is judged against triad. */
    int wanted[sizeof bench_families / sizeof bench_families[0]] = {0}, any_memory_bound = 0;
    for (size_t f = 0; f < bench_n_families; f++) {
        for (size_t i = 0; bench_families[f].layers[i] != NULL; i++)
            wanted[f] |= bench_wants(&opt, bench_families[f].layers[i]);
        any_memory_bound |= wanted[f] && !bench_families[f].compute_bound;
    }

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
    peak_result peak;
    run_peak(&peak);

    bench_ctx ctx = {.opt = &opt, .l3_bytes = l3, .triad_gbps = triad.gbps, .peak_gflops = peak.gflops};
    if (opt.csv) {
        printf("kernel,impl,shape,layout,threads,ms,gbps,pct_triad,gflops,pct_peak\n");
        printf("stream_triad,scalar,3x%zu,-,%lu,%.6f,%.2f,100.0,,\n", triad.n, opt.threads, triad.best_s * 1e3,
               triad.gbps);
        if (peak.gflops > 0)
            print_peak(&ctx, &peak, "");
    } else {
        const char *avx2_note = nnr_avx2_usable()     ? " and avx2"
                                : nnr_avx2_compiled() ? " (this CPU lacks AVX2 or FMA)"
                                                      : " (AVX2 kernels not compiled in)";
        printf("nnref %s bench, kernels: naive%s, threads: %lu, L3: %.1f MB%s\n", nnr_version(), avx2_note,
               opt.threads, l3 / 1e6, l3_known ? "" : " (unknown; assumed)");
        printf("STREAM triad a[i] = b[i] + s*c[i]: 3 float arrays x %.1f MB = %.1f MB, best of %d per 3 x %.1f MB "
               "chunk: %.3f ms, %.2f GB/s\n",
               triad.n * 4 / 1e6, 3.0 * triad.n * 4 / 1e6, TRIAD_REPS, TRIAD_CHUNK * 4 / 1e6, triad.best_s * 1e3,
               triad.gbps);
        if (peak.gflops > 0)
            print_peak(&ctx, &peak, "");
        else
            printf("AVX2 FMA peak: unavailable (%s), so no %%peak column.\n",
                   nnr_avx2_compiled() ? "this CPU lacks AVX2 or FMA" : "AVX2 not compiled in");
        if (any_memory_bound)
            printf("GB/s counts compulsory traffic (every tensor a call must read or write, once). Triad counts\n"
                   "3 arrays, as STREAM does, but its ordinary stores also read a[] first (write-allocate); a\n"
                   "kernel with streaming stores avoids that read, so it can exceed 100%% of triad from DRAM.\n");
        printf("best_ms and median_ms are per call.\n");
    }

    for (size_t f = 0; f < bench_n_families && status == NNR_EXIT_OK; f++) {
        if (!wanted[f])
            continue;
        if (bench_families[f].compute_bound)
            remeasure_peak(&ctx, peak.gflops);
        status = bench_families[f].run(&ctx);
    }
    return status;
}
