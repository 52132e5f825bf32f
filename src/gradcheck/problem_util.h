/*
 * What the ready-made gradient-check problems (src/gradcheck/<family>_problem.c)
 * share. Each problem is a context holding every buffer, a forward and a
 * backward that call the double naive kernels, and the list of tensors to
 * check; these helpers are the parts that read the same in every one of
 * them: the argument check, the buffers (allocated together, freed
 * together), seeded normal tensors, the nnr_gc_problem, a normalization
 * layer's x, gamma and beta, and the whole problem of a layer linear in
 * each of x, w and b (convolution, Dense).
 * Internal to the library.
 */
#ifndef NNR_GRADCHECK_PROBLEM_UTIL_H
#define NNR_GRADCHECK_PROBLEM_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include "core/check.h"
#include "nnref/gradcheck.h"

/* NNR_ERR_NULL naming the first of params, shape and report that is NULL. */
static inline nnr_status gc_need_args(const void *params, const nnr_shape *shape, const nnr_gc_report *report)
{
    NNR_TRY(nnr_need(params, "params"));
    NNR_TRY(nnr_need(shape, "shape"));
    return nnr_need(report, "report");
}

/* ---- Buffers ------------------------------------------------------------------ */

enum { GC_MAX_BUFFERS = 20 };

/* The zeroed arrays of one problem, freed together by gc_buffers_free(). */
typedef struct gc_buffers {
    void *ptr[GC_MAX_BUFFERS];
    size_t n;
    int failed;   /* 1 once an allocation failed */
} gc_buffers;

/* count zeroed elements of size bytes, kept in bufs; NULL and bufs->failed = 1 if out of memory. */
static inline void *gc_alloc(gc_buffers *bufs, size_t count, size_t size)
{
    void *p = bufs->n < GC_MAX_BUFFERS ? calloc(count, size) : NULL;
    if (p == NULL)
        bufs->failed = 1;
    else
        bufs->ptr[bufs->n++] = p;
    return p;
}

static inline double *gc_doubles(gc_buffers *bufs, size_t count)
{
    return gc_alloc(bufs, count, sizeof(double));
}

static inline void gc_buffers_free(gc_buffers *bufs)
{
    for (size_t i = 0; i < bufs->n; i++)
        free(bufs->ptr[i]);
    bufs->n = 0;
}

/* x[i] = mean + sd·z_i, z_i the standard normal sample i of stream `seed` (nnr_rng_normal). */
static inline void gc_fill_normal(double *x, size_t count, uint64_t seed, double mean, double sd)
{
    for (size_t i = 0; i < count; i++)
        x[i] = mean + sd * nnr_rng_normal(seed, i);
}

/* ---- The problem ---------------------------------------------------------------- */

/* A problem with no tensors yet: ctx, its forward and backward, and the output the forward writes. */
static inline nnr_gc_problem gc_problem(void *ctx, nnr_status (*forward)(void *ctx),
                                        nnr_status (*backward)(void *ctx, const double *dout), const double *out,
                                        size_t out_count)
{
    nnr_gc_problem problem = {0};
    problem.ctx = ctx;
    problem.forward = forward;
    problem.backward = backward;
    problem.out = out;
    problem.out_count = out_count;
    return problem;
}

/* Appends a tensor to check: its values, where the backward writes its gradient, and its entries. */
static inline void gc_add_tensor(nnr_gc_problem *problem, const char *name, double *value, const double *grad,
                                 size_t count)
{
    problem->tensors[problem->n_tensors++] = (nnr_gc_tensor){name, value, grad, count};
}

/* ---- A normalization layer's x, gamma and beta (BatchNorm, GroupNorm, LayerNorm) -- */

/* The tensors every normalization problem has; count entries of x, `features` of gamma. */
typedef struct gc_norm {
    size_t count, features;
    double *x, *y, *dx;
    double *gamma, *beta, *dgamma, *dbeta;
} gc_norm;

/* t's buffers in mem: x, y, dx of count doubles, gamma, beta, dgamma, dbeta of `features`. */
static inline void gc_norm_alloc(gc_norm *t, gc_buffers *mem, size_t count, size_t features)
{
    t->count = count;
    t->features = features;
    t->x = gc_doubles(mem, count);
    t->y = gc_doubles(mem, count);
    t->dx = gc_doubles(mem, count);
    t->gamma = gc_doubles(mem, features);
    t->beta = gc_doubles(mem, features);
    t->dgamma = gc_doubles(mem, features);
    t->dbeta = gc_doubles(mem, features);
}

/*
 * x = 0.5 + 2 z: spread over a few units around an offset, so that every
 * variance (and RMSNorm's mean square) is far from zero even for two values
 * per group; gamma = 1 + 0.5 z, beta = 0.5 z. Streams seed ^ (key + 1), + 2, + 3.
 */
static inline void gc_norm_fill(const gc_norm *t, uint64_t seed, uint32_t key)
{
    gc_fill_normal(t->x, t->count, seed ^ (key + 1u), 0.5, 2.0);
    gc_fill_normal(t->gamma, t->features, seed ^ (key + 2u), 1.0, 0.5);
    gc_fill_normal(t->beta, t->features, seed ^ (key + 3u), 0.0, 0.5);
}

/* Appends x, then gamma (named gamma_name) if scale, then beta if center. */
static inline void gc_norm_tensors(nnr_gc_problem *problem, const gc_norm *t, const char *gamma_name, int scale,
                                   int center)
{
    gc_add_tensor(problem, "x", t->x, t->dx, t->count);
    if (scale)
        gc_add_tensor(problem, gamma_name, t->gamma, t->dgamma, t->features);
    if (center)
        gc_add_tensor(problem, "beta", t->beta, t->dbeta, t->features);
}

/* ---- A layer linear in each of x, w and b (convolution, Dense) -------------------- */

/* The tensors of such a layer: counts from gc_weighted_counts(), buffers from gc_weighted_run(). */
typedef struct gc_weighted {
    size_t in_count, out_count, w_count, b_count;
    double *x, *w, *b, *y, *dx, *dw, *db;
} gc_weighted;

/* t's entry counts: x from the input shape, y from out, w from w_shape, b_count biases. */
static inline nnr_status gc_weighted_counts(gc_weighted *t, const nnr_shape *in, const nnr_shape *out,
                                            const nnr_shape *w_shape, size_t b_count)
{
    NNR_TRY(nnr_shape_numel(in, "shape", &t->in_count));
    NNR_TRY(nnr_shape_numel(out, "the output shape", &t->out_count));
    NNR_TRY(nnr_shape_numel(w_shape, "the weight shape", &t->w_count));
    t->b_count = b_count;
    return nnr_ok();
}

/*
 * Allocates t's buffers, fills x ~ N(0, 1), w ~ N(0, 0.5) and b ~ N(0, 1)
 * (streams seed ^ (key + 1), + 2, + 3), checks x, w and, with use_bias, b
 * of the problem ctx whose forward writes t->y, and frees the buffers.
 * Such a layer is linear in each tensor, so the central difference has no
 * truncation error: what remains is the rounding of L over the step, and
 * no entry is a kink. `layer` names the layer in the out-of-memory message.
 */
static inline nnr_status gc_weighted_run(gc_weighted *t, const char *layer, uint32_t key, int use_bias, void *ctx,
                                         nnr_status (*forward)(void *ctx),
                                         nnr_status (*backward)(void *ctx, const double *dout), uint64_t seed,
                                         const nnr_gc_options *options, nnr_gc_report *report)
{
    gc_buffers mem = {0};
    t->x = gc_doubles(&mem, t->in_count);
    t->dx = gc_doubles(&mem, t->in_count);
    t->w = gc_doubles(&mem, t->w_count);
    t->dw = gc_doubles(&mem, t->w_count);
    t->b = gc_doubles(&mem, t->b_count);
    t->db = gc_doubles(&mem, t->b_count);
    t->y = gc_doubles(&mem, t->out_count);
    nnr_status st;
    if (mem.failed) {
        st = nnr_error(NNR_ERR_NOMEM, "cannot allocate the %s gradient-check buffers (%zu + %zu + %zu values)",
                       layer, t->in_count, t->w_count, t->out_count);
    } else {
        /* Unit-scale outputs for the small fan-in (C_in·taps, in_features) of a gradient check. */
        gc_fill_normal(t->x, t->in_count, seed ^ (key + 1u), 0.0, 1.0);
        gc_fill_normal(t->w, t->w_count, seed ^ (key + 2u), 0.0, 0.5);
        gc_fill_normal(t->b, t->b_count, seed ^ (key + 3u), 0.0, 1.0);

        nnr_gc_problem problem = gc_problem(ctx, forward, backward, t->y, t->out_count);
        gc_add_tensor(&problem, "x", t->x, t->dx, t->in_count);
        gc_add_tensor(&problem, "w", t->w, t->dw, t->w_count);
        if (use_bias)
            gc_add_tensor(&problem, "b", t->b, t->db, t->b_count);
        st = nnr_gradcheck(&problem, options, report);
    }
    gc_buffers_free(&mem);
    return st;
}

#endif /* NNR_GRADCHECK_PROBLEM_UTIL_H */
