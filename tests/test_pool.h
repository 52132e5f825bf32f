/* Test registration of the pooling family: one function per file and test case. */
#ifndef NNR_TEST_POOL_H
#define NNR_TEST_POOL_H

#include <check.h>

/* tests/pool_windowed.c: max and average pooling */
void pool_windowed_add_reference(TCase *tc);
void pool_windowed_add_shapes(TCase *tc);
void pool_windowed_add_errors(TCase *tc);
void pool_windowed_add_numerics(TCase *tc);
/* tests/pool_global.c: global max and average pooling */
void pool_global_add_reference(TCase *tc);
void pool_global_add_shapes(TCase *tc);
void pool_global_add_errors(TCase *tc);
void pool_global_add_numerics(TCase *tc);
/* tests/pool_gradcheck.c */
void pool_add_gradcheck(TCase *tc);
/* tests/pool_crosscheck.c: AVX2 against naive float and double; adds
 * nothing without usable AVX2 kernels. */
void pool_add_crosscheck(TCase *tc);

#endif /* NNR_TEST_POOL_H */
