/*
 * What the AVX2 pooling kernels (maxpool_avx2.c, avgpool_avx2.c,
 * globalpool_avx2.c) share beyond src/norm/avx2_util.h: which outputs of an
 * axis have their whole window inside the input (the vector paths), which
 * window covers an input cell when windows do not overlap (the backward's
 * direct writes), the max update rule as compare + blend, and the
 * stride-2 deinterleave. Static inline, for files compiled with -mavx2 -mfma.
 */
#ifndef NNR_POOL_AVX2_UTIL_H
#define NNR_POOL_AVX2_UTIL_H

#if !defined(__AVX2__) || !defined(__FMA__)
#error "pool_avx2_util.h is for files compiled with AVX2 and FMA enabled (-mavx2 -mfma)"
#endif

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>
#include "pool_internal.h"
#include "norm/avx2_util.h"

/* Input floats one stride-2 step loads: two vectors, deinterleaved into 8 outputs. */
#define NNR_POOL_PAIR_FLOATS (2 * NNR_F32_PER_YMM)

/* Effective window (k-1)d + 1 of an axis. */
static inline size_t pool_axis_span(const pool_axis *a)
{
    return (a->window - 1) * a->dilation + 1;
}

/* Outputs [*lo, *hi) of axis a whose every tap lies inside [0, in): no
 * clipping, the full window count, so one vector can serve 8 of them. */
static inline void pool_interior(const pool_axis *a, size_t *lo, size_t *hi)
{
    const size_t span = pool_axis_span(a);
    size_t l = (a->pad_before + a->stride - 1) / a->stride;   /* first o with o*s >= pad */
    size_t h = a->in + a->pad_before >= span ? (a->in + a->pad_before - span) / a->stride + 1 : 0;
    if (h > a->out)
        h = a->out;
    if (l > h)
        l = h;
    *lo = l;
    *hi = h;
}

/* 1 if no input cell of axis a lies in two windows (stride >= effective window). */
static inline int pool_axis_disjoint(const pool_axis *a)
{
    return a->stride >= pool_axis_span(a);
}

static inline int pool_disjoint(const pool_view *v)
{
    return pool_axis_disjoint(&v->axis[0]) && pool_axis_disjoint(&v->axis[1]) && pool_axis_disjoint(&v->axis[2]);
}

/* For disjoint windows: 1 and *o = the output whose window has input cell i
 * as a tap, or 0 when no window does (gaps, dilation holes, the uncovered
 * end of a valid axis). */
static inline int pool_cover(const pool_axis *a, size_t i, size_t *o)
{
    const size_t q = i + a->pad_before, out = q / a->stride, r = q - out * a->stride;
    if (out >= a->out || r % a->dilation != 0 || r / a->dilation >= a->window)
        return 0;
    *o = out;
    return 1;
}

/* pool_cover() for i = 0, 1, 2, ... without its divisions per cell: the
 * window o = (i + pad) / s and the offset r = (i + pad) % s into it, stepped. */
typedef struct pool_cover_walk {
    const pool_axis *a;
    size_t o, r;
} pool_cover_walk;

static inline pool_cover_walk pool_cover_begin(const pool_axis *a)
{
    pool_cover_walk w = {a, a->pad_before / a->stride, a->pad_before % a->stride};
    return w;
}

/* 1 and *o if the current cell is a tap of window *o (pool_cover's answer). */
static inline int pool_cover_now(const pool_cover_walk *w, size_t *o)
{
    const pool_axis *a = w->a;
    const int tap = a->dilation == 1 ? w->r < a->window : w->r % a->dilation == 0 && w->r / a->dilation < a->window;
    if (w->o >= a->out || !tap)
        return 0;
    *o = w->o;
    return 1;
}

static inline void pool_cover_next(pool_cover_walk *w)
{
    if (++w->r == w->a->stride) {
        w->r = 0;
        w->o++;
    }
}

/* One output's window: along axis a its in-bounds taps j in [j0[a], j1[a])
 * land on input position start[a] + j * dilation (pool_window_taps and
 * pool_window_start of the three axes, gathered once per output). */
typedef struct pool_window {
    size_t j0[3], j1[3];
    ptrdiff_t start[3];
} pool_window;

static inline void pool_window_of(const pool_view *v, size_t od, size_t oh, size_t ow, pool_window *w)
{
    const size_t o[3] = {od, oh, ow};
    for (int a = 0; a < 3; a++) {
        pool_window_taps(&v->axis[a], o[a], &w->j0[a], &w->j1[a]);
        w->start[a] = pool_window_start(&v->axis[a], o[a]);
    }
}

/* 1 if the window holds no input cell. */
static inline int pool_window_empty(const pool_window *w)
{
    return w->j0[0] == w->j1[0] || w->j0[1] == w->j1[1] || w->j0[2] == w->j1[2];
}

/* Taps per axis (1 for an empty range is never asked: check empty first). */
static inline size_t pool_window_count(const pool_window *w, int a)
{
    return w->j1[a] - w->j0[a];
}

/* Flat spatial index (row-major over depth, height, width) of tap (jd, jh, jw). */
static inline size_t pool_window_cell(const pool_view *v, const pool_window *w, size_t jd, size_t jh, size_t jw)
{
    const size_t id = (size_t)(w->start[0] + (ptrdiff_t)(jd * v->axis[0].dilation));
    const size_t ih = (size_t)(w->start[1] + (ptrdiff_t)(jh * v->axis[1].dilation));
    const size_t iw = (size_t)(w->start[2] + (ptrdiff_t)(jw * v->axis[2].dilation));
    return (id * v->axis[1].in + ih) * v->axis[2].in + iw;
}

/* The max rule of the naive kernel, lane by lane: take v when v > m or v is
 * NaN (so the first maximum in scan order wins ties, and the last NaN
 * wins). _mm256_max_ps is not this rule: it returns its second operand for
 * a NaN in either and for equal values (+0 vs -0). */
NNR_INLINE __m256 max_take(__m256 m, __m256 v)
{
    return _mm256_or_ps(_mm256_cmp_ps(v, m, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
}

/* How far ahead of the rows being pooled the input is prefetched. Measured
 * on 32x64x56x56 (2x2/2): without it the kernels waited on DRAM latency. */
#define NNR_POOL_PREFETCH_BYTES 1024
#define NNR_CACHE_LINE 64

/* Prefetches the `bytes` bytes at p + NNR_POOL_PREFETCH_BYTES, those before `end`. */
static inline void pool_prefetch_ahead(const float *p, size_t bytes, const float *end)
{
    const char *from = (const char *)p, *stop = (const char *)end;
    if ((size_t)(stop - from) <= NNR_POOL_PREFETCH_BYTES)
        return;
    from += NNR_POOL_PREFETCH_BYTES;
    if ((size_t)(stop - from) < bytes)
        bytes = (size_t)(stop - from);
    for (size_t b = 0; b < bytes; b += NNR_CACHE_LINE)
        _mm_prefetch(from + b, _MM_HINT_T0);
}

/* Writes n floats of zeros (unaligned, tail masked). */
static inline void pool_zero(float *dst, size_t n)
{
    const __m256 zero = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + NNR_F32_PER_YMM <= n; i += NNR_F32_PER_YMM)
        _mm256_storeu_ps(dst + i, zero);
    if (i < n)
        _mm256_maskstore_ps(dst + i, mask_first(n - i), zero);
}

/*
 * Stride-2 loads: 16 consecutive floats p[0..16) as even lanes p[0], p[2],
 * ..., p[14] and odd lanes p[1], ..., p[15]. The lanes come out in the
 * shuffled order of _mm256_shuffle_ps, outputs {0,1,4,5,2,3,6,7}: every
 * lane-wise operation is indifferent to it, and unshuffle() restores the
 * order once per result. Only the first `needed` floats are read (masked
 * loads never touch the others), so a window may end at the row's end.
 */
NNR_INLINE void load_pair(const float *p, size_t needed, __m256 *even, __m256 *odd)
{
    __m256 a, b;
    if (needed >= NNR_POOL_PAIR_FLOATS) {
        a = _mm256_loadu_ps(p);
        b = _mm256_loadu_ps(p + NNR_F32_PER_YMM);
    } else if (needed > NNR_F32_PER_YMM) {
        a = _mm256_loadu_ps(p);
        b = _mm256_maskload_ps(p + NNR_F32_PER_YMM, mask_first(needed - NNR_F32_PER_YMM));
    } else {
        a = _mm256_maskload_ps(p, mask_first(needed));
        b = _mm256_setzero_ps();
    }
    *even = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
    *odd = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
}

/* Input column offsets 2k of shuffled lane k (outputs {0,1,4,5,2,3,6,7}). */
NNR_INLINE __m256i pair_offsets(void)
{
    return _mm256_setr_epi32(0, 2, 8, 10, 4, 6, 12, 14);
}

/* Shuffled lanes {0,1,4,5,2,3,6,7} back to outputs 0..7. */
NNR_INLINE __m256 unshuffle_ps(__m256 v)
{
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), _MM_SHUFFLE(3, 1, 2, 0)));
}

NNR_INLINE __m256i unshuffle_epi32(__m256i v)
{
    return _mm256_permute4x64_epi64(v, _MM_SHUFFLE(3, 1, 2, 0));
}

/* Stores the first n (1..8) lanes. */
NNR_INLINE void store_first(float *dst, __m256 v, size_t n)
{
    if (n >= NNR_F32_PER_YMM)
        _mm256_storeu_ps(dst, v);
    else
        _mm256_maskstore_ps(dst, mask_first(n), v);
}

NNR_INLINE void store_first_epi32(int32_t *dst, __m256i v, size_t n)
{
    if (n >= NNR_F32_PER_YMM)
        _mm256_storeu_si256((__m256i *)dst, v);
    else
        _mm256_maskstore_epi32((int *)dst, mask_first(n), v);
}

/* 16 consecutive outputs from 8 even-position and 8 odd-position values in
 * natural order (the inverse of load_pair for the backward's 2-wide windows):
 * lo = e0 o0 e1 o1 ... e3 o3, hi = e4 o4 ... e7 o7. */
NNR_INLINE void interleave(__m256 even, __m256 odd, __m256 *lo, __m256 *hi)
{
    const __m256 a = _mm256_unpacklo_ps(even, odd), b = _mm256_unpackhi_ps(even, odd);
    *lo = _mm256_permute2f128_ps(a, b, 0x20);
    *hi = _mm256_permute2f128_ps(a, b, 0x31);
}

/* Stores the first n (0..16) of the 16 floats lo, hi. */
NNR_INLINE void store_pair(float *dst, __m256 lo, __m256 hi, size_t n)
{
    if (n >= NNR_POOL_PAIR_FLOATS) {
        _mm256_storeu_ps(dst, lo);
        _mm256_storeu_ps(dst + NNR_F32_PER_YMM, hi);
    } else if (n > NNR_F32_PER_YMM) {
        _mm256_storeu_ps(dst, lo);
        _mm256_maskstore_ps(dst + NNR_F32_PER_YMM, mask_first(n - NNR_F32_PER_YMM), hi);
    } else if (n > 0) {
        store_first(dst, lo, n);
    }
}

#endif /* NNR_POOL_AVX2_UTIL_H */
