/**
 * @file io.h
 * @brief Reading IDX files, the format of MNIST and Fashion-MNIST, plain or
 *        gzip-compressed (read through zlib, which reads plain files as is).
 *
 * An IDX file is a 4-byte magic number `00 00 <type> <ndim>`, then @c ndim
 * big-endian 32-bit dimensions, then the data in row-major order. Only type
 * 0x08 (unsigned byte) is read: the type of every MNIST-format image and
 * label file.
 *
 * Files are untrusted input: every header field is checked against the
 * limits below and against the number of data bytes actually present. A file
 * with bytes after the data is rejected, since it is not the file its header
 * describes (a concatenation or a wrong header). Unlike the kernels, the
 * reader allocates: nnr_idx_read() owns the data buffer until nnr_idx_free().
 */
#ifndef NNREF_IO_H
#define NNREF_IO_H

#include <stddef.h>
#include <stdint.h>
#include "nnref/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @defgroup io IDX files (MNIST, Fashion-MNIST)
 *  @{ */

/** The most dimensions an IDX file may declare here (MNIST uses 1 and 3). */
#define NNR_IDX_MAX_NDIM 4

/** The most data bytes an IDX file may declare (1 GiB; Fashion-MNIST's largest file holds 47 MB). */
#define NNR_IDX_MAX_BYTES ((size_t)1 << 30)

/** Where the Debian package dataset-fashion-mnist installs its four files. */
#define NNR_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

/** An IDX file read into memory. */
typedef struct nnr_idx {
    size_t ndim;                    /**< Number of dimensions, 1..::NNR_IDX_MAX_NDIM. */
    size_t dims[NNR_IDX_MAX_NDIM];  /**< Dimensions, each ≥ 1; unused entries 0. */
    size_t count;                   /**< Product of the dimensions: the number of bytes in data. */
    uint8_t *data;                  /**< The values in row-major order, allocated by nnr_idx_read(). */
} nnr_idx;

/**
 * Reads an unsigned-byte IDX file, gzip-compressed or plain.
 *
 * On success @p out holds the file and owns @c data (release it with
 * nnr_idx_free()). On failure @p out is left empty (data NULL, ndim 0), so
 * nnr_idx_free() may always be called. A missing file under
 * ::NNR_FASHION_MNIST_DIR gives a message naming the Debian package
 * dataset-fashion-mnist and the command that installs it.
 *
 * @param[in]  path  file name.
 * @param[out] out   the file's dimensions and data.
 * @return ::NNR_OK; ::NNR_ERR_NULL; ::NNR_ERR_IO (cannot open or read, or
 *         the file ends early); ::NNR_ERR_FORMAT (bad magic, type other than
 *         0x08, ndim 0 or above ::NNR_IDX_MAX_NDIM, a zero dimension, more
 *         than ::NNR_IDX_MAX_BYTES of data, or bytes after the data);
 *         ::NNR_ERR_NOMEM. The sentence names the file and the field.
 */
nnr_status nnr_idx_read(const char *path, nnr_idx *out);

/**
 * Releases the data of an ::nnr_idx and empties it; NULL and empty are fine.
 * @param[in,out] idx  the file read by nnr_idx_read().
 */
void nnr_idx_free(nnr_idx *idx);

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* NNREF_IO_H */
