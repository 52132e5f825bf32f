/*
 * Ready-made gradient-check problems for the double naive LayerNorm and
 * RMSNorm kernels (nnr_gradcheck_layernorm, nnr_gradcheck_rmsnorm in
 * gradcheck.h), built like src/gradcheck/batchnorm_problem.c.
 */
#include "config.h"
#include <stdlib.h>
#include "nnref/gradcheck.h"

/* Keys of the random tensors, apart from each other and from the harness' g. */
#define LN_GC_KEY_X      0x6c6e0001u
#define LN_GC_KEY_GAMMA  0x6c6e0002u
#define LN_GC_KEY_BETA   0x6c6e0003u

typedef struct ln_problem {
    int rms;                         /* 0: LayerNorm, 1: RMSNorm */
    nnr_layernorm_params ln;
    nnr_rmsnorm_params rp;
    nnr_shape shape;
    size_t count, d, rows;
    double *x, *gamma, *beta, *y, *dx, *dgamma, *dbeta, *mean, *istd;
} ln_problem;

static nnr_status ln_forward(void *ctx)
{
    ln_problem *b = ctx;
    if (b->rms)
        return nnr_rmsnorm_fwd_naive_f64(&b->rp, &b->shape, b->x, b->gamma, b->y,
                                         &(nnr_rmsnorm_cache_f64){b->istd});
    return nnr_layernorm_fwd_naive_f64(&b->ln, &b->shape, b->x, b->gamma, b->beta, b->y,
                                       &(nnr_layernorm_cache_f64){b->mean, b->istd});
}

static nnr_status ln_backward(void *ctx, const double *dy)
{
    ln_problem *b = ctx;
    if (b->rms)
        return nnr_rmsnorm_bwd_naive_f64(&b->rp, &b->shape, b->x, b->gamma, &(nnr_rmsnorm_cache_f64){b->istd},
                                         dy, b->dx, b->dgamma);
    return nnr_layernorm_bwd_naive_f64(&b->ln, &b->shape, b->x, b->gamma,
                                       &(nnr_layernorm_cache_f64){b->mean, b->istd}, dy, b->dx, b->dgamma,
                                       b->dbeta);
}

static void ln_problem_free(ln_problem *b)
{
    double **bufs[] = {&b->x, &b->gamma, &b->beta, &b->y, &b->dx, &b->dgamma, &b->dbeta, &b->mean, &b->istd};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        free(*bufs[i]);
        *bufs[i] = NULL;
    }
}

/* Allocates, fills x, gamma, beta from the seed and runs the harness. */
static nnr_status ln_run(ln_problem *b, int center, int scale, uint64_t seed, const nnr_gc_options *options,
                         nnr_gc_report *report)
{
    const size_t n = b->count, D = b->d, R = b->rows;
    b->x = calloc(n, sizeof(double));
    b->y = calloc(n, sizeof(double));
    b->dx = calloc(n, sizeof(double));
    b->gamma = calloc(D, sizeof(double));
    b->beta = calloc(D, sizeof(double));
    b->dgamma = calloc(D, sizeof(double));
    b->dbeta = calloc(D, sizeof(double));
    b->mean = calloc(R, sizeof(double));
    b->istd = calloc(R, sizeof(double));
    nnr_status st = nnr_ok();
    if (!b->x || !b->y || !b->dx || !b->gamma || !b->beta || !b->dgamma || !b->dbeta || !b->mean || !b->istd)
        st = nnr_error(NNR_ERR_NOMEM, "cannot allocate the %s gradient-check buffers (%zu values)",
                       b->rms ? "RMSNorm" : "LayerNorm", n);
    if (st.code == NNR_OK) {
        /* x spread over a few units around an offset, so every row's variance
         * (LayerNorm) and mean square (RMSNorm) are far from zero. */
        for (size_t i = 0; i < n; i++)
            b->x[i] = 0.5 + 2.0 * nnr_rng_normal(seed ^ LN_GC_KEY_X, i);
        for (size_t k = 0; k < D; k++) {
            b->gamma[k] = 1.0 + 0.5 * nnr_rng_normal(seed ^ LN_GC_KEY_GAMMA, k);
            b->beta[k] = 0.5 * nnr_rng_normal(seed ^ LN_GC_KEY_BETA, k);
        }
        nnr_gc_problem problem = {0};
        problem.ctx = b;
        problem.forward = ln_forward;
        problem.backward = ln_backward;
        problem.out = b->y;
        problem.out_count = n;
        problem.tensors[problem.n_tensors++] = (nnr_gc_tensor){"x", b->x, b->dx, n};
        if (scale)
            problem.tensors[problem.n_tensors++] = (nnr_gc_tensor){b->rms ? "scale" : "gamma", b->gamma,
                                                                   b->dgamma, D};
        if (center)
            problem.tensors[problem.n_tensors++] = (nnr_gc_tensor){"beta", b->beta, b->dbeta, D};
        st = nnr_gradcheck(&problem, options, report);
    }
    ln_problem_free(b);
    return st;
}

nnr_status nnr_gradcheck_layernorm(const nnr_layernorm_params *p, const nnr_shape *shape, uint64_t seed,
                                   const nnr_gc_options *options, nnr_gc_report *report)
{
    if (report == NULL)
        return nnr_error(NNR_ERR_NULL, "report is NULL");
    ln_problem b = {0};
    nnr_status st = nnr_layernorm_sizes(p, shape, &b.d, &b.rows);
    if (st.code != NNR_OK)
        return st;
    b.ln = *p;
    b.shape = *shape;
    b.count = b.d * b.rows;
    return ln_run(&b, p->center, p->scale, seed, options, report);
}

nnr_status nnr_gradcheck_rmsnorm(const nnr_rmsnorm_params *p, const nnr_shape *shape, uint64_t seed,
                                 const nnr_gc_options *options, nnr_gc_report *report)
{
    if (report == NULL)
        return nnr_error(NNR_ERR_NULL, "report is NULL");
    ln_problem b = {0};
    nnr_status st = nnr_rmsnorm_sizes(p, shape, &b.d, &b.rows);
    if (st.code != NNR_OK)
        return st;
    b.rms = 1;
    b.rp = *p;
    b.shape = *shape;
    b.count = b.d * b.rows;
    return ln_run(&b, 0, p->scale, seed, options, report);
}
