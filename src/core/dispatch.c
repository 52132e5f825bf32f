/* CPU detection and the dispatch table; NNREF_IMPL=naive|avx2 forces a choice. */
#include "config.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "dispatch.h"

static nnr_kernel_table kernel_table;
static pthread_once_t kernel_table_once = PTHREAD_ONCE_INIT;

int nnr_avx2_compiled(void)
{
#ifdef NNR_HAVE_AVX2_BUILD
    return 1;
#else
    return 0;
#endif
}

int nnr_avx2_usable(void)
{
#if defined(NNR_HAVE_AVX2_BUILD) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

static void fill_naive(nnr_kernel_table *t)
{
    t->impl = NNR_IMPL_NAIVE;
    t->batchnorm_fwd_train = nnr_batchnorm_fwd_train_naive;
    t->batchnorm_fwd_infer = nnr_batchnorm_fwd_infer_naive;
    t->batchnorm_bwd_train = nnr_batchnorm_bwd_train_naive;
    t->batchnorm_bwd_infer = nnr_batchnorm_bwd_infer_naive;
    t->layernorm_fwd = nnr_layernorm_fwd_naive;
    t->layernorm_bwd = nnr_layernorm_bwd_naive;
    t->rmsnorm_fwd = nnr_rmsnorm_fwd_naive;
    t->rmsnorm_bwd = nnr_rmsnorm_bwd_naive;
    t->groupnorm_fwd = nnr_groupnorm_fwd_naive;
    t->groupnorm_bwd = nnr_groupnorm_bwd_naive;
    t->maxpool_fwd = nnr_maxpool_fwd_naive;
    t->maxpool_bwd = nnr_maxpool_bwd_naive;
    t->avgpool_fwd = nnr_avgpool_fwd_naive;
    t->avgpool_bwd = nnr_avgpool_bwd_naive;
    t->global_maxpool_fwd = nnr_global_maxpool_fwd_naive;
    t->global_maxpool_bwd = nnr_global_maxpool_bwd_naive;
    t->global_avgpool_fwd = nnr_global_avgpool_fwd_naive;
    t->global_avgpool_bwd = nnr_global_avgpool_bwd_naive;
    t->dropout_fwd_train = nnr_dropout_fwd_train_naive;
    t->dropout_fwd_infer = nnr_dropout_fwd_infer_naive;
    t->dropout_bwd = nnr_dropout_bwd_naive;
    t->relu_fwd = nnr_relu_fwd_naive;
    t->relu_bwd = nnr_relu_bwd_naive;
    t->softmax_fwd = nnr_softmax_fwd_naive;
    t->softmax_bwd = nnr_softmax_bwd_naive;
    t->softmax_xent = nnr_softmax_xent_naive;
    t->conv_workspace_size = nnr_conv_workspace_size_naive;
    t->conv_fwd = nnr_conv_fwd_naive;
    t->conv_bwd = nnr_conv_bwd_naive;
    t->dense_workspace_size = nnr_dense_workspace_size_naive;
    t->dense_fwd = nnr_dense_fwd_naive;
    t->dense_bwd = nnr_dense_bwd_naive;
}

#ifdef NNR_HAVE_AVX2_BUILD
static void override_avx2(nnr_kernel_table *t)
{
    t->impl = NNR_IMPL_AVX2;
    t->batchnorm_fwd_train = nnr_batchnorm_fwd_train_avx2;
    t->batchnorm_fwd_infer = nnr_batchnorm_fwd_infer_avx2;
    t->batchnorm_bwd_train = nnr_batchnorm_bwd_train_avx2;
    t->batchnorm_bwd_infer = nnr_batchnorm_bwd_infer_avx2;
    t->layernorm_fwd = nnr_layernorm_fwd_avx2;
    t->layernorm_bwd = nnr_layernorm_bwd_avx2;
    t->rmsnorm_fwd = nnr_rmsnorm_fwd_avx2;
    t->rmsnorm_bwd = nnr_rmsnorm_bwd_avx2;
    t->groupnorm_fwd = nnr_groupnorm_fwd_avx2;
    t->groupnorm_bwd = nnr_groupnorm_bwd_avx2;
    t->maxpool_fwd = nnr_maxpool_fwd_avx2;
    t->maxpool_bwd = nnr_maxpool_bwd_avx2;
    t->avgpool_fwd = nnr_avgpool_fwd_avx2;
    t->avgpool_bwd = nnr_avgpool_bwd_avx2;
    t->global_maxpool_fwd = nnr_global_maxpool_fwd_avx2;
    t->global_maxpool_bwd = nnr_global_maxpool_bwd_avx2;
    t->global_avgpool_fwd = nnr_global_avgpool_fwd_avx2;
    t->global_avgpool_bwd = nnr_global_avgpool_bwd_avx2;
    t->conv_workspace_size = nnr_conv_workspace_size_avx2;
    t->conv_fwd = nnr_conv_fwd_avx2;
    t->conv_bwd = nnr_conv_bwd_avx2;
    t->dense_workspace_size = nnr_dense_workspace_size_avx2;
    t->dense_fwd = nnr_dense_fwd_avx2;
    t->dense_bwd = nnr_dense_bwd_avx2;
    t->dropout_fwd_train = nnr_dropout_fwd_train_avx2;
    t->dropout_fwd_infer = nnr_dropout_fwd_infer_avx2;
    t->dropout_bwd = nnr_dropout_bwd_avx2;
    t->relu_fwd = nnr_relu_fwd_avx2;
    t->relu_bwd = nnr_relu_bwd_avx2;
    t->softmax_fwd = nnr_softmax_fwd_avx2;
    t->softmax_bwd = nnr_softmax_bwd_avx2;
    t->softmax_xent = nnr_softmax_xent_avx2;
}
#endif

static void init_table(void)
{
    const char *forced = getenv("NNREF_IMPL");
    int want_avx2 = forced == NULL || strcmp(forced, "naive") != 0;
    fill_naive(&kernel_table);
#ifdef NNR_HAVE_AVX2_BUILD
    /* NNREF_IMPL=avx2 on a CPU without AVX2 cannot be honoured: the naive
     * kernels stay, and nnr_impl_name() says so. */
    if (want_avx2 && nnr_avx2_usable())
        override_avx2(&kernel_table);
#else
    (void)want_avx2;
#endif
}

const nnr_kernel_table *nnr_kernels(void)
{
    pthread_once(&kernel_table_once, init_table);
    return &kernel_table;
}

nnr_impl nnr_impl_current(void)
{
    return nnr_kernels()->impl;
}

const char *nnr_impl_name(void)
{
    return nnr_impl_current() == NNR_IMPL_AVX2 ? "avx2" : "naive";
}
