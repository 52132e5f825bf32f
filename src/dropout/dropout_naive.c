/*
 * Dropout, naive reference kernels (training forward, inference forward,
 * backward). PyTorch reference: aten/src/ATen/native/Dropout.cpp; Keras:
 * keras/src/backend/tensorflow/random.py (tf.nn.experimental.stateless_dropout).
 *
 * Written once over nnr_real and built twice: float (nnr_dropout_*_naive) and
 * double (nnr_dropout_*_naive_f64), see src/core/real.h. Both draw the same
 * mask: the decisions are integers from Philox, not from nnr_real.
 *
 * Shapes (dropout is elementwise; any rank):
 *   x, y, dy, dx   shape, `count` elements, row-major
 *   mask           the noise tensor: `noise_count` bytes, row-major over
 *                  noise_shape (= shape without noise_shape)
 * Element i of x reads mask[j], j = i without broadcasting, else the noise
 * index of i (dropout_noise_index: a shared axis contributes 0).
 */
#include "config.h"
#include "core/real.h"
#include "dropout_internal.h"

/* dst = src with the mask applied, the rule of step 2 below: dst = m ? src*s
 * : 0 (rate1 ZERO, Keras' where) or dst = (src*m)*s (rate1 MULTIPLY,
 * PyTorch's product), m = mask[j] broadcast to element i. */
static void apply_mask(const dropout_view *v, const nnr_real *src, const uint8_t *mask, nnr_real *dst)
{
    const nnr_real s = (nnr_real)NNR_TYPED(dropout_train_scale)(v);
    for (size_t i = 0; i < v->count; i++) {
        const size_t j = v->broadcast ? dropout_noise_index(v, i) : i;
        const nnr_real m = mask[j] ? 1 : 0;
        if (v->zero_dropped)
            dst[i] = mask[j] ? src[i] * s : 0;
        else
            dst[i] = (src[i] * m) * s;
    }
}

nnr_status NNR_NAIVE(nnr_dropout_fwd_train)(const nnr_dropout_params *p, const nnr_shape *shape,
                                            const nnr_real *x, nnr_real *y, uint8_t *mask)
{
    dropout_view v;
    const void *ptrs[] = {x, y, mask};
    const char *const names[] = {"x", "y", "mask"};
    nnr_status st = nnr_dropout_check(p, shape, ptrs, names, 3, &v);
    if (st.code != NNR_OK)
        return st;

    /* step 1: the keep decision of noise element j. Its counter is
     * g = offset + j; the word is number g mod 4 of Philox block g / 4
     * (drawn once per block), and keep iff (word >> 8) >= T. */
    uint32_t words[DROPOUT_WORDS_PER_BLOCK];
    for (size_t j = 0; j < v.noise_count; j++) {
        const uint64_t g = v.offset + j;
        if (j == 0 || g % DROPOUT_WORDS_PER_BLOCK == 0)
            nnr_philox4x32(v.seed, g / DROPOUT_WORDS_PER_BLOCK, words);
        mask[j] = (uint8_t)dropout_keep_word(words[g % DROPOUT_WORDS_PER_BLOCK], v.threshold);
    }

    /* step 2: y = m ? x*s : 0 (rate1 ZERO, Keras' where) or
     * y = (x*m)*s (rate1 MULTIPLY, PyTorch's product), m = mask[j] broadcast;
     * s = 1/(1-rate) inverted (0 at rate 1), 1 classic */
    apply_mask(&v, x, mask, y);
    return nnr_ok();
}

nnr_status NNR_NAIVE(nnr_dropout_fwd_infer)(const nnr_dropout_params *p, const nnr_shape *shape,
                                            const nnr_real *x, nnr_real *y)
{
    dropout_view v;
    const void *ptrs[] = {x, y};
    const char *const names[] = {"x", "y"};
    nnr_status st = nnr_dropout_check(p, shape, ptrs, names, 2, &v);
    if (st.code != NNR_OK)
        return st;

    /* inverted: y = x (nothing is dropped, nothing scaled);
     * classic: y = (1 - rate) * x, the expected value of the training output */
    if (v.inverted) {
        for (size_t i = 0; i < v.count; i++)
            y[i] = x[i];
    } else {
        const nnr_real keep_prob = (nnr_real)(1.0 - v.rate);
        for (size_t i = 0; i < v.count; i++)
            y[i] = keep_prob * x[i];
    }
    return nnr_ok();
}

nnr_status NNR_NAIVE(nnr_dropout_bwd)(const nnr_dropout_params *p, const nnr_shape *shape, const nnr_real *dy,
                                      const uint8_t *mask, nnr_real *dx)
{
    dropout_view v;
    const void *ptrs[] = {dy, mask, dx};
    const char *const names[] = {"dy", "mask", "dx"};
    nnr_status st = nnr_dropout_check(p, shape, ptrs, names, 3, &v);
    if (st.code != NNR_OK)
        return st;

    /* dx = dy * dy/dx, with dy/dx = diag(m*s) for a fixed mask: the
     * transpose of the forward's step 2 is the same masking, by the same rule
     * (ZERO: exact 0 where dropped; MULTIPLY: (dy*m)*s, so an inf or NaN dy
     * stays NaN where dropped) */
    apply_mask(&v, dy, mask, dx);
    return nnr_ok();
}
