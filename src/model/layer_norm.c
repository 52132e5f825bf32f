/*
 * The normalization layers as model layers: BatchNorm, LayerNorm, RMSNorm,
 * GroupNorm and InstanceNorm. Each wrapper describes the layer's tensors
 * (setup), then hands the layer's buffers to the kernel (forward, backward);
 * no arithmetic lives here.
 *
 * Built twice (model_internal.h): the float build calls the dispatching
 * kernels, the double build the _naive_f64 kernels.
 *
 * Cache layout (reals, each array sized for the largest batch):
 *   BatchNorm     mean (G·C), istd (G·C), r (C), d (C)   G = ghost batches
 *   LayerNorm     mean (rows), istd (rows)
 *   RMSNorm       rstd (rows)
 *   GroupNorm     mean (N·G), istd (N·G)
 *   InstanceNorm  mean (N·C), istd (N·C), var (N·C)
 */
#include "config.h"
#include <string.h>
#include "core/real.h"
#include "model_internal.h"

typedef NNR_TYPED(nnr_batchnorm_state) bn_state;
typedef NNR_TYPED(nnr_batchnorm_cache) bn_cache;
typedef NNR_TYPED(nnr_layernorm_cache) ln_cache;
typedef NNR_TYPED(nnr_rmsnorm_cache) rms_cache;
typedef NNR_TYPED(nnr_groupnorm_cache) gn_cache;
typedef NNR_TYPED(nnr_instancenorm_state) in_state;

/* Data of the layer's tensor called name (trainable or state), or NULL. */
static nnr_real *param(nnr_layer *l, const char *name)
{
    return nnr_model_find_tensor(l, name, 0);
}

static nnr_real *grad(nnr_layer *l, const char *name)
{
    return nnr_model_find_tensor(l, name, 1);
}

/* Array k of len reals in the layer's cache. */
static nnr_real *cache_array(nnr_layer *l, size_t k, size_t len)
{
    return (nnr_real *)l->cache + k * len;
}

/* Counters are kept in an int64 state tensor so that they are saved. */
static uint64_t *counter(nnr_layer *l)
{
    return nnr_model_find_tensor(l, "num_batches_tracked", 0);
}

/* Used by setup: γ (ones) when scale and β (zeros) when center, of the
 * given shape, as trainable tensors. */
static void add_gamma_beta(nnr_layer *l, int scale, int center, const nnr_shape *shape)
{
    if (scale)
        nnr_model_layer_param(l, "gamma", shape, NNR_INIT_ONES);
    if (center)
        nnr_model_layer_param(l, "beta", shape, NNR_INIT_ZEROS);
}

/* Used by setup: the running statistics of c channels as state tensors,
 * running_mean (zeros) and running_var (ones), batch renormalization's
 * three when renorm, and the update counter. */
static void add_running_stats(nnr_layer *l, size_t c, int renorm)
{
    const nnr_shape vec = nnr_model_vec(c);
    nnr_model_layer_state(l, "running_mean", &vec, NNR_INIT_ZEROS, l->dtype);
    nnr_model_layer_state(l, "running_var", &vec, NNR_INIT_ONES, l->dtype);
    if (renorm) {
        nnr_model_layer_state(l, "moving_stddev", &vec, NNR_INIT_ONES, l->dtype);
        nnr_model_layer_state(l, "renorm_mean", &vec, NNR_INIT_ZEROS, l->dtype);
        nnr_model_layer_state(l, "renorm_stddev", &vec, NNR_INIT_ONES, l->dtype);
    }
    const nnr_shape one = nnr_model_vec(1);
    nnr_model_layer_state(l, "num_batches_tracked", &one, NNR_INIT_ZEROS, NNR_INT64);
}

/* ---- BatchNorm ------------------------------------------------------------ */

static nnr_status bn_setup(nnr_layer *l, const nnr_shape *in)
{
    const nnr_batchnorm_params *p = l->config;
    size_t c = 0, len = 0;
    nnr_status st = nnr_batchnorm_sizes(p, in, &c, &len);
    if (st.code != NNR_OK)
        return st;
    const nnr_shape vec = nnr_model_vec(c);
    add_gamma_beta(l, p->scale, p->center, &vec);
    add_running_stats(l, c, p->renorm);
    l->out_shape = *in;
    l->cache_bytes = (2 * len + 2 * c) * sizeof(nnr_real);
    return nnr_ok();
}

/* The running statistics as the kernels take them. */
static bn_state bn_state_of(nnr_layer *l)
{
    bn_state s = {0};
    s.running_mean = param(l, "running_mean");
    s.running_var = param(l, "running_var");
    s.moving_stddev = param(l, "moving_stddev");
    s.renorm_mean = param(l, "renorm_mean");
    s.renorm_stddev = param(l, "renorm_stddev");
    s.num_batches_tracked = *counter(l);
    return s;
}

/* The cache for a forward of this layer: arrays sized for the largest batch. */
static bn_cache bn_cache_of(nnr_layer *l)
{
    const size_t c = nnr_model_find(l, "running_mean")->count;
    const size_t len = l->cache_bytes / sizeof(nnr_real) / 2 - c;
    bn_cache k;
    k.mean = cache_array(l, 0, len);
    k.istd = cache_array(l, 1, len);
    k.r = (nnr_real *)l->cache + 2 * len;
    k.d = (nnr_real *)l->cache + 2 * len + c;
    return k;
}

static nnr_status bn_forward(nnr_layer *l, size_t n, const void *x, void *y, int training)
{
    const nnr_batchnorm_params *p = l->config;
    const nnr_shape shape = nnr_model_batch(&l->in_shape, n);
    bn_state s = bn_state_of(l);
    if (!training)
        return NNR_MODEL_KERNEL(nnr_batchnorm_fwd_infer)(p, &shape, x, param(l, "gamma"), param(l, "beta"), y, &s);
    const bn_cache k = bn_cache_of(l);
    nnr_status st = NNR_MODEL_KERNEL(nnr_batchnorm_fwd_train)(p, &shape, x, param(l, "gamma"), param(l, "beta"),
                                                              y, &k, &s);
    if (st.code == NNR_OK)
        *counter(l) = s.num_batches_tracked;
    return st;
}

static nnr_status bn_backward(nnr_layer *l, size_t n, const void *x, const void *y, const void *dy, void *dx)
{
    (void)y;
    const nnr_shape shape = nnr_model_batch(&l->in_shape, n);
    const bn_cache k = bn_cache_of(l);
    return NNR_MODEL_KERNEL(nnr_batchnorm_bwd_train)(l->config, &shape, x, param(l, "gamma"), &k, dy, dx,
                                                     grad(l, "gamma"), grad(l, "beta"));
}

const nnr_layer_ops NNR_MODEL_OPS(batchnorm) = {"batchnorm", bn_setup, bn_forward, bn_backward};

/* ---- LayerNorm and RMSNorm -------------------------------------------------- */

/* Shape of the per-element parameters: the normalized axes' extents in
 * increasing axis order (the kernels' layout of γ and β). The batch axis is
 * refused: γ would then depend on the batch size. */
static nnr_status affine_shape(const int *axes, size_t n_axes, const nnr_shape *in, const char *layer,
                               nnr_shape *out)
{
    int taken[NNR_MAX_RANK] = {0};
    for (size_t i = 0; i < n_axes && i < NNR_MAX_RANK; i++) {
        const long a = axes[i] < 0 ? (long)axes[i] + (long)in->rank : (long)axes[i];
        if (a == 0)
            return nnr_error(NNR_ERR_PARAM, "%s over the batch axis 0 is not supported in a model: its parameters "
                             "would depend on the batch size", layer);
        if (a > 0 && a < (long)in->rank)
            taken[a] = 1;
    }
    out->rank = 0;
    for (size_t a = 1; a < in->rank; a++)
        if (taken[a])
            out->dims[out->rank++] = in->dims[a];
    return nnr_ok();
}

static nnr_status ln_setup(nnr_layer *l, const nnr_shape *in)
{
    const nnr_layernorm_params *p = l->config;
    size_t d = 0, rows = 0;
    nnr_status st = nnr_layernorm_sizes(p, in, &d, &rows);
    if (st.code == NNR_OK)
        st = affine_shape(p->axes, p->n_axes, in, "LayerNorm", &l->out_shape);
    if (st.code != NNR_OK)
        return st;
    const nnr_shape affine = l->out_shape;
    add_gamma_beta(l, p->scale, p->center, &affine);
    l->out_shape = *in;
    l->cache_bytes = 2 * rows * sizeof(nnr_real);
    return nnr_ok();
}

static ln_cache ln_cache_of(nnr_layer *l)
{
    const size_t rows = l->cache_bytes / (2 * sizeof(nnr_real));
    ln_cache k = {cache_array(l, 0, rows), cache_array(l, 1, rows)};
    return k;
}

static nnr_status ln_forward(nnr_layer *l, size_t n, const void *x, void *y, int training)
{
    (void)training;
    const nnr_shape shape = nnr_model_batch(&l->in_shape, n);
    const ln_cache k = ln_cache_of(l);
    return NNR_MODEL_KERNEL(nnr_layernorm_fwd)(l->config, &shape, x, param(l, "gamma"), param(l, "beta"), y, &k);
}

static nnr_status ln_backward(nnr_layer *l, size_t n, const void *x, const void *y, const void *dy, void *dx)
{
    (void)y;
    const nnr_shape shape = nnr_model_batch(&l->in_shape, n);
    const ln_cache k = ln_cache_of(l);
    return NNR_MODEL_KERNEL(nnr_layernorm_bwd)(l->config, &shape, x, param(l, "gamma"), &k, dy, dx,
                                               grad(l, "gamma"), grad(l, "beta"));
}

const nnr_layer_ops NNR_MODEL_OPS(layernorm) = {"layernorm", ln_setup, ln_forward, ln_backward};

static nnr_status rms_setup(nnr_layer *l, const nnr_shape *in)
{
    const nnr_rmsnorm_params *p = l->config;
    size_t d = 0, rows = 0;
    nnr_status st = nnr_rmsnorm_sizes(p, in, &d, &rows);
    nnr_shape affine;
    if (st.code == NNR_OK)
        st = affine_shape(p->axes, p->n_axes, in, "RMSNorm", &affine);
    if (st.code != NNR_OK)
        return st;
    if (p->scale)
        nnr_model_layer_param(l, "scale", &affine, NNR_INIT_ONES);
    l->out_shape = *in;
    l->cache_bytes = rows * sizeof(nnr_real);
    return nnr_ok();
}

static nnr_status rms_forward(nnr_layer *l, size_t n, const void *x, void *y, int training)
{
    (void)training;
    const nnr_shape shape = nnr_model_batch(&l->in_shape, n);
    const rms_cache k = {l->cache};
    return NNR_MODEL_KERNEL(nnr_rmsnorm_fwd)(l->config, &shape, x, param(l, "scale"), y, &k);
}

static nnr_status rms_backward(nnr_layer *l, size_t n, const void *x, const void *y, const void *dy, void *dx)
{
    (void)y;
    const nnr_shape shape = nnr_model_batch(&l->in_shape, n);
    const rms_cache k = {l->cache};
    return NNR_MODEL_KERNEL(nnr_rmsnorm_bwd)(l->config, &shape, x, param(l, "scale"), &k, dy, dx,
                                             grad(l, "scale"));
}

const nnr_layer_ops NNR_MODEL_OPS(rmsnorm) = {"rmsnorm", rms_setup, rms_forward, rms_backward};

/* ---- GroupNorm and InstanceNorm --------------------------------------------- */

static nnr_status gn_setup_common(nnr_layer *l, const nnr_groupnorm_params *p, const nnr_shape *in,
                                  size_t arrays, size_t *channels)
{
    size_t c = 0, g = 0, len = 0;
    nnr_status st = nnr_groupnorm_sizes(p, in, &c, &g, &len);
    if (st.code != NNR_OK)
        return st;
    const nnr_shape vec = nnr_model_vec(c);
    add_gamma_beta(l, p->scale, p->center, &vec);
    l->out_shape = *in;
    l->cache_bytes = arrays * len * sizeof(nnr_real);
    *channels = c;
    return nnr_ok();
}

static nnr_status gn_setup(nnr_layer *l, const nnr_shape *in)
{
    size_t c;
    return gn_setup_common(l, l->config, in, 2, &c);
}

static gn_cache gn_cache_of(nnr_layer *l, size_t arrays)
{
    const size_t len = l->cache_bytes / (arrays * sizeof(nnr_real));
    gn_cache k = {cache_array(l, 0, len), cache_array(l, 1, len), arrays > 2 ? cache_array(l, 2, len) : NULL};
    return k;
}

static nnr_status gn_forward(nnr_layer *l, size_t n, const void *x, void *y, int training)
{
    (void)training;
    const nnr_shape shape = nnr_model_batch(&l->in_shape, n);
    const gn_cache k = gn_cache_of(l, 2);
    return NNR_MODEL_KERNEL(nnr_groupnorm_fwd)(l->config, &shape, x, param(l, "gamma"), param(l, "beta"), y, &k);
}

static nnr_status gn_backward(nnr_layer *l, size_t n, const void *x, const void *y, const void *dy, void *dx)
{
    (void)y;
    const nnr_shape shape = nnr_model_batch(&l->in_shape, n);
    const gn_cache k = gn_cache_of(l, 2);
    return NNR_MODEL_KERNEL(nnr_groupnorm_bwd)(l->config, &shape, x, param(l, "gamma"), &k, dy, dx,
                                               grad(l, "gamma"), grad(l, "beta"));
}

const nnr_layer_ops NNR_MODEL_OPS(groupnorm) = {"groupnorm", gn_setup, gn_forward, gn_backward};

/* InstanceNorm: l->flags is track_running_stats. */
static nnr_status in_setup(nnr_layer *l, const nnr_shape *in)
{
    const nnr_instancenorm_params *p = l->config;
    const nnr_groupnorm_params gp = nnr_instancenorm_as_groupnorm(p);
    size_t c = 0;
    nnr_status st = gn_setup_common(l, &gp, in, 3, &c);
    if (st.code != NNR_OK || !l->flags)
        return st;
    if (!(p->momentum >= 0.0 && p->momentum <= 1.0))
        return nnr_error(NNR_ERR_PARAM, "momentum must be in [0, 1], got %g", p->momentum);
    add_running_stats(l, c, 0);
    return nnr_ok();
}

static nnr_status in_forward(nnr_layer *l, size_t n, const void *x, void *y, int training)
{
    const nnr_shape shape = nnr_model_batch(&l->in_shape, n);
    in_state s = {param(l, "running_mean"), param(l, "running_var"), l->flags ? *counter(l) : 0};
    if (!training && l->flags)
        return NNR_MODEL_KERNEL(nnr_instancenorm_fwd_infer)(l->config, &shape, x, param(l, "gamma"),
                                                            param(l, "beta"), y, &s);
    /* Training, or inference without running statistics (PyTorch's default:
     * the input's own statistics, nothing updated). */
    const gn_cache k = gn_cache_of(l, 3);
    nnr_status st = NNR_MODEL_KERNEL(nnr_instancenorm_fwd_train)(l->config, &shape, x, param(l, "gamma"),
                                                                 param(l, "beta"), y, &k,
                                                                 training && l->flags ? &s : NULL);
    if (st.code == NNR_OK && training && l->flags)
        *counter(l) = s.num_batches_tracked;
    return st;
}

static nnr_status in_backward(nnr_layer *l, size_t n, const void *x, const void *y, const void *dy, void *dx)
{
    (void)y;
    const nnr_shape shape = nnr_model_batch(&l->in_shape, n);
    const gn_cache k = gn_cache_of(l, 3);
    return NNR_MODEL_KERNEL(nnr_instancenorm_bwd_train)(l->config, &shape, x, param(l, "gamma"), &k, dy, dx,
                                                        grad(l, "gamma"), grad(l, "beta"));
}

const nnr_layer_ops NNR_MODEL_OPS(instancenorm) = {"instancenorm", in_setup, in_forward, in_backward};
