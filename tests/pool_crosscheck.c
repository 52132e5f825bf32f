/*
 * AVX2 pooling kernels against naive float and double: filled by the AVX2
 * kernels' crosscheck (engineer AVX2). Until then it registers nothing, which
 * is also what it does on a build or CPU without AVX2.
 */
#include "config.h"
#include "test_util.h"
#include "test_pool.h"

void pool_add_crosscheck(TCase *tc)
{
    (void)tc;
}
