/*
 * Convolution pieces that do not depend on the implementation: framework
 * presets, the "same" padding helper, the view with every parameter and
 * shape check (SEMANTICS.md §6), the output and weight shapes, and the
 * dispatching entry points.
 *
 * The sentences follow Keras' and PyTorch's wording where they have one
 * ("`strides > 1` not supported in conjunction with `dilation_rate > 1`",
 * "padding='same' is not supported for strided convolutions", "Kernel size
 * can't be greater than actual input size") and always give the argument
 * and the sizes.
 */
#include "config.h"
#include <stdint.h>
#include "conv_internal.h"
#include "core/check.h"
#include "core/dispatch.h"

/* ---- Presets (SEMANTICS.md §6) ------------------------------------------ */

nnr_conv_params nnr_conv_keras(int dims, int in_channels, int filters, int kernel_size)
{
    nnr_conv_params p;
    p.dims = dims;
    p.layout = NNR_CHANNELS_LAST;
    p.in_channels = in_channels;
    p.filters = filters;
    for (int i = 0; i < NNR_CONV_MAX_DIMS; i++) {
        p.kernel[i] = kernel_size;
        p.stride[i] = 1;
        p.dilation[i] = 1;
        p.pad_before[i] = 0;
        p.pad_after[i] = 0;
    }
    p.padding = NNR_CONV_VALID;
    p.use_bias = 1;
    p.weight_layout = NNR_CONV_WEIGHT_KERAS;
    p.forbid_strided_dilation = 1;
    p.forbid_strided_same = 0;
    return p;
}

nnr_conv_params nnr_conv_torch(int dims, int in_channels, int out_channels, int kernel_size)
{
    nnr_conv_params p = nnr_conv_keras(dims, in_channels, out_channels, kernel_size);
    p.layout = NNR_CHANNELS_FIRST;
    p.padding = NNR_CONV_EXPLICIT;
    p.weight_layout = NNR_CONV_WEIGHT_TORCH;
    p.forbid_strided_dilation = 0;
    p.forbid_strided_same = 1;
    return p;
}

/* ---- One axis -------------------------------------------------------------- */

/* Name of spatial axis i of a dims-D layer, as the frameworks call them. */
static const char *axis_name(int dims, int i)
{
    if (dims == 1)
        return "length";
    return i == 0 ? "height" : "width";
}

/* k_eff = (k-1)d + 1 for k, d >= 1, or 0 when it does not fit in size_t. */
static size_t effective_kernel(size_t k, size_t d)
{
    size_t span;
    if (!nnr_size_mul(k - 1, d, &span) || span == SIZE_MAX)
        return 0;
    return span + 1;
}

nnr_status nnr_conv_same_padding(size_t n, int k, int s, int d, size_t *out, size_t *before, size_t *after)
{
    if (n < 1)
        return nnr_error(NNR_ERR_PARAM, "n (the input extent) should be at least 1, but got %zu", n);
    if (k < 1 || s < 1 || d < 1)
        return nnr_error(NNR_ERR_PARAM,
                         "k, s and d (kernel, stride, dilation) should be at least 1, but got k=%d, s=%d, d=%d",
                         k, s, d);
    const size_t k_eff = effective_kernel((size_t)k, (size_t)d);
    if (k_eff == 0)
        return nnr_error(NNR_ERR_OVERFLOW, "kernel %d with dilation %d overflows size_t", k, d);
    /* out = ceil(n/s); (out-1)s <= n-1, so `covered` (cells from the last
     * window's start to the end) is at least 1 and nothing overflows. */
    const size_t o = (n - 1) / (size_t)s + 1;
    const size_t covered = n - (o - 1) * (size_t)s;
    const size_t total = k_eff > covered ? k_eff - covered : 0;
    if (out != NULL)
        *out = o;
    if (before != NULL)
        *before = total / 2;
    if (after != NULL)
        *after = total - total / 2;
    return nnr_ok();
}

/* Checks kernel, stride, dilation and pads of axis i (no input needed). */
static nnr_status axis_params(const nnr_conv_params *p, int i)
{
    const char *name = axis_name(p->dims, i);
    if (p->kernel[i] < 1)
        return nnr_error(NNR_ERR_PARAM,
                         "kernel[%d] (%s) should be greater than zero (Keras kernel_size cannot contain 0), but "
                         "got %d", i, name, p->kernel[i]);
    if (p->stride[i] < 1)
        return nnr_error(NNR_ERR_PARAM,
                         "stride[%d] (%s) should be greater than zero (Keras: strides cannot contain 0; PyTorch: "
                         "non-positive stride is not supported), but got %d", i, name, p->stride[i]);
    if (p->dilation[i] < 1)
        return nnr_error(NNR_ERR_PARAM, "dilation[%d] (%s) should be greater than zero, but got %d", i, name,
                         p->dilation[i]);
    if (p->padding == NNR_CONV_EXPLICIT) {
        if (p->pad_before[i] < 0 || p->pad_after[i] < 0)
            return nnr_error(NNR_ERR_PARAM,
                             "pad_before[%d] and pad_after[%d] (%s) should be non-negative, but got %d and %d", i, i,
                             name, p->pad_before[i], p->pad_after[i]);
    } else if (p->pad_before[i] != 0 || p->pad_after[i] != 0) {
        return nnr_error(NNR_ERR_PARAM,
                         "pad_before[%d]/pad_after[%d] (%s) are %d/%d but padding is '%s': pads apply to "
                         "NNR_CONV_EXPLICIT only", i, i, name, p->pad_before[i], p->pad_after[i],
                         p->padding == NNR_CONV_SAME ? "same" : "valid");
    }
    return nnr_ok();
}

/* Every check of the parameters that needs no input shape. */
static nnr_status check_params(const nnr_conv_params *p)
{
    if (p == NULL)
        return nnr_error(NNR_ERR_NULL, "params is NULL");
    if (p->dims < 1 || p->dims > NNR_CONV_MAX_DIMS)
        return nnr_error(NNR_ERR_PARAM, "dims must be 1 (Conv1D) or 2 (Conv2D) spatial axes, got %d", p->dims);
    if (p->layout != NNR_CHANNELS_LAST && p->layout != NNR_CHANNELS_FIRST)
        return nnr_error(NNR_ERR_PARAM, "layout must be NNR_CHANNELS_LAST or NNR_CHANNELS_FIRST, got %d",
                         (int)p->layout);
    if (p->padding != NNR_CONV_VALID && p->padding != NNR_CONV_SAME && p->padding != NNR_CONV_EXPLICIT)
        return nnr_error(NNR_ERR_PARAM, "padding must be NNR_CONV_VALID, NNR_CONV_SAME or NNR_CONV_EXPLICIT, got %d",
                         (int)p->padding);
    if (p->weight_layout != NNR_CONV_WEIGHT_KERAS && p->weight_layout != NNR_CONV_WEIGHT_TORCH)
        return nnr_error(NNR_ERR_PARAM, "weight_layout must be NNR_CONV_WEIGHT_KERAS or NNR_CONV_WEIGHT_TORCH, got %d",
                         (int)p->weight_layout);
    if (p->in_channels < 1)
        return nnr_error(NNR_ERR_PARAM, "in_channels should be greater than zero, but got %d", p->in_channels);
    if (p->filters < 1)
        return nnr_error(NNR_ERR_PARAM,
                         "filters (C_out) should be a strictly positive value (Keras: Invalid value for argument "
                         "`filters`), but got %d", p->filters);
    int max_stride = 1, max_dilation = 1;
    for (int i = 0; i < p->dims; i++) {
        NNR_TRY(axis_params(p, i));
        if (p->stride[i] > max_stride)
            max_stride = p->stride[i];
        if (p->dilation[i] > max_dilation)
            max_dilation = p->dilation[i];
    }
    /* Keras' test is on the maxima over the axes: a stride of 2 on one axis
     * with a dilation of 2 on the other is rejected too. */
    if (p->forbid_strided_dilation && max_stride > 1 && max_dilation > 1)
        return nnr_error(NNR_ERR_PARAM,
                         "stride and dilation: `strides > 1` not supported in conjunction with `dilation_rate > 1` "
                         "(Keras; got largest stride %d and largest dilation %d; forbid_strided_dilation is on)",
                         max_stride, max_dilation);
    if (p->forbid_strided_same && p->padding == NNR_CONV_SAME && max_stride > 1)
        return nnr_error(NNR_ERR_PARAM,
                         "padding: padding='same' is not supported for strided convolutions (PyTorch; got stride "
                         "%d; forbid_strided_same is on: give explicit pads instead)", max_stride);
    return nnr_ok();
}

/* Output extent and padding of axis i over input extent a->in. */
static nnr_status axis_output(const nnr_conv_params *p, int i, conv_axis *a)
{
    const char *name = axis_name(p->dims, i);
    const size_t n = a->in, k = a->kernel, s = a->stride, d = a->dilation;
    const size_t k_eff = effective_kernel(k, d);
    if (k_eff == 0)
        return nnr_error(NNR_ERR_OVERFLOW, "kernel[%d] (%s) %zu with dilation %zu overflows size_t", i, name, k, d);

    if (p->padding == NNR_CONV_SAME) {
        NNR_TRY(nnr_conv_same_padding(n, (int)k, (int)s, (int)d, &a->out, &a->pad_before, &a->pad_after));
        return nnr_ok();
    }
    a->pad_before = p->padding == NNR_CONV_EXPLICIT ? (size_t)p->pad_before[i] : 0;
    a->pad_after = p->padding == NNR_CONV_EXPLICIT ? (size_t)p->pad_after[i] : 0;
    if (n > SIZE_MAX - a->pad_before - a->pad_after)
        return nnr_error(NNR_ERR_OVERFLOW, "input %s %zu plus padding overflows size_t", name, n);
    const size_t padded = n + a->pad_before + a->pad_after;
    if (padded < k_eff)
        return nnr_error(NNR_ERR_SHAPE,
                         "kernel[%d] (%s) %zu with dilation %zu spans %zu cells, more than the padded input %s %zu "
                         "(input %zu + padding %zu + %zu): Kernel size can't be greater than actual input size; the "
                         "computed output size would be zero or negative", i, name, k, d, k_eff, name, padded, n,
                         a->pad_before, a->pad_after);
    a->out = (padded - k_eff) / s + 1;
    return nnr_ok();
}

/* ---- The view ---------------------------------------------------------------- */

nnr_status nnr_conv_view_make(const nnr_conv_params *p, const nnr_shape *in_shape, conv_view *view)
{
    NNR_TRY(check_params(p));
    if (in_shape == NULL)
        return nnr_error(NNR_ERR_NULL, "in_shape is NULL");
    if (in_shape->rank != (size_t)p->dims + 2)
        return nnr_error(NNR_ERR_SHAPE, "in_shape has rank %zu but Conv%dD takes rank %d: %s", in_shape->rank,
                         p->dims, p->dims + 2,
                         p->layout == NNR_CHANNELS_LAST ? "(N, *spatial, C_in) in channels_last"
                                                        : "(N, C_in, *spatial) in channels_first");
    size_t count;
    NNR_TRY(nnr_shape_numel(in_shape, "in_shape", &count));

    conv_view v;
    const size_t first_spatial = p->layout == NNR_CHANNELS_LAST ? 1 : 2;
    v.n = in_shape->dims[0];
    v.cin = p->layout == NNR_CHANNELS_LAST ? in_shape->dims[p->dims + 1] : in_shape->dims[1];
    v.cout = (size_t)p->filters;
    if (v.cin != (size_t)p->in_channels)
        return nnr_error(NNR_ERR_SHAPE,
                         "in_shape has %zu channels (axis %d, %s) but in_channels is %d", v.cin,
                         p->layout == NNR_CHANNELS_LAST ? p->dims + 1 : 1,
                         p->layout == NNR_CHANNELS_LAST ? "channels_last" : "channels_first", p->in_channels);
    for (int a = 0; a < 2; a++)
        v.axis[a] = (conv_axis){1, 1, 1, 1, 1, 0, 0};
    for (int i = 0; i < p->dims; i++) {
        conv_axis *a = &v.axis[2 - p->dims + i];
        a->in = in_shape->dims[first_spatial + (size_t)i];
        a->kernel = (size_t)p->kernel[i];
        a->stride = (size_t)p->stride[i];
        a->dilation = (size_t)p->dilation[i];
        NNR_TRY(axis_output(p, i, a));
    }
    v.in_plane = v.axis[0].in * v.axis[1].in;        /* <= count: cannot overflow */
    v.taps = v.axis[0].kernel * v.axis[1].kernel;    /* two ints: fits in 64 bits */
    size_t out_plane, out_count, w_count;
    if (!nnr_size_mul(v.axis[0].out, v.axis[1].out, &out_plane) || !nnr_size_mul(out_plane, v.cout, &out_count) ||
        !nnr_size_mul(out_count, v.n, &out_count))
        return nnr_error(NNR_ERR_OVERFLOW, "the output of in_shape's convolution has more elements than size_t holds");
    if (!nnr_size_mul(v.taps, v.cin, &w_count) || !nnr_size_mul(w_count, v.cout, &w_count))
        return nnr_error(NNR_ERR_OVERFLOW, "the weight tensor (C_out x C_in x kernel) has more elements than size_t "
                                           "holds");
    v.out_plane = out_plane;
    v.in_count = count;
    v.out_count = out_count;
    v.w_count = w_count;
    v.layout = p->layout;
    v.weight_layout = p->weight_layout;
    v.use_bias = p->use_bias != 0;
    *view = v;
    return nnr_ok();
}

nnr_status nnr_conv_output_shape(const nnr_conv_params *p, const nnr_shape *in_shape, nnr_shape *out_shape)
{
    conv_view v;
    NNR_TRY(nnr_conv_view_make(p, in_shape, &v));
    if (out_shape == NULL)
        return nnr_error(NNR_ERR_NULL, "out_shape is NULL");
    const size_t first_spatial = p->layout == NNR_CHANNELS_LAST ? 1 : 2;
    nnr_shape s;
    s.rank = (size_t)p->dims + 2;
    s.dims[0] = v.n;
    s.dims[p->layout == NNR_CHANNELS_LAST ? (size_t)p->dims + 1 : 1] = v.cout;
    for (int i = 0; i < p->dims; i++)
        s.dims[first_spatial + (size_t)i] = v.axis[2 - p->dims + i].out;
    *out_shape = s;
    return nnr_ok();
}

nnr_status nnr_conv_weight_shape(const nnr_conv_params *p, nnr_shape *w_shape)
{
    NNR_TRY(check_params(p));
    if (w_shape == NULL)
        return nnr_error(NNR_ERR_NULL, "w_shape is NULL");
    nnr_shape s;
    s.rank = (size_t)p->dims + 2;
    if (p->weight_layout == NNR_CONV_WEIGHT_KERAS) {
        for (int i = 0; i < p->dims; i++)
            s.dims[i] = (size_t)p->kernel[i];
        s.dims[p->dims] = (size_t)p->in_channels;
        s.dims[p->dims + 1] = (size_t)p->filters;
    } else {
        s.dims[0] = (size_t)p->filters;
        s.dims[1] = (size_t)p->in_channels;
        for (int i = 0; i < p->dims; i++)
            s.dims[2 + i] = (size_t)p->kernel[i];
    }
    size_t count;
    NNR_TRY(nnr_shape_numel(&s, "the weight shape", &count));
    *w_shape = s;
    return nnr_ok();
}

nnr_status nnr_conv_workspace_size_naive(const nnr_conv_params *p, const nnr_shape *in_shape, size_t *floats)
{
    conv_view v;
    NNR_TRY(nnr_conv_view_make(p, in_shape, &v));
    NNR_TRY(nnr_need(floats, "floats"));
    *floats = 0;
    return nnr_ok();
}

/* ---- Dispatching entry points --------------------------------------------- */

nnr_status nnr_conv_workspace_size(const nnr_conv_params *p, const nnr_shape *in_shape, size_t *floats)
{
    return nnr_kernels()->conv_workspace_size(p, in_shape, floats);
}

nnr_status nnr_conv_fwd(const nnr_conv_params *p, const nnr_shape *in_shape, const float *x, const float *w,
                        const float *b, float *y, float *workspace, size_t workspace_floats)
{
    return nnr_kernels()->conv_fwd(p, in_shape, x, w, b, y, workspace, workspace_floats);
}

nnr_status nnr_conv_bwd(const nnr_conv_params *p, const nnr_shape *in_shape, const float *x, const float *w,
                        const float *dy, float *dx, float *dw, float *db, float *workspace, size_t workspace_floats)
{
    return nnr_kernels()->conv_bwd(p, in_shape, x, w, dy, dx, dw, db, workspace, workspace_floats);
}
