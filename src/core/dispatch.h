/*
 * The one dispatch table (BLIS's pattern: every slot is first given the naive
 * kernel, then overridden by the AVX2 kernel when the CPU has AVX2 and FMA).
 * It is the library's only mutable global, written once under pthread_once.
 */
#ifndef NNR_DISPATCH_H
#define NNR_DISPATCH_H

#include "nnref/core.h"
#include "nnref/batchnorm.h"
#include "nnref/layernorm.h"
#include "nnref/groupnorm.h"
#include "nnref/pool.h"
#include "nnref/dropout.h"
#include "nnref/activation.h"
#include "nnref/conv.h"
#include "nnref/dense.h"

typedef struct nnr_kernel_table {
    nnr_impl impl;
    nnr_batchnorm_fwd_train_fn batchnorm_fwd_train;
    nnr_batchnorm_fwd_infer_fn batchnorm_fwd_infer;
    nnr_batchnorm_bwd_train_fn batchnorm_bwd_train;
    nnr_batchnorm_bwd_infer_fn batchnorm_bwd_infer;
    nnr_layernorm_fwd_fn layernorm_fwd;
    nnr_layernorm_bwd_fn layernorm_bwd;
    nnr_rmsnorm_fwd_fn rmsnorm_fwd;
    nnr_rmsnorm_bwd_fn rmsnorm_bwd;
    nnr_groupnorm_fwd_fn groupnorm_fwd;
    nnr_groupnorm_bwd_fn groupnorm_bwd;
    nnr_maxpool_fwd_fn maxpool_fwd;
    nnr_maxpool_bwd_fn maxpool_bwd;
    nnr_avgpool_fwd_fn avgpool_fwd;
    nnr_avgpool_bwd_fn avgpool_bwd;
    nnr_global_maxpool_fwd_fn global_maxpool_fwd;
    nnr_global_maxpool_bwd_fn global_maxpool_bwd;
    nnr_global_avgpool_fwd_fn global_avgpool_fwd;
    nnr_global_avgpool_bwd_fn global_avgpool_bwd;
    nnr_dropout_fwd_train_fn dropout_fwd_train;
    nnr_dropout_fwd_infer_fn dropout_fwd_infer;
    nnr_dropout_bwd_fn dropout_bwd;
    nnr_relu_fwd_fn relu_fwd;
    nnr_relu_bwd_fn relu_bwd;
    nnr_softmax_fwd_fn softmax_fwd;
    nnr_softmax_bwd_fn softmax_bwd;
    nnr_softmax_xent_fn softmax_xent;
    nnr_conv_workspace_fn conv_workspace_size;
    nnr_conv_fwd_fn conv_fwd;
    nnr_conv_bwd_fn conv_bwd;
    nnr_dense_workspace_fn dense_workspace_size;
    nnr_dense_fwd_fn dense_fwd;
    nnr_dense_bwd_fn dense_bwd;
} nnr_kernel_table;

/* The table, filled at the first call. */
const nnr_kernel_table *nnr_kernels(void);

#endif /* NNR_DISPATCH_H */
