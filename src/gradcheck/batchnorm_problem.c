/*
 * A ready-made gradient-check problem for the double naive BatchNorm kernels
 * (nnr_gradcheck_batchnorm in gradcheck.h), and a worked example of how to
 * wrap a layer in an nnr_gc_problem: a context holding every buffer, a
 * forward and a backward that call the kernels, and the tensor list
 * (problem_util.h holds what every ready-made problem shares).
 */
#include "config.h"
#include <math.h>
#include "gradcheck/problem_util.h"

/* Keys of the random tensors, apart from each other and from the harness' g:
 * x, gamma, beta are BN_GC_KEY + 1, 2, 3 (gc_norm_fill). */
#define BN_GC_KEY        0x62780000u
#define BN_GC_KEY_RMEAN  (BN_GC_KEY + 4u)
#define BN_GC_KEY_RVAR   (BN_GC_KEY + 5u)

typedef struct bn_problem {
    nnr_batchnorm_params params;
    nnr_shape shape;
    nnr_bn_gc_pass pass;
    size_t count, channels, cache_len;
    gc_buffers mem;
    gc_norm t;                                         /* x, gamma, beta (C channels) */
    double *mean, *istd, *r, *d;                       /* cache */
    double *running_mean, *running_var, *moving_stddev, *renorm_mean, *renorm_stddev;
    double *renorm_mean_init, *renorm_stddev_init;     /* renorm: the state every forward starts from */
    nnr_batchnorm_cache_f64 cache;
    nnr_batchnorm_state_f64 state;
} bn_problem;

static nnr_status bn_forward(void *ctx)
{
    bn_problem *b = ctx;
    if (b->pass == NNR_BN_GC_INFER)
        return nnr_batchnorm_fwd_infer_naive_f64(&b->params, &b->shape, b->t.x, b->t.gamma, b->t.beta, b->t.y,
                                                 &b->state);
    if (!b->params.renorm)
        return nnr_batchnorm_fwd_train_naive_f64(&b->params, &b->shape, b->t.x, b->t.gamma, b->t.beta, b->t.y,
                                                 &b->cache, NULL);
    /* Renorm: the forward updates the renorm statistics r and d are computed
     * from, so every evaluation of L starts from the same state. */
    for (size_t c = 0; c < b->channels; c++) {
        b->renorm_mean[c] = b->renorm_mean_init[c];
        b->renorm_stddev[c] = b->renorm_stddev_init[c];
        b->running_mean[c] = 0.0;
        b->running_var[c] = 1.0;
        b->moving_stddev[c] = 1.0;
    }
    b->state.num_batches_tracked = 0;
    return nnr_batchnorm_fwd_train_naive_f64(&b->params, &b->shape, b->t.x, b->t.gamma, b->t.beta, b->t.y,
                                             &b->cache, &b->state);
}

static nnr_status bn_backward(void *ctx, const double *dy)
{
    bn_problem *b = ctx;
    switch (b->pass) {
    case NNR_BN_GC_TRAIN:
        return nnr_batchnorm_bwd_train_naive_f64(&b->params, &b->shape, b->t.x, b->t.gamma, &b->cache, dy, b->t.dx,
                                                 b->t.dgamma, b->t.dbeta);
    case NNR_BN_GC_TRAIN_STAGED:
        return nnr_batchnorm_bwd_train_staged_naive_f64(&b->params, &b->shape, b->t.x, b->t.gamma, &b->cache, dy,
                                                        b->t.dx, b->t.dgamma, b->t.dbeta);
    case NNR_BN_GC_INFER:
        return nnr_batchnorm_bwd_infer_naive_f64(&b->params, &b->shape, b->t.x, b->t.gamma, &b->state, dy, b->t.dx,
                                                 b->t.dgamma, b->t.dbeta);
    }
    return nnr_error(NNR_ERR_PARAM, "unknown BatchNorm gradient-check pass %d", (int)b->pass);
}

/* Every buffer in b->mem (freed by gc_buffers_free), the cache and the state pointing into them. */
static nnr_status bn_problem_alloc(bn_problem *b)
{
    gc_buffers *mem = &b->mem;
    const size_t n = b->count, C = b->channels, G = b->cache_len;
    gc_norm_alloc(&b->t, mem, n, C);
    b->mean = gc_doubles(mem, G);
    b->istd = gc_doubles(mem, G);
    double **per_channel[] = {&b->r, &b->d, &b->running_mean, &b->running_var, &b->moving_stddev,
                              &b->renorm_mean, &b->renorm_stddev, &b->renorm_mean_init, &b->renorm_stddev_init};
    for (size_t i = 0; i < sizeof per_channel / sizeof per_channel[0]; i++)
        *per_channel[i] = gc_doubles(mem, C);
    if (mem->failed)
        return nnr_error(NNR_ERR_NOMEM, "cannot allocate the BatchNorm gradient-check buffers (%zu values)", n);
    b->cache = (nnr_batchnorm_cache_f64){b->mean, b->istd, b->r, b->d};
    b->state = (nnr_batchnorm_state_f64){b->running_mean, b->running_var, b->moving_stddev, b->renorm_mean,
                                         b->renorm_stddev, 0};
    return nnr_ok();
}

/*
 * Renorm's r and d are stop-gradient constants (Keras), so the backward
 * ignores how they depend on x; finite differences do not. Only where r and
 * d sit on their clip limits, with a margin wider than any step, are they
 * truly constant and the two agree. r: sigma_r = max(renorm_stddev,
 * sqrt(eps)); renorm_stddev = 0 makes r = sigma_B / sqrt(eps), which must
 * exceed rmax twice over (else, if rmin > 0, a huge renorm_stddev clips r at
 * rmin). d: a renorm_mean far below every x makes (mu_B - mu_r) / sigma_r
 * exceed dmax twice over.
 */
static nnr_status bn_renorm_clip_state(bn_problem *b)
{
    const nnr_batchnorm_params *p = &b->params;
    if (!isfinite(p->rmax) || !isfinite(p->dmax))
        return nnr_error(NNR_ERR_PARAM,
                         "renorm gradient check needs finite rmax and dmax (got rmax %g, dmax %g): r and d are "
                         "stop-gradient constants in Keras, so the backward ignores their dependence on x; finite "
                         "differences can only agree where r and d are clipped", p->rmax, p->dmax);

    /* Batch standard deviations sigma_B from a plain training forward. */
    nnr_batchnorm_params plain = *p;
    plain.renorm = 0;
    nnr_status st = nnr_batchnorm_fwd_train_naive_f64(&plain, &b->shape, b->t.x, b->t.gamma, b->t.beta, b->t.y,
                                                      &b->cache, NULL);
    if (st.code != NNR_OK)
        return st;
    double sigma_min = INFINITY, sigma_max = 0.0, x_abs_max = 0.0;
    for (size_t c = 0; c < b->channels; c++) {
        const double sigma_b = 1.0 / b->istd[c];
        sigma_min = fmin(sigma_min, sigma_b);
        sigma_max = fmax(sigma_max, sigma_b);
    }
    for (size_t i = 0; i < b->count; i++)
        x_abs_max = fmax(x_abs_max, fabs(b->t.x[i]));

    double sigma_r;
    if (sigma_min > 2.0 * p->rmax * sqrt(p->epsilon)) {
        sigma_r = sqrt(p->epsilon);          /* r = rmax */
        for (size_t c = 0; c < b->channels; c++)
            b->renorm_stddev_init[c] = 0.0;
    } else if (p->rmin > 0.0) {
        sigma_r = 2.0 * sigma_max / p->rmin; /* r = rmin */
        for (size_t c = 0; c < b->channels; c++)
            b->renorm_stddev_init[c] = sigma_r;
    } else {
        return nnr_error(NNR_ERR_PARAM,
                         "renorm gradient check cannot clip r: the batch stddev %g is below 2*rmax*sqrt(epsilon) "
                         "= %g and rmin is 0; r would follow x, which Keras' stop-gradient hides from the backward",
                         sigma_min, 2.0 * p->rmax * sqrt(p->epsilon));
    }
    /* mu_B >= -x_abs_max, so mu_B - mu_r >= 2 (dmax + 1) sigma_r: d = +dmax.
     * With sigma_r = 0 (epsilon = 0) the quotient is +inf and clips alike. */
    const double far = 2.0 * (p->dmax + 1.0) * sigma_r + 2.0 * x_abs_max + 1.0;
    for (size_t c = 0; c < b->channels; c++)
        b->renorm_mean_init[c] = -far;
    return nnr_ok();
}

nnr_status nnr_gradcheck_batchnorm(const nnr_batchnorm_params *p, const nnr_shape *shape, nnr_bn_gc_pass pass,
                                   uint64_t seed, const nnr_gc_options *options, nnr_gc_report *report)
{
    NNR_TRY(gc_need_args(p, shape, report));
    if (pass != NNR_BN_GC_TRAIN && pass != NNR_BN_GC_TRAIN_STAGED && pass != NNR_BN_GC_INFER)
        return nnr_error(NNR_ERR_PARAM, "pass must be NNR_BN_GC_TRAIN, _TRAIN_STAGED or _INFER, got %d", (int)pass);

    bn_problem b = {0};
    b.params = *p;
    b.shape = *shape;
    b.pass = pass;
    NNR_TRY(nnr_batchnorm_sizes(p, shape, &b.channels, &b.cache_len));
    NNR_TRY(nnr_shape_numel(shape, "shape", &b.count));
    if (pass == NNR_BN_GC_INFER)
        b.params.renorm = 0;             /* inference reads only running_mean and running_var */

    nnr_status st = bn_problem_alloc(&b);
    if (st.code == NNR_OK) {
        /* x, gamma, beta as for every normalization problem (x spread
         * around an offset: each channel's batch variance is far from zero
         * even for two values per channel); the running statistics too. */
        gc_norm_fill(&b.t, seed, BN_GC_KEY);
        gc_fill_normal(b.running_mean, b.channels, seed ^ BN_GC_KEY_RMEAN, 0.0, 0.5);
        for (size_t c = 0; c < b.channels; c++)
            b.running_var[c] = 0.5 + 2.0 * nnr_rng_uniform(seed ^ BN_GC_KEY_RVAR, c);
        if (b.params.renorm)
            st = bn_renorm_clip_state(&b);
    }

    if (st.code == NNR_OK) {
        nnr_gc_problem problem = gc_problem(&b, bn_forward, bn_backward, b.t.y, b.count);
        gc_norm_tensors(&problem, &b.t, "gamma", b.params.scale, b.params.center);
        st = nnr_gradcheck(&problem, options, report);
    }
    gc_buffers_free(&b.mem);
    return st;
}
