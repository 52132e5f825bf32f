/*
 * The `nnref bench` framework: what every layer family's benchmark shares.
 *
 * bench_core.c parses the options, measures the two yardsticks of the run
 * (STREAM triad bandwidth for memory-bound kernels, the single-thread AVX2
 * FMA peak for compute-bound ones), and walks bench_families[], calling each
 * family whose layer names the command line asked for. A family (one file,
 * e.g. bench_norm.c, bench_pool.c) says what is particular to it: its
 * shapes, its passes and the traffic or flops each counts, its kernels per
 * implementation, and the call of one pass. bench_rows_time() walks the
 * implementations and passes and hands every row to bench_time(), which
 * times it and prints one table or CSV row.
 *
 * Adding a family, e.g. dense:
 *   1. src/cli/bench_dense.c: a table of bench_pass (row names, counted
 *      traffic or flops), one of bench_impl (naive, then AVX2 in AVX2
 *      builds, each pointing at the family's struct of kernel pointers), a
 *      bench_call_fn that runs pass k with those kernels, and `int
 *      bench_dense(bench_ctx *ctx)` that, for each shape, fills a bench_rows,
 *      allocates its buffers (bench_rows_pool() when calls must stream from
 *      DRAM; its own arrays otherwise), calls bench_section() once (the
 *      paragraph above the table) and bench_rows_time() once per layout.
 *      Memory-bound rows count bytes (bench_rows.tensor_bytes times each
 *      pass's `counted`), compute-bound rows flops (.flops times `counted`);
 *      bench_time() derives GB/s and %triad, or GFLOP/s and %peak.
 *   2. A declaration below and one row in bench_families[] (bench_core.c):
 *      the layer names it answers to (each must be in nnr_cli_layers[],
 *      cli_util.c), the function, its paragraph of `--help` text, and 1 if
 *      it is compute bound (the FMA peak is then measured again before it).
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
    double peak_gflops;     /* single-thread AVX2 FMA peak of the rows being timed: the larger of the startup
                               measurement and the one just before a compute-bound family; 0 when unavailable */
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
    float *ws;              /* the timed implementation's workspace (bench_rows.workspace), else NULL */
    size_t ws_floats;
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

/*
 * One kernel invocation: pass number @p pass of the family with one
 * implementation's @p kernels (the family's struct of kernel pointers,
 * bench_impl.kernels), on buffer set @p b (NULL when timed without a pool);
 * arg holds the rest.
 */
typedef nnr_status (*bench_call_fn)(const void *arg, const void *kernels, int pass, const bench_buffers *b);

/* What bench_time() times and how its row is labelled. */
typedef struct bench_kernel {
    const char *kernel, *impl, *layout;   /* layout: "nchw", "nhwc" or "-" */
    const nnr_shape *shape;
    double bytes;           /* memory-bound row: compulsory bytes per call (GB/s, %triad); else 0 */
    double flops;           /* compute-bound row: flops per call (GFLOP/s, %peak); else 0 */
    unsigned long reps;     /* timed samples unless --reps says otherwise */
    bench_call_fn call;
    const void *arg;
    const void *kernels;    /* passed to call, with pass */
    int pass;
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

/* ---- A family's rows: its passes and implementations -------------------------- */

enum { BENCH_MAX_PASSES = 8 };

/* Entries of a family's table. */
#define BENCH_COUNT(table) (sizeof (table) / sizeof (table)[0])

/* One kind of row: a pass (forward, forward+backward, ...) of one layer. */
typedef struct bench_pass {
    const char *kernel;     /* the kernel column, e.g. "maxpool_fwd" */
    const char *layer;      /* the layer name that selects it on the command line, e.g. "maxpool" */
    double counted;         /* memory bound: compulsory traffic in x-sized tensors;
                               compute bound: flops in units of bench_rows.flops */
    double streamed;        /* memory bound: x-sized tensors one call streams, which size its pool (0: counted) */
    int naive_small_only;   /* 1: the naive kernel skips it on the large shape (seconds per call there) */
} bench_pass;

/* One implementation of a family's kernels. */
typedef struct bench_impl {
    const char *name;                       /* the impl column: "naive" or "avx2" */
    unsigned long reps_large, reps_small;   /* timed samples (unless --reps) on the large and the small shape */
    const void *kernels;                    /* the family's struct of this implementation's kernel pointers */
} bench_impl;

/* How many of a family's n implementations (naive first, then AVX2 in AVX2 builds) run on this CPU. */
size_t bench_impls_run(size_t n);

/* A family's rows on one shape. */
typedef struct bench_rows {
    const bench_pass *passes;
    size_t n_passes;
    const bench_impl *impls;
    size_t n_impls;
    bench_call_fn call;
    int large;              /* the large shape: rotating pool, reps_large, naive_small_only passes skipped */
    double tensor_bytes;    /* memory bound: bytes of one x-sized tensor; 0 for compute bound */
    double flops;           /* compute bound: what a pass's `counted` multiplies; 0 for memory bound */
    /* Compute bound, optional: the floats of workspace `kernels` ask for, given call's arg; each
     * implementation is timed with its own, filled, in bench_buffers.ws. `what` names the layer. */
    nnr_status (*workspace)(const void *arg, const void *kernels, size_t *floats);
    const char *what;
    /* Memory bound, from bench_rows_pool(): the pool, and the sets each pass rotates through. */
    bench_pool pool;
    size_t sets[BENCH_MAX_PASSES];
} bench_rows;

/*
 * For a memory-bound family: each pass's buffer sets (bench_sets_needed()
 * on its streamed tensors) and a pool of as many as the most demanding pass
 * needs, of count[0..3]-float x, y, dy, dx. Returns 0 with a message on
 * stderr when out of memory. bench_pool_free(&rows->pool) releases it.
 */
int bench_rows_pool(const bench_ctx *ctx, bench_rows *rows, const size_t count[4]);

/*
 * Times each implementation that runs (naive first) on each pass the
 * command line asked for, one row each, labelled with layout and shape;
 * the call gets arg. Returns NNR_EXIT_OK or the first failure.
 */
int bench_rows_time(bench_ctx *ctx, const bench_rows *rows, const char *layout, const nnr_shape *shape,
                    const void *arg);

/* 1 if the command line asked for layout nhwc (1) or nchw (0). */
int bench_layout_wanted(const bench_ctx *ctx, int nhwc);

/* "nhwc" or "nchw". */
const char *bench_layout_name(int nhwc);

/* The (n, c, h, w) dims as a rank-4 shape in layout nchw (nhwc = 0) or nhwc (1). */
nnr_shape bench_layout_shape(const size_t nchw[4], int nhwc);

/* ---- Layers with weights, timed on one set of tensors (conv, dense) ------------ */

typedef struct bench_weighted {
    float *x, *w, *b, *dy, *y, *dx, *dw, *db;
} bench_weighted;

/*
 * x and dx of nx floats, y and dy of ny, w and dw of nw, b and db of nb,
 * each filled with its own pattern. Returns 0 with a message naming
 * `what` on stderr (and t empty) when out of memory.
 */
int bench_weighted_alloc(bench_weighted *t, size_t nx, size_t ny, size_t nw, size_t nb, const char *what);
void bench_weighted_free(bench_weighted *t);

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
    int compute_bound;       /* 1: rows report GFLOP/s and %peak, and the FMA peak is measured again before them */
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
