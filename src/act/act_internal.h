/*
 * What the activation and loss kernels (naive float, naive double, AVX2)
 * share: the view of a shape as rows of classes, and the argument checks, so
 * that every implementation accepts and rejects exactly the same calls.
 */
#ifndef NNR_ACT_INTERNAL_H
#define NNR_ACT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "nnref/activation.h"

typedef struct act_view {
    size_t count;     /* elements */
    size_t rows;      /* product of all axes but the last */
    size_t classes;   /* extent of the last axis (softmax, cross-entropy) */
} act_view;

/* The shape, then every pointer non-NULL (names[i] is the argument named in
 * the sentence). Pointers are only compared with NULL, so one function serves
 * float, double and AVX2. */
nnr_status nnr_act_check(const nnr_shape *shape, const void *const ptrs[], const char *const names[],
                         size_t n_ptrs, act_view *v);

/* The fused softmax cross-entropy: shape (N, K), logits, labels and loss
 * non-NULL (dlogits may be NULL), every label in [0, K). */
nnr_status nnr_softmax_xent_check(const nnr_shape *shape, const void *logits, const int32_t *labels,
                                  const void *loss, act_view *v);

#endif /* NNR_ACT_INTERNAL_H */
