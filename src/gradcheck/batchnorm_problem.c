/*
 * A ready-made gradient-check problem for the double naive BatchNorm kernels
 * (nnr_gradcheck_batchnorm in gradcheck.h), and a worked example of how to
 * wrap a layer in an nnr_gc_problem: a context holding every buffer, a
 * forward and a backward that call the kernels, and the tensor list.
 */
#include "config.h"
#include <math.h>
#include <stdlib.h>
#include "nnref/gradcheck.h"

/* Keys of the random tensors, apart from each other and from the harness' g. */
#define BN_GC_KEY_X      0x62780001u
#define BN_GC_KEY_GAMMA  0x62780002u
#define BN_GC_KEY_BETA   0x62780003u
#define BN_GC_KEY_RMEAN  0x62780004u
#define BN_GC_KEY_RVAR   0x62780005u

typedef struct bn_problem {
    nnr_batchnorm_params params;
    nnr_shape shape;
    nnr_bn_gc_pass pass;
    size_t count, channels, cache_len;
    double *x, *gamma, *beta, *y;
    double *dx, *dgamma, *dbeta;
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
        return nnr_batchnorm_fwd_infer_naive_f64(&b->params, &b->shape, b->x, b->gamma, b->beta, b->y, &b->state);
    if (!b->params.renorm)
        return nnr_batchnorm_fwd_train_naive_f64(&b->params, &b->shape, b->x, b->gamma, b->beta, b->y, &b->cache,
                                                 NULL);
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
    return nnr_batchnorm_fwd_train_naive_f64(&b->params, &b->shape, b->x, b->gamma, b->beta, b->y, &b->cache,
                                             &b->state);
}

static nnr_status bn_backward(void *ctx, const double *dy)
{
    bn_problem *b = ctx;
    switch (b->pass) {
    case NNR_BN_GC_TRAIN:
        return nnr_batchnorm_bwd_train_naive_f64(&b->params, &b->shape, b->x, b->gamma, &b->cache, dy, b->dx,
                                                 b->dgamma, b->dbeta);
    case NNR_BN_GC_TRAIN_STAGED:
        return nnr_batchnorm_bwd_train_staged_naive_f64(&b->params, &b->shape, b->x, b->gamma, &b->cache, dy,
                                                        b->dx, b->dgamma, b->dbeta);
    case NNR_BN_GC_INFER:
        return nnr_batchnorm_bwd_infer_naive_f64(&b->params, &b->shape, b->x, b->gamma, &b->state, dy, b->dx,
                                                 b->dgamma, b->dbeta);
    }
    return nnr_error(NNR_ERR_PARAM, "unknown BatchNorm gradient-check pass %d", (int)b->pass);
}

static void bn_problem_free(bn_problem *b)
{
    double **bufs[] = {&b->x, &b->gamma, &b->beta, &b->y, &b->dx, &b->dgamma, &b->dbeta, &b->mean, &b->istd,
                       &b->r, &b->d, &b->running_mean, &b->running_var, &b->moving_stddev, &b->renorm_mean,
                       &b->renorm_stddev, &b->renorm_mean_init, &b->renorm_stddev_init};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        free(*bufs[i]);
        *bufs[i] = NULL;
    }
}

static double *alloc_doubles(size_t n, int *failed)
{
    double *p = calloc(n, sizeof(double));
    if (p == NULL)
        *failed = 1;
    return p;
}

static nnr_status bn_problem_alloc(bn_problem *b)
{
    int failed = 0;
    const size_t n = b->count, C = b->channels, G = b->cache_len;
    b->x = alloc_doubles(n, &failed);
    b->y = alloc_doubles(n, &failed);
    b->dx = alloc_doubles(n, &failed);
    b->gamma = alloc_doubles(C, &failed);
    b->beta = alloc_doubles(C, &failed);
    b->dgamma = alloc_doubles(C, &failed);
    b->dbeta = alloc_doubles(C, &failed);
    b->mean = alloc_doubles(G, &failed);
    b->istd = alloc_doubles(G, &failed);
    b->r = alloc_doubles(C, &failed);
    b->d = alloc_doubles(C, &failed);
    b->running_mean = alloc_doubles(C, &failed);
    b->running_var = alloc_doubles(C, &failed);
    b->moving_stddev = alloc_doubles(C, &failed);
    b->renorm_mean = alloc_doubles(C, &failed);
    b->renorm_stddev = alloc_doubles(C, &failed);
    b->renorm_mean_init = alloc_doubles(C, &failed);
    b->renorm_stddev_init = alloc_doubles(C, &failed);
    if (failed)
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
    nnr_status st = nnr_batchnorm_fwd_train_naive_f64(&plain, &b->shape, b->x, b->gamma, b->beta, b->y,
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
        x_abs_max = fmax(x_abs_max, fabs(b->x[i]));

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
    if (p == NULL)
        return nnr_error(NNR_ERR_NULL, "params is NULL");
    if (shape == NULL)
        return nnr_error(NNR_ERR_NULL, "shape is NULL");
    if (report == NULL)
        return nnr_error(NNR_ERR_NULL, "report is NULL");
    if (pass != NNR_BN_GC_TRAIN && pass != NNR_BN_GC_TRAIN_STAGED && pass != NNR_BN_GC_INFER)
        return nnr_error(NNR_ERR_PARAM, "pass must be NNR_BN_GC_TRAIN, _TRAIN_STAGED or _INFER, got %d", (int)pass);

    bn_problem b = {0};
    b.params = *p;
    b.shape = *shape;
    b.pass = pass;
    nnr_status st = nnr_batchnorm_sizes(p, shape, &b.channels, &b.cache_len);
    if (st.code == NNR_OK)
        st = nnr_shape_numel(shape, "shape", &b.count);
    if (st.code != NNR_OK)
        return st;
    if (pass == NNR_BN_GC_INFER)
        b.params.renorm = 0;             /* inference reads only running_mean and running_var */

    st = bn_problem_alloc(&b);
    if (st.code == NNR_OK) {
        /* x: spread over a few units around an offset, so each channel's
         * batch variance is far from zero even for two values per channel. */
        for (size_t i = 0; i < b.count; i++)
            b.x[i] = 0.5 + 2.0 * nnr_rng_normal(seed ^ BN_GC_KEY_X, i);
        for (size_t c = 0; c < b.channels; c++) {
            b.gamma[c] = 1.0 + 0.5 * nnr_rng_normal(seed ^ BN_GC_KEY_GAMMA, c);
            b.beta[c] = 0.5 * nnr_rng_normal(seed ^ BN_GC_KEY_BETA, c);
            b.running_mean[c] = 0.5 * nnr_rng_normal(seed ^ BN_GC_KEY_RMEAN, c);
            b.running_var[c] = 0.5 + 2.0 * nnr_rng_uniform(seed ^ BN_GC_KEY_RVAR, c);
        }
        if (b.params.renorm)
            st = bn_renorm_clip_state(&b);
    }

    if (st.code == NNR_OK) {
        nnr_gc_problem problem = {0};
        problem.ctx = &b;
        problem.forward = bn_forward;
        problem.backward = bn_backward;
        problem.out = b.y;
        problem.out_count = b.count;
        problem.tensors[problem.n_tensors++] = (nnr_gc_tensor){"x", b.x, b.dx, b.count};
        if (b.params.scale)
            problem.tensors[problem.n_tensors++] = (nnr_gc_tensor){"gamma", b.gamma, b.dgamma, b.channels};
        if (b.params.center)
            problem.tensors[problem.n_tensors++] = (nnr_gc_tensor){"beta", b.beta, b.dbeta, b.channels};
        st = nnr_gradcheck(&problem, options, report);
    }
    bn_problem_free(&b);
    return st;
}
