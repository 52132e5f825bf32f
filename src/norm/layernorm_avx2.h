/*
 * Helpers shared by the LayerNorm and RMSNorm AVX2 kernels
 * (src/norm/layernorm_avx2.c, src/norm/rmsnorm_avx2.c): their block sizes.
 * Masked tails, horizontal sums into double and the double accumulation of
 * per-element parameter gradients (flush_lanes) come from avx2_util.h, as
 * for the other normalization kernels. Only for files compiled with
 * $(AVX2_CFLAGS).
 */
#ifndef NNR_LAYERNORM_AVX2_H
#define NNR_LAYERNORM_AVX2_H

#include "avx2_util.h"

/* Outputs at least this large are written with non-temporal stores: they do
 * not fit in L2 and are not read back by the kernel. */
#define NNR_STREAM_MIN_BYTES ((size_t)4 << 20)
/* Columns of dgamma/dbeta (dscale) accumulated in double on the stack at a time. */
#define NNR_PANEL_COLS 1024

#endif /* NNR_LAYERNORM_AVX2_H */
