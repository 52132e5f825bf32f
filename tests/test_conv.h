/* Test registration of the convolution family, and the helpers its files share. */
#ifndef NNR_TEST_CONV_H
#define NNR_TEST_CONV_H

#include <check.h>
#include "test_util.h"

/* tests/conv_layer.c: golden values, shapes, bad input, numerics */
void conv_add_reference(TCase *tc);
void conv_add_shapes(TCase *tc);
void conv_add_errors(TCase *tc);
void conv_add_numerics(TCase *tc);
/* tests/conv_gradcheck.c */
void conv_add_gradcheck(TCase *tc);
/* tests/conv_crosscheck.c: AVX2 against naive float and double; adds
 * nothing without usable AVX2 kernels. */
void conv_add_crosscheck(TCase *tc);

/* A float implementation: its workspace query and its two kernels. */
typedef struct conv_impl {
    const char *name;
    nnr_conv_workspace_fn workspace;
    nnr_conv_fwd_fn fwd;
    nnr_conv_bwd_fn bwd;
} conv_impl;

/* Most implementations conv_impls() lists. */
#define CONV_MAX_IMPLS 3

/* The float implementations every test runs through: naive, AVX2 when it is
 * built and this CPU runs it, and the dispatching entry points with their
 * own workspace query (whichever kernel NNREF_IMPL and the CPU select). */
static inline size_t conv_impls(conv_impl out[CONV_MAX_IMPLS])
{
    size_t n = 0;
    out[n++] = (conv_impl){"naive", nnr_conv_workspace_size_naive, nnr_conv_fwd_naive, nnr_conv_bwd_naive};
#ifdef NNR_HAVE_AVX2_BUILD
    if (nnr_avx2_usable())
        out[n++] = (conv_impl){"avx2", nnr_conv_workspace_size_avx2, nnr_conv_fwd_avx2, nnr_conv_bwd_avx2};
#endif
    out[n++] = (conv_impl){"dispatch", nnr_conv_workspace_size, nnr_conv_fwd, nnr_conv_bwd};
    return n;
}

/* Element counts of x, y and w for p on in_shape (the call must be valid). */
static inline void conv_counts(const nnr_conv_params *p, const nnr_shape *in_shape, size_t *n_x, size_t *n_y,
                               size_t *n_w)
{
    nnr_shape out, ws;
    nnr_status st = nnr_conv_output_shape(p, in_shape, &out);
    ck_assert_msg(st.code == NNR_OK, "output shape: %s", nnr_strerror(&st));
    st = nnr_conv_weight_shape(p, &ws);
    ck_assert_msg(st.code == NNR_OK, "weight shape: %s", nnr_strerror(&st));
    ck_assert(nnr_shape_numel(in_shape, "x", n_x).code == NNR_OK);
    ck_assert(nnr_shape_numel(&out, "y", n_y).code == NNR_OK);
    ck_assert(nnr_shape_numel(&ws, "w", n_w).code == NNR_OK);
}

/* Forward through impl with a workspace of the size its query gives. */
static inline nnr_status conv_run_fwd(const conv_impl *impl, const nnr_conv_params *p, const nnr_shape *in_shape,
                                      const float *x, const float *w, const float *b, float *y)
{
    size_t floats = 0;
    nnr_status st = impl->workspace(p, in_shape, &floats);
    if (st.code != NNR_OK)
        return st;
    float *ws = floats ? tu_alloc_f(floats) : NULL;
    st = impl->fwd(p, in_shape, x, w, b, y, ws, floats);
    free(ws);
    return st;
}

/* Backward through impl, as conv_run_fwd. */
static inline nnr_status conv_run_bwd(const conv_impl *impl, const nnr_conv_params *p, const nnr_shape *in_shape,
                                      const float *x, const float *w, const float *dy, float *dx, float *dw,
                                      float *db)
{
    size_t floats = 0;
    nnr_status st = impl->workspace(p, in_shape, &floats);
    if (st.code != NNR_OK)
        return st;
    float *ws = floats ? tu_alloc_f(floats) : NULL;
    st = impl->bwd(p, in_shape, x, w, dy, dx, dw, db, ws, floats);
    free(ws);
    return st;
}

/* The input shape of a dims-D layer: N, C, spatial extents sp[0..dims) in p's layout. */
static inline nnr_shape conv_in_shape(const nnr_conv_params *p, size_t n, size_t c, const size_t *sp)
{
    nnr_shape s;
    s.rank = (size_t)p->dims + 2;
    s.dims[0] = n;
    const int cl = p->layout == NNR_CHANNELS_LAST;
    for (int i = 0; i < p->dims; i++)
        s.dims[(cl ? 1 : 2) + i] = sp[i];
    s.dims[cl ? (size_t)p->dims + 1 : 1] = c;
    return s;
}

#endif /* NNR_TEST_CONV_H */
