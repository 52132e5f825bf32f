/*
 * Pooling pieces that do not depend on the implementation: framework
 * presets, the view with every parameter and shape check (SEMANTICS.md §1),
 * the output shapes, and the dispatching entry points.
 *
 * The sentences follow Keras' and PyTorch's wording where they have one
 * ("should be greater than zero", "pad should be at most half of effective
 * kernel size", "Output size is too small", "would be zero or negative",
 * "divisor must be not zero") and always give the argument and the sizes.
 */
#include "config.h"
#include "pool_internal.h"
#include "core/check.h"
#include "core/dispatch.h"

/* ---- Presets (SEMANTICS.md §1) ------------------------------------------ */

nnr_pool_params nnr_pool_keras(int dims, int pool_size)
{
    nnr_pool_params p;
    p.dims = dims;
    p.layout = NNR_CHANNELS_LAST;
    for (int i = 0; i < NNR_POOL_MAX_DIMS; i++) {
        p.window[i] = pool_size;
        p.stride[i] = NNR_POOL_STRIDE_WINDOW;
        p.dilation[i] = 1;
        p.pad[i] = 0;
    }
    p.padding = NNR_POOL_VALID;
    p.ceil_mode = 0;
    p.count_include_pad = 0;
    p.has_divisor_override = 0;
    p.divisor_override = 0;
    return p;
}

nnr_pool_params nnr_pool_torch(int dims, int kernel_size)
{
    nnr_pool_params p = nnr_pool_keras(dims, kernel_size);
    p.layout = NNR_CHANNELS_FIRST;
    p.padding = NNR_POOL_EXPLICIT;
    p.count_include_pad = 1;
    return p;
}

nnr_global_pool_params nnr_global_pool_keras(int dims)
{
    nnr_global_pool_params p;
    p.dims = dims;
    p.layout = NNR_CHANNELS_LAST;
    p.keepdims = 0;
    p.ties = NNR_POOL_TIES_SPLIT;
    return p;
}

nnr_global_pool_params nnr_global_pool_torch(int dims)
{
    nnr_global_pool_params p = nnr_global_pool_keras(dims);
    p.layout = NNR_CHANNELS_FIRST;
    p.keepdims = 1;
    return p;
}

/* ---- Shared by both views -------------------------------------------------- */

/* Name of spatial axis i of a dims-D layer, as the frameworks call them. */
static const char *axis_name(int dims, int i)
{
    static const char *const names3[] = {"depth", "height", "width"};
    if (dims == 1)
        return "length";
    return names3[i + 3 - dims];
}

/* Rank, layout and extents shared by windowed and global pooling: the
 * spatial extents (unit axes in front for 1D/2D), N, C and the element count. */
static nnr_status check_layout_and_rank(int dims, nnr_layout layout, const nnr_shape *in_shape, const char *layer,
                                        size_t *n, size_t *c, size_t spatial[3], size_t *count)
{
    if (in_shape == NULL)
        return nnr_error(NNR_ERR_NULL, "in_shape is NULL");
    if (dims < 1 || dims > NNR_POOL_MAX_DIMS)
        return nnr_error(NNR_ERR_PARAM, "dims must be 1, 2 or 3 spatial axes, got %d", dims);
    if (layout != NNR_CHANNELS_LAST && layout != NNR_CHANNELS_FIRST)
        return nnr_error(NNR_ERR_PARAM, "layout must be NNR_CHANNELS_LAST or NNR_CHANNELS_FIRST, got %d",
                         (int)layout);
    if (in_shape->rank != (size_t)dims + 2)
        return nnr_error(NNR_ERR_SHAPE,
                         "in_shape has rank %zu but %dD %s takes rank %d: %s",
                         in_shape->rank, dims, layer, dims + 2,
                         layout == NNR_CHANNELS_LAST ? "(N, *spatial, C) in channels_last"
                                                     : "(N, C, *spatial) in channels_first");
    NNR_TRY(nnr_shape_numel(in_shape, "in_shape", count));

    const size_t first_spatial = layout == NNR_CHANNELS_LAST ? 1 : 2;
    *n = in_shape->dims[0];
    *c = layout == NNR_CHANNELS_LAST ? in_shape->dims[dims + 1] : in_shape->dims[1];
    for (int a = 0; a < 3; a++)
        spatial[a] = 1;
    for (int i = 0; i < dims; i++)
        spatial[3 - dims + i] = in_shape->dims[first_spatial + (size_t)i];
    return nnr_ok();
}

/* The output shape of rank dims + 2 in `layout` with spatial extents `out`
 * (the last dims entries of out[3] are the layer's axes). */
static void write_shape(int dims, nnr_layout layout, size_t n, size_t c, const size_t out[3], nnr_shape *shape)
{
    const size_t first_spatial = layout == NNR_CHANNELS_LAST ? 1 : 2;
    shape->rank = (size_t)dims + 2;
    shape->dims[0] = n;
    if (layout == NNR_CHANNELS_LAST)
        shape->dims[dims + 1] = c;
    else
        shape->dims[1] = c;
    for (int i = 0; i < dims; i++)
        shape->dims[first_spatial + (size_t)i] = out[3 - dims + i];
}

/* ---- Windowed pooling: one axis ----------------------------------------- */

/* Checks window, stride, dilation and pad of axis i and resolves them. */
static nnr_status axis_params(const nnr_pool_params *p, pool_kind kind, int i, pool_axis *a)
{
    const char *name = axis_name(p->dims, i);
    if (p->window[i] < 1)
        return nnr_error(NNR_ERR_PARAM,
                         "window[%d] (%s) should be greater than zero (Keras pool_size, PyTorch kernel_size), but got %d",
                         i, name, p->window[i]);
    if (p->stride[i] < 1 && p->stride[i] != NNR_POOL_STRIDE_WINDOW)
        return nnr_error(NNR_ERR_PARAM,
                         "stride[%d] (%s) should be greater than zero (or NNR_POOL_STRIDE_WINDOW for 'equal to the "
                         "window', Keras strides=None), but got %d", i, name, p->stride[i]);
    if (p->dilation[i] < 1)
        return nnr_error(NNR_ERR_PARAM, "dilation[%d] (%s) should be greater than zero, but got %d",
                         i, name, p->dilation[i]);
    if (kind == POOL_KIND_AVG && p->dilation[i] != 1)
        return nnr_error(NNR_ERR_PARAM,
                         "dilation[%d] (%s) is %d but average pooling has no dilation (neither has Keras' nor "
                         "PyTorch's AvgPool): use 1", i, name, p->dilation[i]);

    a->window = (size_t)p->window[i];
    a->stride = p->stride[i] == NNR_POOL_STRIDE_WINDOW ? a->window : (size_t)p->stride[i];
    a->dilation = (size_t)p->dilation[i];

    if (p->padding == NNR_POOL_EXPLICIT) {
        /* k_eff = (k-1)d + 1 < 2^62: int operands cannot overflow 64 bits. */
        const long long k_eff = ((long long)p->window[i] - 1) * p->dilation[i] + 1;
        if (p->pad[i] < 0)
            return nnr_error(NNR_ERR_PARAM, "pad[%d] (%s) should be non-negative, but got %d", i, name, p->pad[i]);
        if ((long long)p->pad[i] > k_eff / 2)
            return nnr_error(NNR_ERR_PARAM,
                             "pad[%d] (%s) should be at most half of effective kernel size, but got pad=%d, "
                             "kernel_size=%d and dilation=%d", i, name, p->pad[i], p->window[i], p->dilation[i]);
        a->pad_before = (size_t)p->pad[i];
        a->pad_edge = (size_t)p->pad[i];
    } else {
        if (p->pad[i] != 0)
            return nnr_error(NNR_ERR_PARAM,
                             "pad[%d] (%s) is %d but padding is '%s': pad applies to NNR_POOL_EXPLICIT only", i,
                             name, p->pad[i], p->padding == NNR_POOL_SAME ? "same" : "valid");
        a->pad_before = 0;
        a->pad_edge = 0;
    }
    return nnr_ok();
}

/* Output extent of axis i with input extent n (a->in); every count is
 * checked against size_t overflow. */
static nnr_status axis_output(const nnr_pool_params *p, int i, pool_axis *a)
{
    const char *name = axis_name(p->dims, i);
    const size_t n = a->in, k = a->window, s = a->stride, d = a->dilation;
    size_t k_eff;
    if (!nnr_size_mul(k - 1, d, &k_eff) || k_eff == SIZE_MAX)
        return nnr_error(NNR_ERR_OVERFLOW, "window[%d] (%s) %zu with dilation %zu overflows size_t", i, name, k, d);
    k_eff += 1;

    if (p->padding == NNR_POOL_SAME) {
        /* out = ceil(n/s); total padding max((out-1)s + k_eff - n, 0), the
         * odd cell at the end. (out-1)s <= n-1, so nothing overflows. */
        a->out = (n - 1) / s + 1;
        const size_t covered = n - (a->out - 1) * s;     /* cells from the last window's start to the end */
        const size_t total = k_eff > covered ? k_eff - covered : 0;
        a->pad_before = total / 2;
        return nnr_ok();
    }

    const size_t p_each = a->pad_before;
    /* PyTorch's pooling_output_shape: out = floor((n + 2p - k_eff + (ceil ? s-1 : 0)) / s) + 1,
     * the numerator possibly negative (ceil_mode admits a window longer than
     * the padded input: MaxPool1d(3, 2, ceil_mode=True) on 2 values gives 1). */
    const size_t extra = p->ceil_mode ? s - 1 : 0;
    if (n > (SIZE_MAX - extra) / 2 - p_each)
        return nnr_error(NNR_ERR_OVERFLOW, "input %s %zu plus padding overflows size_t", name, n);
    const size_t padded = n + 2 * p_each;
    if (padded + extra < k_eff) {
        /* out = floor((padded + extra - k_eff)/s) + 1 <= 0: give it in the sentence. */
        const long long out = 1 - (long long)((k_eff - padded - extra + s - 1) / s);
        if (p->padding == NNR_POOL_VALID)
            return nnr_error(NNR_ERR_SHAPE,
                             "window %zu with dilation %zu and stride %zu on an input of %s %zu gives an output "
                             "%s of %lld ('valid' padding): the computed output size would be zero or negative; "
                             "the window must fit", k, d, s, name, n, name, out);
        return nnr_error(NNR_ERR_SHAPE,
                         "window %zu with dilation %zu, stride %zu and pad %zu on an input of %s %zu gives an "
                         "output %s of %lld: Output size is too small (the padded %s %zu is shorter than the "
                         "effective window %zu)", k, d, s, p_each, name, n, name, out, name, padded, k_eff);
    }
    size_t out = (padded + extra - k_eff) / s + 1;
    /* With ceil_mode the last window must start inside the input or the left
     * padding, (out-1)s < n + p, written as out-1 <= (n+p-1)/s so that
     * nothing overflows; out stays >= 1 since the first window starts at -p. */
    if (p->ceil_mode && out - 1 > (n + p_each - 1) / s)
        out -= 1;
    a->out = out;
    return nnr_ok();
}

/* ---- Windowed pooling: the view ------------------------------------------ */

nnr_status nnr_pool_view_make(const nnr_pool_params *p, pool_kind kind, const nnr_shape *in_shape, pool_view *view)
{
    const char *layer = kind == POOL_KIND_MAX ? "max pooling" : "average pooling";
    size_t n, c, spatial[3], count;

    if (p == NULL)
        return nnr_error(NNR_ERR_NULL, "params is NULL");
    NNR_TRY(check_layout_and_rank(p->dims, p->layout, in_shape, layer, &n, &c, spatial, &count));
    if (p->padding != NNR_POOL_VALID && p->padding != NNR_POOL_SAME && p->padding != NNR_POOL_EXPLICIT)
        return nnr_error(NNR_ERR_PARAM,
                         "padding must be NNR_POOL_VALID, NNR_POOL_SAME or NNR_POOL_EXPLICIT, got %d",
                         (int)p->padding);
    if (p->padding == NNR_POOL_SAME && p->ceil_mode)
        return nnr_error(NNR_ERR_PARAM,
                         "ceil_mode is on but padding is 'same', which fixes the output at ceil(n/stride): "
                         "ceil_mode applies to 'valid' and explicit padding only");
    /* Checked for max pooling too, which ignores the divisor, so that every
     * kernel and nnr_pool_output_shape() accept the same parameters. */
    if (p->has_divisor_override && p->divisor_override == 0)
        return nnr_error(NNR_ERR_PARAM, "divisor_override is 0 (has_divisor_override is on): divisor must be not zero");

    pool_view v;
    for (int a = 0; a < 3; a++) {
        v.axis[a].in = spatial[a];
        v.axis[a].out = 1;
        v.axis[a].window = 1;
        v.axis[a].stride = 1;
        v.axis[a].dilation = 1;
        v.axis[a].pad_before = 0;
        v.axis[a].pad_edge = 0;
    }
    for (int i = 0; i < p->dims; i++) {
        pool_axis *a = &v.axis[3 - p->dims + i];
        NNR_TRY(axis_params(p, kind, i, a));
        NNR_TRY(axis_output(p, i, a));
    }

    v.in_plane = spatial[0] * spatial[1] * spatial[2];      /* <= count: cannot overflow */
    size_t out_plane, out_count;
    if (!nnr_size_mul(v.axis[0].out, v.axis[1].out, &out_plane) || !nnr_size_mul(out_plane, v.axis[2].out, &out_plane) ||
        !nnr_size_mul(out_plane, n * c, &out_count))
        return nnr_error(NNR_ERR_OVERFLOW, "the output of in_shape's pooling has more elements than size_t holds");

    v.n = n;
    v.c = c;
    v.out_plane = out_plane;
    v.in_count = count;
    v.out_count = out_count;
    v.layout = p->layout;
    if (kind == POOL_KIND_AVG && p->has_divisor_override) {
        v.divisor_rule = POOL_DIVIDE_OVERRIDE;
        v.divisor_override = (double)p->divisor_override;
    } else {
        /* count_include_pad means something only where there is symmetric
         * explicit padding: 'valid' has none, 'same' divides by the in-bounds
         * count on every Keras backend and in TensorFlow. */
        v.divisor_rule = p->padding == NNR_POOL_EXPLICIT && p->count_include_pad ? POOL_DIVIDE_PADDED
                                                                                   : POOL_DIVIDE_IN_BOUNDS;
        v.divisor_override = 0.0;
    }
    *view = v;
    return nnr_ok();
}

nnr_status nnr_pool_output_shape(const nnr_pool_params *p, const nnr_shape *in_shape, nnr_shape *out_shape)
{
    pool_view v;
    /* The parameters do not say max or average: check them as max pooling
     * (which allows dilation). */
    NNR_TRY(nnr_pool_view_make(p, POOL_KIND_MAX, in_shape, &v));
    if (out_shape == NULL)
        return nnr_error(NNR_ERR_NULL, "out_shape is NULL");
    const size_t out[3] = {v.axis[0].out, v.axis[1].out, v.axis[2].out};
    write_shape(p->dims, p->layout, v.n, v.c, out, out_shape);
    return nnr_ok();
}

/* ---- Global pooling --------------------------------------------------------- */

nnr_status nnr_global_pool_view_make(const nnr_global_pool_params *p, const nnr_shape *in_shape,
                                     global_pool_view *view)
{
    size_t n, c, spatial[3], count;
    if (p == NULL)
        return nnr_error(NNR_ERR_NULL, "params is NULL");
    NNR_TRY(check_layout_and_rank(p->dims, p->layout, in_shape, "global pooling", &n, &c, spatial, &count));
    if (p->ties != NNR_POOL_TIES_FIRST && p->ties != NNR_POOL_TIES_SPLIT)
        return nnr_error(NNR_ERR_PARAM, "ties must be NNR_POOL_TIES_FIRST or NNR_POOL_TIES_SPLIT, got %d",
                         (int)p->ties);
    view->n = n;
    view->c = c;
    view->plane = spatial[0] * spatial[1] * spatial[2];     /* <= count: cannot overflow */
    view->count = count;
    view->layout = p->layout;
    return nnr_ok();
}

nnr_status nnr_global_pool_output_shape(const nnr_global_pool_params *p, const nnr_shape *in_shape,
                                        nnr_shape *out_shape)
{
    global_pool_view v;
    NNR_TRY(nnr_global_pool_view_make(p, in_shape, &v));
    if (out_shape == NULL)
        return nnr_error(NNR_ERR_NULL, "out_shape is NULL");
    if (p->keepdims) {
        const size_t ones[3] = {1, 1, 1};
        write_shape(p->dims, p->layout, v.n, v.c, ones, out_shape);
    } else {
        out_shape->rank = 2;
        out_shape->dims[0] = v.n;
        out_shape->dims[1] = v.c;
    }
    return nnr_ok();
}

/* ---- Dispatching entry points --------------------------------------------- */

nnr_status nnr_maxpool_fwd(const nnr_pool_params *p, const nnr_shape *in_shape, const float *x, float *y,
                           int32_t *argmax)
{
    return nnr_kernels()->maxpool_fwd(p, in_shape, x, y, argmax);
}

nnr_status nnr_maxpool_bwd(const nnr_pool_params *p, const nnr_shape *in_shape, const float *dy,
                           const int32_t *argmax, float *dx)
{
    return nnr_kernels()->maxpool_bwd(p, in_shape, dy, argmax, dx);
}

nnr_status nnr_avgpool_fwd(const nnr_pool_params *p, const nnr_shape *in_shape, const float *x, float *y)
{
    return nnr_kernels()->avgpool_fwd(p, in_shape, x, y);
}

nnr_status nnr_avgpool_bwd(const nnr_pool_params *p, const nnr_shape *in_shape, const float *dy, float *dx)
{
    return nnr_kernels()->avgpool_bwd(p, in_shape, dy, dx);
}

nnr_status nnr_global_maxpool_fwd(const nnr_global_pool_params *p, const nnr_shape *in_shape, const float *x,
                                  float *y)
{
    return nnr_kernels()->global_maxpool_fwd(p, in_shape, x, y);
}

nnr_status nnr_global_maxpool_bwd(const nnr_global_pool_params *p, const nnr_shape *in_shape, const float *x,
                                  const float *y, const float *dy, float *dx)
{
    return nnr_kernels()->global_maxpool_bwd(p, in_shape, x, y, dy, dx);
}

nnr_status nnr_global_avgpool_fwd(const nnr_global_pool_params *p, const nnr_shape *in_shape, const float *x,
                                  float *y)
{
    return nnr_kernels()->global_avgpool_fwd(p, in_shape, x, y);
}

nnr_status nnr_global_avgpool_bwd(const nnr_global_pool_params *p, const nnr_shape *in_shape, const float *dy,
                                  float *dx)
{
    return nnr_kernels()->global_avgpool_bwd(p, in_shape, dy, dx);
}
