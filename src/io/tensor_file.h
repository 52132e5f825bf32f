/*
 * Named-tensor files (internal): the format nnr_model_save() writes and
 * nnr_model_load() reads, documented in include/nnref/model.h:
 *
 *   "NNREFPRM", u32 version 1, u32 count, then per tensor: u16 name length,
 *   name, u8 dtype (1 f32, 2 f64, 3 i64), u8 rank, rank x u64 dims, data;
 *   all little-endian, nothing after the last tensor.
 *
 * The reader treats the file as untrusted: every field is checked against
 * its limit and against the bytes left before it is used.
 */
#ifndef NNR_IO_TENSOR_FILE_H
#define NNR_IO_TENSOR_FILE_H

#include <stddef.h>
#include "nnref/model.h"

#define NNR_TF_MAGIC "NNREFPRM"
#define NNR_TF_VERSION 1u
/* Limits a reader enforces before believing a header field. */
#define NNR_TF_MAX_NAME 255u
#define NNR_TF_MAX_TENSORS 65536u
#define NNR_TF_MAX_FILE_BYTES ((size_t)1 << 31)

/* One tensor: its name, element type, shape and native-endian data. */
typedef struct nnr_tf_entry {
    char name[NNR_TF_MAX_NAME + 1];
    nnr_dtype dtype;
    nnr_shape shape;
    size_t count;
    const void *data;   /* writer: the caller's; reader: owned by the nnr_tf_file */
} nnr_tf_entry;

/* A file read into memory. */
typedef struct nnr_tf_file {
    nnr_tf_entry *entries;
    size_t n;
    void *storage;      /* all tensors' data, decoded */
} nnr_tf_file;

/* Writes n entries to path (created or truncated). */
nnr_status nnr_tf_write(const char *path, const nnr_tf_entry *entries, size_t n);

/* Reads and checks a whole file; on failure out is empty (nnr_tf_free is
 * always safe). */
nnr_status nnr_tf_read(const char *path, nnr_tf_file *out);

void nnr_tf_free(nnr_tf_file *f);

#endif /* NNR_IO_TENSOR_FILE_H */
