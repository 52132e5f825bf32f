/**
 * @file core.h
 * @brief Status codes, tensor shapes, implementation dispatch and the
 *        counter-based random number generator shared by every nnref layer.
 *
 * Every public nnref function validates its arguments and returns an
 * ::nnr_status. A rejected call writes no output buffer; the status carries a
 * code for programs and a sentence naming the offending argument for people.
 */
#ifndef NNREF_CORE_H
#define NNREF_CORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @defgroup core Core: status, shapes, dispatch, random numbers
 *  @{ */

/** Kind of fault a call reports. ::NNR_OK is zero, every fault is non-zero. */
typedef enum nnr_code {
    NNR_OK = 0,            /**< Success. */
    NNR_ERR_NULL,          /**< A required pointer argument is NULL. */
    NNR_ERR_SHAPE,         /**< A shape is invalid: zero dimension, bad rank, axis out of range, sizes that do not fit together. */
    NNR_ERR_PARAM,         /**< A layer parameter is out of its domain (epsilon < 0, momentum outside [0,1], ...). */
    NNR_ERR_OVERFLOW,      /**< A size computation would overflow size_t. */
    NNR_ERR_UNSUPPORTED,   /**< The request is valid but not implemented here (for example AVX2 on a CPU without it). */
    NNR_ERR_NOMEM,         /**< An allocation failed (only outside kernels: kernels never allocate). */
    NNR_ERR_IO,            /**< Reading or writing a file failed. */
    NNR_ERR_FORMAT         /**< A file's contents are malformed. */
} nnr_code;

/** Maximum length of the sentence in ::nnr_status, terminating NUL included. */
#define NNR_STATUS_MSG_LEN 200

/**
 * Result of every nnref call: a code, and on failure a sentence that names the
 * offending argument (for example "epsilon must be >= 0 and not NaN, got -1").
 *
 * It is returned by value, so it needs no global or thread-local error state.
 * Test `st.code != NNR_OK`; print `nnr_strerror(&st)`.
 */
typedef struct nnr_status {
    nnr_code code;                       /**< ::NNR_OK or the kind of fault. */
    char message[NNR_STATUS_MSG_LEN];    /**< Empty on success; otherwise a sentence naming the argument. */
} nnr_status;

/** A successful status.
 * @return code ::NNR_OK with an empty message. */
nnr_status nnr_ok(void);

/**
 * A failed status with a printf-style sentence. Used by the library itself and
 * by anyone writing a layer in nnref's style.
 * @param code    kind of fault (not ::NNR_OK).
 * @param format  printf-style format of the sentence, naming the argument.
 * @param ...     values for @p format.
 * @return the status; a sentence longer than ::NNR_STATUS_MSG_LEN is truncated.
 */
nnr_status nnr_error(nnr_code code, const char *format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/**
 * The sentence of a status: its message if it has one, else a generic
 * sentence for its code ("success" for ::NNR_OK). Never returns NULL.
 * @param status  the status (NULL gives a sentence saying so).
 * @return a NUL-terminated sentence, valid as long as @p status is.
 */
const char *nnr_strerror(const nnr_status *status);

/** Generic name of a code, e.g. "bad shape". Never returns NULL.
 * @param code  any value; unknown codes get a generic name.
 * @return a static string. */
const char *nnr_code_name(nnr_code code);

/** Largest tensor rank nnref accepts. */
#define NNR_MAX_RANK 8

/**
 * A tensor shape, outermost dimension first, densely packed in row-major
 * (C) order. Example: `(nnr_shape){4, {32, 64, 56, 56}}`.
 */
typedef struct nnr_shape {
    size_t rank;                  /**< Number of dimensions, 1..::NNR_MAX_RANK. */
    size_t dims[NNR_MAX_RANK];    /**< Extents; entries at or beyond rank are ignored. */
} nnr_shape;

/**
 * Number of elements of @p shape, checked: every dimension must be non-zero
 * and the product must fit in size_t.
 * @param[in]  shape  the shape; must not be NULL.
 * @param[in]  name   argument name used in the error sentence (e.g. "shape").
 * @param[out] count  the element count; written only on success.
 * @return ::NNR_OK, ::NNR_ERR_NULL, ::NNR_ERR_SHAPE (rank or zero dimension)
 *         or ::NNR_ERR_OVERFLOW.
 */
nnr_status nnr_shape_numel(const nnr_shape *shape, const char *name, size_t *count);

/**
 * Overflow-checked product a·b.
 * @param a    first factor.
 * @param b    second factor.
 * @param out  the product, written only when it fits.
 * @return 1 and sets *out if the product fits in size_t; 0 otherwise (out untouched).
 */
int nnr_size_mul(size_t a, size_t b, size_t *out);

/** Memory layout of channel-bearing tensors. */
typedef enum nnr_layout {
    NNR_CHANNELS_LAST = 0,   /**< (N, *spatial, C): Keras' default, "NHWC". */
    NNR_CHANNELS_FIRST = 1   /**< (N, C, *spatial): PyTorch, PuzzleLib, "NCHW". */
} nnr_layout;

/** @name Implementation dispatch
 *  Public entry points without a suffix call through one table, filled with
 *  the naive kernels and overridden by the AVX2 ones when the CPU has AVX2 and
 *  FMA. The environment variable `NNREF_IMPL=naive|avx2` forces a choice
 *  (read once, at the first call).
 *  @{ */

/** Which kernels the dispatching entry points run. */
typedef enum nnr_impl {
    NNR_IMPL_NAIVE = 0,   /**< Portable reference kernels (float). */
    NNR_IMPL_AVX2 = 1     /**< AVX2 + FMA kernels (float). */
} nnr_impl;

/** The implementation in use.
 * @return "naive" or "avx2" (a static string). */
const char *nnr_impl_name(void);

/** The implementation in use.
 * @return ::NNR_IMPL_NAIVE or ::NNR_IMPL_AVX2. */
nnr_impl nnr_impl_current(void);

/** Whether the AVX2 kernels were compiled into this library.
 * @return 1 if they were, else 0. */
int nnr_avx2_compiled(void);

/** Whether the AVX2 kernels can run here.
 * @return 1 if they are compiled in and this CPU has AVX2 and FMA, else 0. */
int nnr_avx2_usable(void);

/** @} */

/** @name Counter-based random numbers
 *  Philox4x32-10 (Salmon et al., SC'11; the generator of cuRAND, JAX and
 *  PyTorch's CUDA backend). The value for element @p i depends only on
 *  (@p seed, @p i), never on call order or thread count, so a dropout mask or
 *  a test tensor is the same whoever draws it.
 *  @{ */

/** Four 32-bit random words for counter @p i under key @p seed.
 * @param seed  key.
 * @param i     counter (element index).
 * @param out   the four words. */
void nnr_philox4x32(uint64_t seed, uint64_t i, uint32_t out[4]);

/** Uniform double in [0, 1) for element @p i (53 random bits).
 * @param seed  key.
 * @param i     element index.
 * @return a value in [0, 1). */
double nnr_rng_uniform(uint64_t seed, uint64_t i);

/** Standard normal double for element @p i (Box–Muller on one Philox block).
 * @param seed  key.
 * @param i     element index.
 * @return a draw from N(0, 1). */
double nnr_rng_normal(uint64_t seed, uint64_t i);

/** @} */

/** Library version.
 * @return a static string, e.g. "0.1.0". */
const char *nnr_version(void);

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* NNREF_CORE_H */
