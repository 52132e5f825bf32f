/*
 * The `nnref bench` framework: what every layer family's benchmark shares.
 *
 * bench_core.c parses the options, measures the two yardsticks of the run
 * (STREAM triad bandwidth for memory-bound kernels, the single-thread AVX2
 * FMA peak for compute-bound ones), and walks bench_families[], calling each
 * family whose layer names the command line asked for. A family (one file,
 * e.g. bench_norm.c, bench_pool.c) sets up its shapes and buffers and hands
 * every (kernel, implementation, layout) to bench_time(), which times it and
 * prints one table or CSV row.
 *
 * Adding a family, e.g. dense:
 *   1. src/cli/bench_dense.c: `int bench_dense(bench_ctx *ctx)` that, for each
 *      shape, calls bench_section() once (the paragraph above the table),
 *      allocates its buffers (bench_pool_alloc() when calls must stream from
 *      DRAM, or its own arrays and pool = NULL), and calls bench_time() once
 *      per row. Memory-bound rows set bench_kernel.bytes (compulsory traffic
 *      per call), compute-bound rows set .flops (per call); bench_time()
 *      derives GB/s and %triad, or GFLOP/s and %peak, from whichever is set.
 *   2. A declaration below and one row in bench_families[] (bench_core.c):
 *      the layer names it answers to (each must be in nnr_cli_layers[],
 *      cli_util.c), the function, and its paragraph of `--help` text.
 *   3. The file in src_cli_nnref_SOURCES (Makefile.am).
 */
#ifndef NNR_CLI_BENCH_H
#define NNR_CLI_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include "nnref.h"

/* ---- Options and the run's context ---------------------------------------- */

enum { BENCH_NCHW = 1, BENCH_NHWC = 2 };

typedef struct bench_options {
    unsigned long threads;
    int layouts;          /* BENCH_NCHW | BENCH_NHWC bits */
    int csv;
    unsigned long reps;   /* 0: each kernel's default */
    int small_only;
    const char *layers[16];   /* layers named on the command line; none: every layer */
    size_t n_layers;
} bench_options;

typedef struct bench_ctx {
    const bench_options *opt;
    size_t l3_bytes;        /* L3 size (64 MiB assumed when unknown): sizes the rotating pools */
    double triad_gbps;      /* same-run STREAM triad, the 100 % of memory-bound rows */
    double peak_gflops;     /* same-run single-thread AVX2 FMA peak; 0 when unavailable */
    int header_printed;
} bench_ctx;

/* 1 if the command line asked for @p layer (or named no layer at all). */
int bench_wants(const bench_options *o, const char *layer);

/* ---- Memory ----------------------------------------------------------------- */

/* Page-aligned floats (no two buffers share a page or a cache line); NULL if too large or out of memory. */
float *bench_alloc_floats(size_t count);

/* Writes every element (mapping every page before timing) with ordinary floats in [-0.5, 0.5). */
void bench_fill(float *p, size_t count, uint32_t salt);

/* The big tensors of one call; a buffer a family does not need is NULL. */
typedef struct bench_buffers {
    float *x, *y, *dy, *dx;
} bench_buffers;

/*
 * n_sets buffer sets. Timing a large shape on one set would time the cache
 * (a 25 MB tensor fits in a 100 MB L3), so bench_time() gives each call the
 * next set, and the sets together exceed twice the L3 size.
 */
typedef struct bench_pool {
    bench_buffers *sets;
    size_t n_sets;
    size_t count[4];   /* floats of x, y, dy, dx in every set */
} bench_pool;

/*
 * Allocates and fills n_sets sets of x, y, dy, dx holding count[0..3] floats
 * (0: that buffer stays NULL). x and dy get distinct patterns per set, y and
 * dx are zero-ish. Returns 0 (pool empty) when out of memory.
 */
int bench_pool_alloc(bench_pool *pool, size_t n_sets, const size_t count[4]);
void bench_pool_free(bench_pool *pool);

/*
 * Sets a pass needs so that the bytes one call touches, @p bytes_per_set,
 * over all sets exceed 2 x L3: at least 2 for a large shape; 1 (reused,
 * cache resident) otherwise.
 */
size_t bench_sets_needed(const bench_ctx *ctx, double bytes_per_set, int large);

/* ---- Timing ----------------------------------------------------------------- */

/* One kernel invocation on buffer set @p b (NULL when timed without a pool); arg holds the rest. */
typedef nnr_status (*bench_call_fn)(const void *arg, const bench_buffers *b);

/* What bench_time() times and how its row is labelled. */
typedef struct bench_kernel {
    const char *kernel, *impl, *layout;   /* layout: "nchw", "nhwc" or "-" */
    const nnr_shape *shape;
    double bytes;           /* memory-bound row: compulsory bytes per call (GB/s, %triad); else 0 */
    double flops;           /* compute-bound row: flops per call (GFLOP/s, %peak); else 0 */
    unsigned long reps;     /* timed samples unless --reps says otherwise */
    bench_call_fn call;
    const void *arg;
} bench_kernel;

/*
 * Times one kernel and prints its row: one warm-up call on set 0, then reps
 * samples. With n_sets > 1, sample r calls once on set (r + 1) mod n_sets, so
 * its buffers were evicted by the others, after reading one float per 4 KiB
 * page of that set, untimed (bench_core.c says why); with one set (or pool
 * NULL) a sample is as many back-to-back calls as fill 2 ms. Reports the
 * best and the median time per call. Returns NNR_EXIT_OK, or NNR_EXIT_FAIL
 * with a message on stderr if the kernel returned an error.
 */
int bench_time(bench_ctx *ctx, const bench_kernel *k, const bench_pool *pool, size_t n_sets);

/*
 * Unless --csv: prints a blank line, the printf-style paragraph that
 * introduces a shape's rows, and the table header.
 */
void bench_section(bench_ctx *ctx, const char *format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* ---- Families ------------------------------------------------------------- */

/* Benchmarks one problem (dims as the family reads them); `large` selects the rotating pool. */
typedef int (*bench_shape_fn)(bench_ctx *ctx, const size_t dims[4], int large);

/* fn on the large (DRAM-streamed) dims unless --small-only, then on the small (cache-resident) dims. */
int bench_large_then_small(bench_ctx *ctx, bench_shape_fn fn, const size_t large[4], const size_t small[4]);

/* A layer family's benchmark: every shape and pass of the layers it was asked for. */
typedef int (*bench_family_fn)(bench_ctx *ctx);

typedef struct bench_family {
    const char *layers[4];   /* layer names that select it (NULL-terminated) */
    bench_family_fn run;
    const char *help;        /* its paragraph in `nnref bench --help` */
} bench_family;

/* The registry, in bench_core.c; nnr_cmd_bench walks it in order. */
extern const bench_family bench_families[];
extern const size_t bench_n_families;

int bench_batchnorm(bench_ctx *ctx);   /* bench_norm.c */
int bench_layernorm(bench_ctx *ctx);   /* bench_norm.c: LayerNorm and RMSNorm */
int bench_groupnorm(bench_ctx *ctx);   /* bench_norm.c: GroupNorm and InstanceNorm */
int bench_pooling(bench_ctx *ctx);     /* bench_pool.c: MaxPool and AvgPool */
int bench_conv(bench_ctx *ctx);        /* bench_conv.c: Conv2D */
int bench_dense(bench_ctx *ctx);       /* bench_dense.c: Dense and the AVX2 GEMM alone */
int bench_dropout(bench_ctx *ctx);     /* bench_dropout.c: Dropout and ReLU */

/* ---- The FMA peak loop (bench_fma_avx2.c, built only with the AVX2 kernels) ---- */

/*
 * Runs @p iters rounds of BENCH_FMA_CHAINS independent _mm256_fmadd_ps
 * chains (2 x 8 x BENCH_FMA_CHAINS flops per round) and returns a sum of the
 * accumulators, so the work cannot be dropped. Call only when
 * nnr_avx2_usable() is 1.
 */
enum { BENCH_FMA_CHAINS = 12 };
float bench_fma_chains_avx2(uint64_t iters, float a, float b);

#endif /* NNR_CLI_BENCH_H */
