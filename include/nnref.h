/**
 * @file nnref.h
 * @brief Umbrella header: includes every public nnref header.
 */
#ifndef NNREF_H
#define NNREF_H

#include "nnref/core.h"
#include "nnref/batchnorm.h"
#include "nnref/layernorm.h"
#include "nnref/groupnorm.h"
#include "nnref/pool.h"
#include "nnref/dropout.h"
#include "nnref/activation.h"
#include "nnref/conv.h"
#include "nnref/dense.h"
#include "nnref/io.h"
#include "nnref/gradcheck.h"
#include "nnref/model.h"

#endif /* NNREF_H */
