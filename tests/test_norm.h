/* Test registration of the normalization family: one function per layer and test case. */
#ifndef NNR_TEST_NORM_H
#define NNR_TEST_NORM_H

#include <check.h>

/* tests/norm_batchnorm.c */
void batchnorm_add_reference(TCase *tc);
void batchnorm_add_shapes(TCase *tc);
void batchnorm_add_errors(TCase *tc);
void batchnorm_add_numerics(TCase *tc);
/* tests/norm_batchnorm_gradcheck.c */
void batchnorm_add_gradcheck(TCase *tc);
/* tests/norm_batchnorm_crosscheck.c: adds nothing (the AVX2 tests skip) when
 * the AVX2 kernels are not compiled in or the CPU lacks AVX2/FMA. */
void batchnorm_add_crosscheck(TCase *tc);

/* tests/norm_layernorm.c: LayerNorm and RMSNorm */
void layernorm_add_reference(TCase *tc);
void layernorm_add_shapes(TCase *tc);
void layernorm_add_errors(TCase *tc);
void layernorm_add_numerics(TCase *tc);
/* tests/norm_layernorm_gradcheck.c */
void layernorm_add_gradcheck(TCase *tc);
/* tests/norm_layernorm_crosscheck.c: adds nothing without usable AVX2 kernels. */
void layernorm_add_crosscheck(TCase *tc);
/* tests/norm_groupnorm.c (GroupNorm and InstanceNorm) */
void groupnorm_add_reference(TCase *tc);
void groupnorm_add_shapes(TCase *tc);
void groupnorm_add_errors(TCase *tc);
void groupnorm_add_numerics(TCase *tc);
/* tests/norm_groupnorm_gradcheck.c */
void groupnorm_add_gradcheck(TCase *tc);
/* tests/norm_groupnorm_crosscheck.c: adds nothing without the AVX2 build */
void groupnorm_add_crosscheck(TCase *tc);

#endif /* NNR_TEST_NORM_H */
