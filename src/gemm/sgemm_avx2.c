/*
 * Single-precision matrix product for AVX2 + FMA (contract: gemm.h).
 *
 *   C (m x n) = [C +] A (m x k) · B (k x n),   c[i][j] = sum_p a[i][p] b[p][j]
 *
 * The naive product is the triple loop over i, j, p. This file computes the
 * same sums with BLIS's five loops around a micro-kernel (Van Zee & van de
 * Geijn, "BLIS: A Framework for Rapidly Instantiating BLAS Functionality",
 * 2015; the register tile of its Haswell kernel bli_sgemm_haswell_asm_6x16):
 *
 *   for jc over n in steps of NC           B panel  KC x NC   (L3)
 *     for pc over k in steps of kc         one rank-kc update of C
 *       pack B[pc.., jc..] into NR-column micro-panels (m > MC)
 *       for ic over m in steps of MC       A block  MC x KC   (L2)
 *         pack A[ic.., pc..] into MR-row micro-panels
 *         for jr over the panel by NR      B micro-panel KC x NR (L1)
 *           (m <= MC: pack this B micro-panel now, see the loops below)
 *           for ir over the block by MR    A micro-panel MR x KC (streamed)
 *             micro-kernel: a 6x16 tile of C += A micro-panel · B micro-panel
 *
 * Packing copies each operand, whatever its row and column strides, into
 * the order the micro-kernel reads it (one contiguous run per micro-panel),
 * so transposed operands cost nothing extra in the inner loop. Rows of A
 * beyond m and columns of B beyond n are packed as zeros: the micro-kernel
 * always computes a full 6x16 tile, and an edge tile is written through a
 * small temporary tile, only its valid part reaching C.
 *
 * Summation order, fixed: c[i][j] gets, block by block in increasing pc, the
 * block's partial sum over p (FMAs in increasing p, starting from 0), added
 * to C (or stored, for the first block without accumulate). It depends on
 * k's blocking alone, never on m, n, the tile an element falls in or the
 * thread count (threads, with OpenMP, split the jr loop: independent tiles
 * of C).
 */
#include "config.h"

#if !defined(__AVX2__) || !defined(__FMA__)
#error "sgemm_avx2.c must be compiled with AVX2 and FMA enabled (-mavx2 -mfma)"
#endif

#include <immintrin.h>
#include <stdint.h>
#include <string.h>
#include "gemm.h"

/* ---- Blocking ------------------------------------------------------------ */

/* Register tile MR x NR: 6 rows of 2 ymm vectors = 12 accumulators, plus the
 * two B vectors and one broadcast A value = 15 of the 16 ymm registers. Per
 * step of p it issues 12 FMAs against 2 loads and 6 broadcasts, enough
 * independent FMAs to cover the FMA latency (4 cycles) on both FMA pipes. */
#define SGEMM_MR 6
#define SGEMM_NR 16

/* KC, the depth of one rank-kc update. A B micro-panel (KC x NR floats,
 * 20 KiB at 320) stays in this machine's 48 KiB L1d (AMD EPYC, lscpu) while
 * the A micro-panels (MR x KC, 7.5 KiB) stream past it, and the tile of C
 * is loaded and stored once per KC x 12 FMAs. k is cut into equal blocks of
 * at most KC (sgemm_kc()), so a k of 288 makes one block, 576 two of 288. */
#define SGEMM_KC 320

/* MC, rows of the packed A block (MC x KC floats, 240 KiB at 192 x 320),
 * which stays in the 1 MiB L2 while every B micro-panel of the panel meets
 * it. A multiple of MR. */
#define SGEMM_MC 192

/* NC, columns of the packed B panel (KC x NC floats, 5 MiB at 4096 x 320),
 * kept in the L3. A multiple of NR. */
#define SGEMM_NC 4096

/* Packed buffers start on a 64-byte cache line; the workspace carries the
 * floats needed to get there from any float-aligned pointer. */
#define SGEMM_ALIGN_BYTES 64
#define SGEMM_ALIGN_SLACK (SGEMM_ALIGN_BYTES / sizeof(float))

#define SGEMM_F32_PER_YMM 8

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

static size_t round_up(size_t x, size_t to)
{
    return (x + to - 1) / to * to;
}

/* Depth of each rank-kc update: k cut into ceil(k / KC) blocks as equal as
 * possible (a k just above KC makes two half blocks, not a full one and a
 * sliver). */
static size_t sgemm_kc(size_t k)
{
    const size_t blocks = (k + SGEMM_KC - 1) / SGEMM_KC;
    return blocks == 0 ? 0 : (k + blocks - 1) / blocks;
}

size_t nnr_sgemm_avx2_workspace_floats(size_t m, size_t n, size_t k)
{
    if (m == 0 || n == 0 || k == 0)
        return 0;
    const size_t kc = sgemm_kc(k);
    const size_t nc = round_up(min_size(n, SGEMM_NC), SGEMM_NR);
    const size_t mc = round_up(min_size(m, SGEMM_MC), SGEMM_MR);
    /* B panel, then A block: kc * nc is a multiple of 16 floats (64 bytes),
     * so the A block is cache-line aligned too. */
    return SGEMM_ALIGN_SLACK + kc * nc + kc * mc;
}

/* ---- Packing ------------------------------------------------------------- */

/* B panel: kc x nc of B starting at b, into ceil(nc / NR) micro-panels, each
 * kc rows of NR floats: bp[panel][p][j] = B[p][panel * NR + j], 0 for
 * columns beyond nc. */
static void pack_b(size_t kc, size_t nc, const float *b, ptrdiff_t b_rs, ptrdiff_t b_cs, float *bp)
{
    for (size_t jr = 0; jr < nc; jr += SGEMM_NR) {
        const size_t nr = min_size(SGEMM_NR, nc - jr);
        const float *src = b + (ptrdiff_t)jr * b_cs;
        if (b_cs == 1 && nr == SGEMM_NR) {
            /* Rows of B contiguous: each row of the micro-panel is two vector copies. */
            for (size_t p = 0; p < kc; p++) {
                const float *row = src + (ptrdiff_t)p * b_rs;
                _mm256_store_ps(bp, _mm256_loadu_ps(row));
                _mm256_store_ps(bp + SGEMM_F32_PER_YMM, _mm256_loadu_ps(row + SGEMM_F32_PER_YMM));
                bp += SGEMM_NR;
            }
        } else if (b_rs == 1) {
            /* Columns of B contiguous (B is a transposed row-major matrix):
             * read each column down, write it across the micro-panel. */
            for (size_t j = 0; j < nr; j++) {
                const float *col = src + (ptrdiff_t)j * b_cs;
                for (size_t p = 0; p < kc; p++)
                    bp[p * SGEMM_NR + j] = col[p];
            }
            for (size_t j = nr; j < SGEMM_NR; j++)
                for (size_t p = 0; p < kc; p++)
                    bp[p * SGEMM_NR + j] = 0.0f;
            bp += kc * SGEMM_NR;
        } else {
            /* Any strides, and the last, narrower micro-panel. */
            for (size_t p = 0; p < kc; p++) {
                const float *row = src + (ptrdiff_t)p * b_rs;
                for (size_t j = 0; j < nr; j++)
                    bp[j] = row[(ptrdiff_t)j * b_cs];
                for (size_t j = nr; j < SGEMM_NR; j++)
                    bp[j] = 0.0f;
                bp += SGEMM_NR;
            }
        }
    }
}

/* A block: mc x kc of A starting at a, into ceil(mc / MR) micro-panels, each
 * kc columns of MR floats: ap[panel][p][r] = A[panel * MR + r][p], 0 for rows
 * beyond mc. */
static void pack_a(size_t mc, size_t kc, const float *a, ptrdiff_t a_rs, ptrdiff_t a_cs, float *ap)
{
    for (size_t ir = 0; ir < mc; ir += SGEMM_MR) {
        const size_t mr = min_size(SGEMM_MR, mc - ir);
        const float *src = a + (ptrdiff_t)ir * a_rs;
        if (mr == SGEMM_MR) {
            /* Full micro-panel: six row pointers walked together along p. */
            const float *r0 = src, *r1 = src + a_rs, *r2 = src + 2 * a_rs;
            const float *r3 = src + 3 * a_rs, *r4 = src + 4 * a_rs, *r5 = src + 5 * a_rs;
            for (size_t p = 0; p < kc; p++) {
                const ptrdiff_t at = (ptrdiff_t)p * a_cs;
                ap[0] = r0[at];
                ap[1] = r1[at];
                ap[2] = r2[at];
                ap[3] = r3[at];
                ap[4] = r4[at];
                ap[5] = r5[at];
                ap += SGEMM_MR;
            }
        } else {
            /* The last, shorter micro-panel: missing rows are zeros. */
            for (size_t p = 0; p < kc; p++) {
                for (size_t r = 0; r < mr; r++)
                    ap[r] = src[(ptrdiff_t)r * a_rs + (ptrdiff_t)p * a_cs];
                for (size_t r = mr; r < SGEMM_MR; r++)
                    ap[r] = 0.0f;
                ap += SGEMM_MR;
            }
        }
    }
}

/* ---- Micro-kernel -------------------------------------------------------- */

/* One row of the C tile: two vectors, stored or added to C. */
static inline void store_row(float *c, __m256 lo, __m256 hi, int add)
{
    if (add) {
        lo = _mm256_add_ps(_mm256_loadu_ps(c), lo);
        hi = _mm256_add_ps(_mm256_loadu_ps(c + SGEMM_F32_PER_YMM), hi);
    }
    _mm256_storeu_ps(c, lo);
    _mm256_storeu_ps(c + SGEMM_F32_PER_YMM, hi);
}

/*
 * C tile (mr x nr of C at c, row stride c_rs) = [C +] sum over p < kc of
 * ap[p][r] * bp[p][j], the naive inner loop for 6 x 16 elements at once:
 * row r of the tile is two accumulators, and each step of p broadcasts
 * a[r][p] and multiplies it into row p of the B micro-panel (an outer
 * product, 12 FMAs). Full tiles go straight to C; an edge tile (mr < 6 or
 * nr < 16) goes through a temporary tile, and only its valid part is
 * stored or added.
 */
static void sgemm_kernel_6x16(size_t kc, const float *restrict ap, const float *restrict bp, float *c,
                              ptrdiff_t c_rs, int add, size_t mr, size_t nr)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();

    /* The tile of C is needed after the loop: start bringing it in. */
    for (size_t r = 0; r < mr; r++) {
        _mm_prefetch((const char *)(c + (ptrdiff_t)r * c_rs), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + (ptrdiff_t)r * c_rs + SGEMM_NR - 1), _MM_HINT_T0);
    }

    /* c[r][j] += a[r][p] * b[p][j] for r < 6, j < 16, p < kc. */
    for (size_t p = 0; p < kc; p++) {
        const __m256 b0 = _mm256_load_ps(bp);
        const __m256 b1 = _mm256_load_ps(bp + SGEMM_F32_PER_YMM);
        __m256 ar;
        ar = _mm256_broadcast_ss(ap + 0);
        c00 = _mm256_fmadd_ps(ar, b0, c00);
        c01 = _mm256_fmadd_ps(ar, b1, c01);
        ar = _mm256_broadcast_ss(ap + 1);
        c10 = _mm256_fmadd_ps(ar, b0, c10);
        c11 = _mm256_fmadd_ps(ar, b1, c11);
        ar = _mm256_broadcast_ss(ap + 2);
        c20 = _mm256_fmadd_ps(ar, b0, c20);
        c21 = _mm256_fmadd_ps(ar, b1, c21);
        ar = _mm256_broadcast_ss(ap + 3);
        c30 = _mm256_fmadd_ps(ar, b0, c30);
        c31 = _mm256_fmadd_ps(ar, b1, c31);
        ar = _mm256_broadcast_ss(ap + 4);
        c40 = _mm256_fmadd_ps(ar, b0, c40);
        c41 = _mm256_fmadd_ps(ar, b1, c41);
        ar = _mm256_broadcast_ss(ap + 5);
        c50 = _mm256_fmadd_ps(ar, b0, c50);
        c51 = _mm256_fmadd_ps(ar, b1, c51);
        ap += SGEMM_MR;
        bp += SGEMM_NR;
    }

    if (mr == SGEMM_MR && nr == SGEMM_NR) {
        /* Full tile: C rows = [C +] accumulators. */
        store_row(c + 0 * c_rs, c00, c01, add);
        store_row(c + 1 * c_rs, c10, c11, add);
        store_row(c + 2 * c_rs, c20, c21, add);
        store_row(c + 3 * c_rs, c30, c31, add);
        store_row(c + 4 * c_rs, c40, c41, add);
        store_row(c + 5 * c_rs, c50, c51, add);
        return;
    }

    /* Edge tile: the whole tile to a temporary, then its mr x nr part to C. */
    float tile[SGEMM_MR * SGEMM_NR];
    store_row(tile + 0 * SGEMM_NR, c00, c01, 0);
    store_row(tile + 1 * SGEMM_NR, c10, c11, 0);
    store_row(tile + 2 * SGEMM_NR, c20, c21, 0);
    store_row(tile + 3 * SGEMM_NR, c30, c31, 0);
    store_row(tile + 4 * SGEMM_NR, c40, c41, 0);
    store_row(tile + 5 * SGEMM_NR, c50, c51, 0);
    for (size_t r = 0; r < mr; r++) {
        float *crow = c + (ptrdiff_t)r * c_rs;
        const float *trow = tile + r * SGEMM_NR;
        for (size_t j = 0; j < nr; j++)
            crow[j] = add ? crow[j] + trow[j] : trow[j];
    }
}

/* ---- The five loops ------------------------------------------------------ */

void nnr_sgemm_avx2(size_t m, size_t n, size_t k,
                    const float *a, ptrdiff_t a_rs, ptrdiff_t a_cs,
                    const float *b, ptrdiff_t b_rs, ptrdiff_t b_cs,
                    float *c, ptrdiff_t c_rs, int accumulate, float *workspace)
{
    if (m == 0 || n == 0)
        return;
    if (k == 0) {
        /* An empty sum: C = 0, or C unchanged. */
        if (!accumulate)
            for (size_t i = 0; i < m; i++)
                memset(c + (ptrdiff_t)i * c_rs, 0, n * sizeof *c);
        return;
    }

    /* Carve the workspace: the B panel on a cache line, the A block after it. */
    const size_t kc_max = sgemm_kc(k);
    const size_t nc_max = round_up(min_size(n, SGEMM_NC), SGEMM_NR);
    const uintptr_t misalign = (uintptr_t)workspace % SGEMM_ALIGN_BYTES;
    float *b_panel = workspace + (misalign ? (SGEMM_ALIGN_BYTES - misalign) / sizeof(float) : 0);
    float *a_block = b_panel + kc_max * nc_max;

    for (size_t jc = 0; jc < n; jc += SGEMM_NC) {
        const size_t nc = min_size(SGEMM_NC, n - jc);
        for (size_t pc = 0; pc < k; pc += kc_max) {
            const size_t kc = min_size(kc_max, k - pc);
            /* The first block overwrites C unless the caller accumulates. */
            const int add = accumulate || pc > 0;
            const float *b_src = b + (ptrdiff_t)pc * b_rs + (ptrdiff_t)jc * b_cs;
            /* With one A block (m <= MC) each B micro-panel meets one block
             * only: it is packed just before its tiles, into a slot that is
             * still in L1 when the micro-kernel reads it, instead of packing
             * the whole panel first (a round trip through L2 or L3). With
             * several A blocks the panel is packed once and reused by each. */
            const int pack_b_late = m <= SGEMM_MC;
            if (!pack_b_late)
                pack_b(kc, nc, b_src, b_rs, b_cs, b_panel);

            for (size_t ic = 0; ic < m; ic += SGEMM_MC) {
                const size_t mc = min_size(SGEMM_MC, m - ic);
                pack_a(mc, kc, a + (ptrdiff_t)ic * a_rs + (ptrdiff_t)pc * a_cs, a_rs, a_cs, a_block);

                /* Tiles of C in this block are independent: threads may share
                 * them out, micro-panel by micro-panel. */
                const ptrdiff_t n_panels = (ptrdiff_t)((nc + SGEMM_NR - 1) / SGEMM_NR);
#ifdef NNR_USE_OPENMP
#pragma omp parallel for schedule(static) if (mc * nc * kc >= 1u << 20)
#endif
                for (ptrdiff_t panel = 0; panel < n_panels; panel++) {
                    const size_t jr = (size_t)panel * SGEMM_NR;
                    const size_t nr = min_size(SGEMM_NR, nc - jr);
                    float *bp = b_panel + jr * kc;
                    if (pack_b_late) {
#ifndef NNR_USE_OPENMP
                        /* One thread: every micro-panel reuses the first slot. */
                        bp = b_panel;
#endif
                        pack_b(kc, nr, b_src + (ptrdiff_t)jr * b_cs, b_rs, b_cs, bp);
                    }
                    for (size_t ir = 0; ir < mc; ir += SGEMM_MR) {
                        const size_t mr = min_size(SGEMM_MR, mc - ir);
                        float *c_tile = c + (ptrdiff_t)(ic + ir) * c_rs + (ptrdiff_t)(jc + jr);
                        sgemm_kernel_6x16(kc, a_block + ir * kc, bp, c_tile, c_rs, add, mr, nr);
                    }
                }
            }
        }
    }
}
