/*
 * What every dropout kernel (naive float, naive double, AVX2) shares: the
 * validated view of the parameters and shape (threshold, scales, the noise
 * tensor's broadcast strides) and the one rule that turns a Philox word into
 * a keep decision, so that all implementations draw the same mask.
 */
#ifndef NNR_DROPOUT_INTERNAL_H
#define NNR_DROPOUT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "nnref/dropout.h"

/* Philox4x32 gives four 32-bit words per counter block. */
#define DROPOUT_WORDS_PER_BLOCK 4
/* keep iff (word >> DROPOUT_DROP_BITS) >= threshold: a 24-bit uniform. */
#define DROPOUT_DROP_BITS 8
#define DROPOUT_UNIFORM_ONE (UINT32_C(1) << 24)

typedef struct dropout_view {
    size_t count;                   /* elements of x (and y, dy, dx) */
    size_t noise_count;             /* elements of the noise tensor (mask entries) */
    int broadcast;                  /* 1 if noise_count < count: some axis shares decisions */
    size_t rank;
    size_t dims[NNR_MAX_RANK];      /* the input's extents */
    size_t noise_step[NNR_MAX_RANK];/* x index i_d moves the noise index by i_d * noise_step[d] (0 on a shared axis) */
    uint32_t threshold;             /* T = ceil(rate * 2^24): keep iff u >= T */
    double rate;
    int inverted;
    int zero_dropped;               /* rate1 == NNR_DROPOUT_ZERO */
    uint64_t seed, offset;
} dropout_view;

/* The keep decision of the word drawn for counter g (dropout.h):
 * u = word >> 8, a 24-bit uniform integer; keep iff u >= T. */
static inline int dropout_keep_word(uint32_t word, uint32_t threshold)
{
    return (word >> DROPOUT_DROP_BITS) >= threshold;
}

/* The training scale s (dropout.h): 1 classic; inverted 1/(1-rate), 0 at
 * rate 1 (PyTorch multiplies by zeros, Keras returns zeros), rounded as the
 * framework of the rate1 rule rounds it. In float: TensorFlow (ZERO) rounds
 * the double 1/(1-rate) once; PyTorch (MULTIPLY) computes noise.div_(1 - p),
 * 1.0f / (float)(1 - p). In double both are 1/(1-rate). One function per
 * precision; the naive kernel picks its own with NNR_TYPED (core/real.h). */
static inline float dropout_train_scale(const dropout_view *v)
{
    if (!v->inverted)
        return 1.0f;
    if (v->rate == 1.0)
        return 0.0f;
    if (v->zero_dropped)
        return (float)(1.0 / (1.0 - v->rate));
    return 1.0f / (float)(1.0 - v->rate);
}

static inline double dropout_train_scale_f64(const dropout_view *v)
{
    if (!v->inverted)
        return 1.0;
    return v->rate == 1.0 ? 0.0 : 1.0 / (1.0 - v->rate);
}

/* The noise-tensor index of x's element i (row-major), by the broadcast
 * strides: the last axis is peeled first. Used only when v->broadcast. */
static inline size_t dropout_noise_index(const dropout_view *v, size_t i)
{
    size_t j = 0;
    for (size_t d = v->rank; d-- > 0;) {
        j += (i % v->dims[d]) * v->noise_step[d];
        i /= v->dims[d];
    }
    return j;
}

/* Validates params and shape (no pointers) and fills the view: the checks
 * and sentences behind nnr_dropout_mask_count(). */
nnr_status nnr_dropout_view_make(const nnr_dropout_params *p, const nnr_shape *shape, dropout_view *v);

/* The argument checks of each pass: the view, then every pointer non-NULL
 * (names[i] is the argument named in the sentence). Pointers are only
 * compared with NULL, so one function serves float, double and AVX2. */
nnr_status nnr_dropout_check(const nnr_dropout_params *p, const nnr_shape *shape, const void *const ptrs[],
                             const char *const names[], size_t n_ptrs, dropout_view *v);

#endif /* NNR_DROPOUT_INTERNAL_H */
