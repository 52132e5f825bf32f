/*
 * Dropout, AVX2 + FMA kernels (float). Same contract, same argument checks and
 * the same results, bit for bit, as src/dropout/dropout_naive.c, which is the
 * reference: read that file first. The mask is identical because the keep
 * decisions are integers: Philox4x32-10 is run here in vectors, 8 counter
 * blocks per register (one block per 32-bit lane), and the outputs are the
 * naive kernel's single products x*s, (x*m)*s.
 *
 * Philox in vectors. A round needs the 64-bit products of 32-bit words with
 * the constants M0 and M1; _mm256_mul_epu32 multiplies the even lanes only,
 * so each product is taken twice (even lanes, then odd lanes shifted down) and
 * the high and low halves are blended back into lane order (mulhilo()).
 *
 * Words to elements. Block b gives the words of counters 4b..4b+3. A chunk of
 * 32 noise elements whose first counter is a multiple of 4 takes 8 whole
 * blocks: the 4 word vectors (word w of lane l = element 4l + w) become keep
 * lanes and a 4x8 transpose puts them in element order (transpose_keep()).
 * Elements before the first such counter (offset not a multiple of 4) and
 * after the last whole chunk are drawn by the scalar rule, nnr_philox4x32().
 *
 * Passes:
 *  - training forward without noise_shape: one pass, 32 elements per
 *    iteration: draw, store 32 mask bytes, apply to 4 vectors of x;
 *  - training forward with noise_shape: draw the mask (same loop, no x), then
 *    apply it row by row over the input's last axis, which either has its own
 *    decisions (mask bytes widened to lanes) or shares one (a broadcast lane);
 *  - backward: the same row application to dy;
 *  - inference: a copy (inverted) or one product per element (classic).
 */
#include "config.h"

#if !defined(__AVX2__) || !defined(__FMA__)
#error "dropout_avx2.c must be compiled with AVX2 and FMA enabled (-mavx2 -mfma)"
#endif

#include <immintrin.h>
#include "dropout_internal.h"

#define F32_PER_YMM 8
#define BLOCKS_PER_YMM 8                                          /* Philox blocks, one per 32-bit lane */
#define CHUNK (BLOCKS_PER_YMM * DROPOUT_WORDS_PER_BLOCK)          /* 32 noise elements per iteration */

/* Philox4x32-10 constants, as src/core/rng.c. */
#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u
#define PHILOX_ROUNDS 10

/* ---- Philox in vectors ------------------------------------------------------ */

/* hi, lo = the high and low 32 bits of a * m in each of the 8 lanes. */
static inline void mulhilo(__m256i a, __m256i m, __m256i *hi, __m256i *lo)
{
    const __m256i even = _mm256_mul_epu32(a, m);                          /* lanes 0,2,4,6 as 64-bit */
    const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);   /* lanes 1,3,5,7 as 64-bit */
    *lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
    *hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
}

/* The four words of blocks first .. first+7 (lane l: block first + l), the
 * rounds of nnr_philox4x32() with counter (block, 0, 0) and key seed. */
static inline void philox_8_blocks(uint64_t seed, uint64_t first, __m256i word[4])
{
    /* counter low word: first + l (mod 2^32); high word: carries where the
     * low word wrapped around (unsigned compare via the sign-flipped values) */
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i sign = _mm256_set1_epi32((int)0x80000000u);
    const __m256i lo0 = _mm256_set1_epi32((int)(uint32_t)first);
    __m256i c0 = _mm256_add_epi32(lo0, lane);
    const __m256i wrapped = _mm256_cmpgt_epi32(_mm256_xor_si256(lo0, sign), _mm256_xor_si256(c0, sign));
    __m256i c1 = _mm256_sub_epi32(_mm256_set1_epi32((int)(uint32_t)(first >> 32)), wrapped);
    /* blocks are g / 4 for counters g mod 2^64, i.e. (first + l) mod 2^62:
     * a chunk that runs past counter 2^64 - 1 starts again at block 0 */
    c1 = _mm256_and_si256(c1, _mm256_set1_epi32(0x3FFFFFFF));
    __m256i c2 = _mm256_setzero_si256(), c3 = _mm256_setzero_si256();
    __m256i k0 = _mm256_set1_epi32((int)(uint32_t)seed), k1 = _mm256_set1_epi32((int)(uint32_t)(seed >> 32));
    const __m256i m0 = _mm256_set1_epi32((int)PHILOX_M0), m1 = _mm256_set1_epi32((int)PHILOX_M1);
    const __m256i w0 = _mm256_set1_epi32((int)PHILOX_W0), w1 = _mm256_set1_epi32((int)PHILOX_W1);

    for (int round = 0; round < PHILOX_ROUNDS; round++) {
        __m256i hi0, lo0r, hi1, lo1r;
        mulhilo(c0, m0, &hi0, &lo0r);
        mulhilo(c2, m1, &hi1, &lo1r);
        c0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1), k0);
        c1 = lo1r;
        c2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), k1);
        c3 = lo0r;
        k0 = _mm256_add_epi32(k0, w0);
        k1 = _mm256_add_epi32(k1, w1);
    }
    word[0] = c0;
    word[1] = c1;
    word[2] = c2;
    word[3] = c3;
}

/* keep[k], k = 0..3: all-ones lanes for the kept elements 8k .. 8k+7 of the
 * chunk, from word[w] lane l = element 4l + w: keep iff (word >> 8) >= T,
 * i.e. (word >> 8) > T - 1 (a signed compare: both sides are below 2^24). */
static inline void transpose_keep(const __m256i word[4], uint32_t threshold, __m256i keep[4])
{
    const __m256i t_minus_1 = _mm256_set1_epi32((int)threshold - 1);
    __m256i k[4];
    for (int w = 0; w < 4; w++)
        k[w] = _mm256_cmpgt_epi32(_mm256_srli_epi32(word[w], DROPOUT_DROP_BITS), t_minus_1);
    /* 4x8 transpose: lanes (l, w) -> element 4l + w */
    const __m256i t0 = _mm256_unpacklo_epi32(k[0], k[1]), t1 = _mm256_unpacklo_epi32(k[2], k[3]);
    const __m256i t2 = _mm256_unpackhi_epi32(k[0], k[1]), t3 = _mm256_unpackhi_epi32(k[2], k[3]);
    const __m256i u0 = _mm256_unpacklo_epi64(t0, t1);   /* blocks 0 | 4 */
    const __m256i u1 = _mm256_unpackhi_epi64(t0, t1);   /* blocks 1 | 5 */
    const __m256i u2 = _mm256_unpacklo_epi64(t2, t3);   /* blocks 2 | 6 */
    const __m256i u3 = _mm256_unpackhi_epi64(t2, t3);   /* blocks 3 | 7 */
    keep[0] = _mm256_permute2x128_si256(u0, u1, 0x20);  /* blocks 0, 1: elements 0..7 */
    keep[1] = _mm256_permute2x128_si256(u2, u3, 0x20);  /* blocks 2, 3 */
    keep[2] = _mm256_permute2x128_si256(u0, u1, 0x31);  /* blocks 4, 5 */
    keep[3] = _mm256_permute2x128_si256(u2, u3, 0x31);  /* blocks 6, 7 */
}

/* mask[0..32) = 1 where kept, 0 where dropped (the lanes packed to bytes). */
static inline void store_mask_bytes(const __m256i keep[4], uint8_t *mask)
{
    const __m256i p01 = _mm256_packs_epi32(keep[0], keep[1]);   /* 16-bit, 128-bit halves interleaved */
    const __m256i p23 = _mm256_packs_epi32(keep[2], keep[3]);
    const __m256i b = _mm256_packs_epi16(p01, p23);             /* dwords: e0 e1 e2 e3 | e0' e1' e2' e3' */
    const __m256i ordered = _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)mask, _mm256_and_si256(ordered, _mm256_set1_epi8(1)));
}

/* ---- Applying the mask: y = m ? x*s : 0 (ZERO) or (x*m)*s (MULTIPLY) ------------ */

static inline __m256 apply_vec(__m256 x, __m256 keep, __m256 s, int zero_dropped)
{
    if (zero_dropped)
        return _mm256_and_ps(keep, _mm256_mul_ps(x, s));
    const __m256 m = _mm256_and_ps(keep, _mm256_set1_ps(1.0f));
    return _mm256_mul_ps(_mm256_mul_ps(x, m), s);
}

static inline float apply_scalar(float x, int keep, float s, int zero_dropped)
{
    if (zero_dropped)
        return keep ? x * s : 0.0f;
    const float m = keep ? 1.0f : 0.0f;
    return (x * m) * s;
}

/* Scalar draw of noise elements [j0, j1) (the head and tail of a chunked
 * range): the naive kernel's rule, one Philox block per 4 counters. If x is
 * not NULL, also y[j] = rule(x[j]) (the fused pass, noise = input). */
static void draw_scalar(const dropout_view *v, size_t j0, size_t j1, const float *x, float *y, uint8_t *mask)
{
    uint32_t words[DROPOUT_WORDS_PER_BLOCK];
    const float s = dropout_train_scale(v);
    for (size_t j = j0; j < j1; j++) {
        const uint64_t g = v->offset + j;
        if (j == j0 || g % DROPOUT_WORDS_PER_BLOCK == 0)
            nnr_philox4x32(v->seed, g / DROPOUT_WORDS_PER_BLOCK, words);
        const int keep = dropout_keep_word(words[g % DROPOUT_WORDS_PER_BLOCK], v->threshold);
        mask[j] = (uint8_t)keep;
        if (x != NULL)
            y[j] = apply_scalar(x[j], keep, s, v->zero_dropped);
    }
}

/* Draws the mask of noise elements [0, noise_count) and, if x is not NULL
 * (no noise_shape: noise element j is input element j), applies it: y. */
static void draw(const dropout_view *v, const float *x, float *y, uint8_t *mask)
{
    const size_t n = v->noise_count;
    /* head: up to the first counter that starts a block */
    size_t head = (size_t)((DROPOUT_WORDS_PER_BLOCK - v->offset % DROPOUT_WORDS_PER_BLOCK) % DROPOUT_WORDS_PER_BLOCK);
    if (head > n)
        head = n;
    const size_t n_chunks = (n - head) / CHUNK;
    const size_t body_end = head + n_chunks * CHUNK;
    const __m256 s = _mm256_set1_ps(dropout_train_scale(v));

    draw_scalar(v, 0, head, x, y, mask);
    for (size_t c = 0; c < n_chunks; c++) {
        const size_t j = head + c * CHUNK;
        /* 8 Philox blocks -> 32 keep decisions in element order -> mask bytes */
        __m256i word[4], keep[4];
        philox_8_blocks(v->seed, (v->offset + j) / DROPOUT_WORDS_PER_BLOCK, word);
        transpose_keep(word, v->threshold, keep);
        store_mask_bytes(keep, mask + j);
        if (x == NULL)
            continue;
        /* y[j + 8k ..] = rule(x[j + 8k ..]) for the 4 vectors of the chunk */
        for (int k = 0; k < 4; k++) {
            const size_t i = j + (size_t)k * F32_PER_YMM;
            const __m256 keep_ps = _mm256_castsi256_ps(keep[k]);
            _mm256_storeu_ps(y + i, apply_vec(_mm256_loadu_ps(x + i), keep_ps, s, v->zero_dropped));
        }
    }
    draw_scalar(v, body_end, n, x, y, mask);
}

/* dst[0..n) = rule(src[0..n)) with the decisions mask[0], mask[step], ...:
 * step 1 (one decision per element, 8 bytes widened to 8 lanes) or step 0
 * (one decision shared by the whole row, broadcast). */
static void apply_row(const float *src, const uint8_t *mask, size_t step, size_t n, float s_value, int zero_dropped,
                      float *dst)
{
    const size_t n_vec = n / F32_PER_YMM, n_tail = n % F32_PER_YMM;
    const __m256 s = _mm256_set1_ps(s_value);
    const __m256i zero = _mm256_setzero_si256();
    if (step == 0) {
        const __m256 keep = _mm256_castsi256_ps(_mm256_set1_epi32(mask[0] ? -1 : 0));
        for (size_t k = 0; k < n_vec; k++) {
            const size_t i = k * F32_PER_YMM;
            _mm256_storeu_ps(dst + i, apply_vec(_mm256_loadu_ps(src + i), keep, s, zero_dropped));
        }
    } else {
        for (size_t k = 0; k < n_vec; k++) {
            const size_t i = k * F32_PER_YMM;
            /* 8 mask bytes -> 8 int lanes -> all-ones where non-zero */
            const __m256i m32 = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(mask + i)));
            const __m256 keep = _mm256_castsi256_ps(_mm256_xor_si256(_mm256_cmpeq_epi32(m32, zero),
                                                                     _mm256_set1_epi32(-1)));
            _mm256_storeu_ps(dst + i, apply_vec(_mm256_loadu_ps(src + i), keep, s, zero_dropped));
        }
    }
    /* tail: fewer than 8 elements, the scalar rule */
    for (size_t i = n_vec * F32_PER_YMM; i < n_vec * F32_PER_YMM + n_tail; i++)
        dst[i] = apply_scalar(src[i], mask[i * step] != 0, s_value, zero_dropped);
}

/* dst = rule(src) over the whole input, the mask broadcast from the noise
 * tensor: row by row over the last axis (noise_step 1 or 0 there). */
static void apply_broadcast(const dropout_view *v, const float *src, const uint8_t *mask, float s, float *dst)
{
    if (!v->broadcast) {
        apply_row(src, mask, 1, v->count, s, v->zero_dropped, dst);
        return;
    }
    const size_t width = v->dims[v->rank - 1];
    const size_t rows = v->count / width;
    const size_t step = v->noise_step[v->rank - 1];
    for (size_t r = 0; r < rows; r++) {
        const size_t i = r * width;
        apply_row(src + i, mask + dropout_noise_index(v, i), step, width, s, v->zero_dropped, dst + i);
    }
}

/* ---- Entry points ------------------------------------------------------------- */

nnr_status nnr_dropout_fwd_train_avx2(const nnr_dropout_params *p, const nnr_shape *shape, const float *x,
                                      float *y, uint8_t *mask)
{
    dropout_view v;
    const void *ptrs[] = {x, y, mask};
    const char *const names[] = {"x", "y", "mask"};
    nnr_status st = nnr_dropout_check(p, shape, ptrs, names, 3, &v);
    if (st.code != NNR_OK)
        return st;

    if (!v.broadcast) {
        draw(&v, x, y, mask);   /* fused: one pass over x */
    } else {
        draw(&v, NULL, NULL, mask);
        apply_broadcast(&v, x, mask, dropout_train_scale(&v), y);
    }
    return nnr_ok();
}

nnr_status nnr_dropout_fwd_infer_avx2(const nnr_dropout_params *p, const nnr_shape *shape, const float *x,
                                      float *y)
{
    dropout_view v;
    const void *ptrs[] = {x, y};
    const char *const names[] = {"x", "y"};
    nnr_status st = nnr_dropout_check(p, shape, ptrs, names, 2, &v);
    if (st.code != NNR_OK)
        return st;

    const size_t n_vec = v.count / F32_PER_YMM;
    if (v.inverted) {
        /* y = x */
        if (y != x)
            for (size_t k = 0; k < n_vec; k++)
                _mm256_storeu_ps(y + k * F32_PER_YMM, _mm256_loadu_ps(x + k * F32_PER_YMM));
        for (size_t i = n_vec * F32_PER_YMM; i < v.count; i++)
            y[i] = x[i];
    } else {
        /* y = (1 - rate) * x */
        const float keep_prob = (float)(1.0 - v.rate);
        const __m256 q = _mm256_set1_ps(keep_prob);
        for (size_t k = 0; k < n_vec; k++)
            _mm256_storeu_ps(y + k * F32_PER_YMM, _mm256_mul_ps(q, _mm256_loadu_ps(x + k * F32_PER_YMM)));
        for (size_t i = n_vec * F32_PER_YMM; i < v.count; i++)
            y[i] = keep_prob * x[i];
    }
    return nnr_ok();
}

nnr_status nnr_dropout_bwd_avx2(const nnr_dropout_params *p, const nnr_shape *shape, const float *dy,
                                const uint8_t *mask, float *dx)
{
    dropout_view v;
    const void *ptrs[] = {dy, mask, dx};
    const char *const names[] = {"dy", "mask", "dx"};
    nnr_status st = nnr_dropout_check(p, shape, ptrs, names, 3, &v);
    if (st.code != NNR_OK)
        return st;

    /* dx = rule(dy): the forward's rule applied to dy with the saved mask */
    apply_broadcast(&v, dy, mask, dropout_train_scale(&v), dx);
    return nnr_ok();
}
