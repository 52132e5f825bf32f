/*
 * Single-precision matrix product shared by the AVX2 convolution and dense
 * kernels (internal; not installed).
 *
 *   C (m x n) = A (m x k) · B (k x n)          accumulate == 0
 *   C (m x n) = C + A (m x k) · B (k x n)      accumulate != 0
 *
 * Every operand is addressed as BLIS addresses it, by a row stride and a
 * column stride in elements: A[i][p] is a[i*a_rs + p*a_cs], B[p][j] is
 * b[p*b_rs + j*b_cs], C[i][j] is c[i*c_rs + j]. A transposed operand is the
 * same memory with the two strides swapped, so the backward passes
 * (dW = Xᵀ·dY, dX = dY·Wᵀ) need no transposed copies: packing reads any
 * strides. No alignment is required of any pointer.
 *
 * The kernel packs panels of A and B into caller-owned scratch space of
 * nnr_sgemm_avx2_workspace_floats(m, n, k) floats (it never allocates).
 * Results do not depend on the thread count: each C element is summed over
 * p in one fixed order.
 */
#ifndef NNR_GEMM_H
#define NNR_GEMM_H

#include <stddef.h>

/* Floats of scratch space nnr_sgemm_avx2() needs for these sizes. */
size_t nnr_sgemm_avx2_workspace_floats(size_t m, size_t n, size_t k);

/* C = A·B or C += A·B (see the top of this file); m, n or k of 0 is allowed
 * (k == 0 with accumulate == 0 writes zeros). Callers validate their own
 * arguments: this is an internal kernel, it does not return a status. */
void nnr_sgemm_avx2(size_t m, size_t n, size_t k,
                    const float *a, ptrdiff_t a_rs, ptrdiff_t a_cs,
                    const float *b, ptrdiff_t b_rs, ptrdiff_t b_cs,
                    float *c, ptrdiff_t c_rs, int accumulate, float *workspace);

#endif /* NNR_GEMM_H */
