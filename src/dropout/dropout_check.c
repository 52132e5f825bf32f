/*
 * Argument checks of the dropout passes (SEMANTICS.md §5). Every kernel
 * (naive float, naive double, AVX2) calls nnr_dropout_check() before touching
 * any output, so all accept and reject exactly the same calls and nothing is
 * written on error. The rate sentence follows PyTorch's ("has to be between 0
 * and 1, but got ...") and Keras' ("Expected a float value between 0 and 1").
 */
#include "config.h"
#include <math.h>
#include "core/check.h"
#include "dropout_internal.h"

static nnr_status check_rate(const nnr_dropout_params *p)
{
    if (!(p->rate >= 0.0 && p->rate <= 1.0))   /* false for NaN too */
        return nnr_error(NNR_ERR_PARAM, "rate (the dropout probability) has to be between 0 and 1, but got %g",
                         p->rate);
    if (p->rate1 != NNR_DROPOUT_ZERO && p->rate1 != NNR_DROPOUT_MULTIPLY)
        return nnr_error(NNR_ERR_PARAM, "rate1 is %d; expected NNR_DROPOUT_ZERO (0) or NNR_DROPOUT_MULTIPLY (1)",
                         (int)p->rate1);
    return nnr_ok();
}

/* noise_shape: None (rank 0), or the input's rank with each extent the
 * input's, 1 or 0 (Keras' None entry); fills the extents and the steps. */
static nnr_status resolve_noise(const nnr_dropout_params *p, const nnr_shape *shape, dropout_view *v)
{
    const nnr_shape *ns = &p->noise_shape;
    size_t noise[NNR_MAX_RANK];
    if (ns->rank == 0) {
        for (size_t d = 0; d < shape->rank; d++)
            noise[d] = shape->dims[d];
    } else {
        if (ns->rank != shape->rank)
            return nnr_error(NNR_ERR_PARAM,
                             "noise_shape has rank %zu but the input has rank %zu; noise_shape must have the "
                             "input's rank (1 on the axes that share a decision)", ns->rank, shape->rank);
        for (size_t d = 0; d < shape->rank; d++) {
            const size_t e = ns->dims[d];
            if (e != 0 && e != 1 && e != shape->dims[d])
                return nnr_error(NNR_ERR_PARAM,
                                 "noise_shape[%zu] is %zu, not broadcastable to the input's extent %zu on that "
                                 "axis (it must be %zu, 1, or 0 for None)", d, e, shape->dims[d], shape->dims[d]);
            noise[d] = e == 0 ? shape->dims[d] : e;
        }
    }
    /* Row-major steps of the noise tensor; an axis of extent 1 there is
     * shared, so moving along it in x does not move in the noise tensor. */
    size_t step = 1;
    for (size_t d = shape->rank; d-- > 0;) {
        v->noise_step[d] = noise[d] == 1 ? 0 : step;
        step *= noise[d];   /* no overflow: the noise tensor is no larger than x */
    }
    v->noise_count = step;
    return nnr_ok();
}

nnr_status nnr_dropout_view_make(const nnr_dropout_params *p, const nnr_shape *shape, dropout_view *v)
{
    NNR_TRY(nnr_need(p, "params"));
    NNR_TRY(nnr_need(shape, "shape"));
    NNR_TRY(check_rate(p));
    dropout_view w;
    NNR_TRY(nnr_shape_numel(shape, "shape", &w.count));
    NNR_TRY(resolve_noise(p, shape, &w));
    w.broadcast = w.noise_count < w.count;
    w.rank = shape->rank;
    for (size_t d = 0; d < shape->rank; d++)
        w.dims[d] = shape->dims[d];

    /* T = ceil(rate * 2^24): rate * 2^24 is exact in double, so u >= T is
     * exactly u * 2^-24 >= rate. rate 0 -> 0 (keep all), rate 1 -> 2^24 (none). */
    w.threshold = (uint32_t)ceil(p->rate * (double)DROPOUT_UNIFORM_ONE);
    w.rate = p->rate;
    w.inverted = p->inverted != 0;
    w.zero_dropped = p->rate1 == NNR_DROPOUT_ZERO;
    w.seed = p->seed;
    w.offset = p->offset;
    *v = w;
    return nnr_ok();
}

nnr_status nnr_dropout_check(const nnr_dropout_params *p, const nnr_shape *shape, const void *const ptrs[],
                             const char *const names[], size_t n_ptrs, dropout_view *v)
{
    NNR_TRY(nnr_dropout_view_make(p, shape, v));
    for (size_t i = 0; i < n_ptrs; i++)
        NNR_TRY(nnr_need(ptrs[i], names[i]));
    return nnr_ok();
}
