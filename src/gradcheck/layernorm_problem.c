/*
 * Ready-made gradient-check problems for the double naive LayerNorm and
 * RMSNorm kernels (nnr_gradcheck_layernorm, nnr_gradcheck_rmsnorm in
 * gradcheck.h), built like src/gradcheck/batchnorm_problem.c.
 */
#include "config.h"
#include "gradcheck/problem_util.h"

/* Keys of the random tensors x, gamma, beta: LN_GC_KEY + 1, 2, 3, apart from the harness' g. */
#define LN_GC_KEY 0x6c6e0000u

typedef struct ln_problem {
    int rms;                         /* 0: LayerNorm, 1: RMSNorm */
    nnr_layernorm_params ln;
    nnr_rmsnorm_params rp;
    nnr_shape shape;
    size_t d, rows;
    gc_norm t;                       /* x, gamma, beta (D features) */
    double *mean, *istd;             /* rows */
} ln_problem;

static nnr_status ln_forward(void *ctx)
{
    ln_problem *b = ctx;
    if (b->rms)
        return nnr_rmsnorm_fwd_naive_f64(&b->rp, &b->shape, b->t.x, b->t.gamma, b->t.y,
                                         &(nnr_rmsnorm_cache_f64){b->istd});
    return nnr_layernorm_fwd_naive_f64(&b->ln, &b->shape, b->t.x, b->t.gamma, b->t.beta, b->t.y,
                                       &(nnr_layernorm_cache_f64){b->mean, b->istd});
}

static nnr_status ln_backward(void *ctx, const double *dy)
{
    ln_problem *b = ctx;
    if (b->rms)
        return nnr_rmsnorm_bwd_naive_f64(&b->rp, &b->shape, b->t.x, b->t.gamma, &(nnr_rmsnorm_cache_f64){b->istd},
                                         dy, b->t.dx, b->t.dgamma);
    return nnr_layernorm_bwd_naive_f64(&b->ln, &b->shape, b->t.x, b->t.gamma,
                                       &(nnr_layernorm_cache_f64){b->mean, b->istd}, dy, b->t.dx, b->t.dgamma,
                                       b->t.dbeta);
}

/* Allocates, fills x, gamma, beta from the seed and runs the harness. */
static nnr_status ln_run(ln_problem *b, int center, int scale, uint64_t seed, const nnr_gc_options *options,
                         nnr_gc_report *report)
{
    const size_t n = b->d * b->rows;
    gc_buffers mem = {0};
    gc_norm_alloc(&b->t, &mem, n, b->d);
    b->mean = gc_doubles(&mem, b->rows);
    b->istd = gc_doubles(&mem, b->rows);
    nnr_status st;
    if (mem.failed) {
        st = nnr_error(NNR_ERR_NOMEM, "cannot allocate the %s gradient-check buffers (%zu values)",
                       b->rms ? "RMSNorm" : "LayerNorm", n);
    } else {
        gc_norm_fill(&b->t, seed, LN_GC_KEY);
        nnr_gc_problem problem = gc_problem(b, ln_forward, ln_backward, b->t.y, n);
        gc_norm_tensors(&problem, &b->t, b->rms ? "scale" : "gamma", scale, center);
        st = nnr_gradcheck(&problem, options, report);
    }
    gc_buffers_free(&mem);
    return st;
}

nnr_status nnr_gradcheck_layernorm(const nnr_layernorm_params *p, const nnr_shape *shape, uint64_t seed,
                                   const nnr_gc_options *options, nnr_gc_report *report)
{
    NNR_TRY(nnr_need(report, "report"));
    ln_problem b = {0};
    NNR_TRY(nnr_layernorm_sizes(p, shape, &b.d, &b.rows));
    b.ln = *p;
    b.shape = *shape;
    return ln_run(&b, p->center, p->scale, seed, options, report);
}

nnr_status nnr_gradcheck_rmsnorm(const nnr_rmsnorm_params *p, const nnr_shape *shape, uint64_t seed,
                                 const nnr_gc_options *options, nnr_gc_report *report)
{
    NNR_TRY(nnr_need(report, "report"));
    ln_problem b = {0};
    NNR_TRY(nnr_rmsnorm_sizes(p, shape, &b.d, &b.rows));
    b.rms = 1;
    b.rp = *p;
    b.shape = *shape;
    return ln_run(&b, 0, p->scale, seed, options, report);
}
