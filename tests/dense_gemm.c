/*
 * Cross-validation of the AVX2 matrix product shared by Dense and
 * convolution (src/gemm/sgemm_avx2.c, contract src/gemm/gemm.h) against the
 * plain triple loop in double.
 *
 * Cases: m, n and k swept through 1..17, 31..33, 95..97 (below, at and above
 * the 6-row and 16-column register tile and the 8-float vector), around the
 * blocking edges (m = MC ± 1 = 191..193, k = KC ± 1 = 319..321 and 641 =
 * 2 KC + 1, n = NC ± 1 = 4095..4097) and mixed; each in the four transpose
 * combinations of A and B (given through the row and column strides), with
 * accumulate off and on, with C's row stride wider than n, and with every
 * pointer (A, B, C, workspace) off a 32-byte boundary by one float.
 *
 * The bound, and why. The inputs are floats, exact in double, and the
 * reference sums in double (error below k 2^-53 S, S = sum_p |a_ip b_pj|
 * (+ |c0_ij| when accumulating)). The kernel forms each product exactly
 * inside an FMA and rounds once per FMA and once per addition of a block's
 * partial sum to C: with kc = ceil(k / nb) per block and nb blocks, one term
 * goes through at most kc + nb <= k + 1 roundings of relative size u =
 * 2^-24, so (Higham, Accuracy and Stability of Numerical Algorithms, §3.1
 * and §4.2) |c - c_exact| <= gamma_{k+1} S, gamma_j = j u / (1 - j u):
 *
 *   |c - c_ref| <= (gamma_{k+1} + (k + 1) 2^-52) S.
 *
 * A misplaced tile, a lost block or a wrongly packed element errs by a whole
 * term, far above it. The cells of C outside the m x n result (the gap of a
 * wider row stride, and the floats before and after) must keep their canary.
 */
#include "config.h"
#include <stdint.h>
#include <stdio.h>
#include "test_util.h"
#include "test_dense.h"
#ifdef NNR_USE_OPENMP
#include <omp.h>
#endif

#ifdef NNR_HAVE_AVX2_BUILD
#include "gemm/gemm.h"

/* Blocking constants of sgemm_avx2.c, the edges the sizes straddle. */
#define GX_MC 192
#define GX_KC 320
#define GX_NC 4096

/* One product: sizes, transposes (bit 0: A given as Aᵀ in memory, bit 1: B
 * given as Bᵀ), accumulate, extra columns in C's row stride, and the float
 * offset of every buffer from its allocation (0 or 1: unaligned). */
typedef struct gx_case {
    size_t m, n, k;
    int trans, accumulate;
    size_t c_gap, offset;
} gx_case;

/* Runs one case; returns 0 when every check holds, else prints and returns 1. */
static int gx_run(const gx_case *g)
{
    const size_t m = g->m, n = g->n, k = g->k, off = g->offset;
    const size_t ldc = n + g->c_gap;
    /* A m x k: row-major (a_rs = k, a_cs = 1), or stored as its transpose k x m (a_rs = 1, a_cs = m). */
    const ptrdiff_t a_rs = (g->trans & 1) ? 1 : (ptrdiff_t)k, a_cs = (g->trans & 1) ? (ptrdiff_t)m : 1;
    const ptrdiff_t b_rs = (g->trans & 2) ? 1 : (ptrdiff_t)n, b_cs = (g->trans & 2) ? (ptrdiff_t)k : 1;
    const size_t guard = 8;   /* canary floats before and after C */
    const size_t c_len = (m - 1) * ldc + n;
    const size_t ws = nnr_sgemm_avx2_workspace_floats(m, n, k);

    float *a_buf = tu_alloc_f(m * k + off), *b_buf = tu_alloc_f(k * n + off);
    float *c_buf = tu_alloc_f(c_len + 2 * guard + off), *w_buf = tu_alloc_f(ws + off);
    float *a = a_buf + off, *b = b_buf + off, *c = c_buf + off + guard, *w = w_buf + off;
    const uint64_t seed = 1000003u * m + 1009u * n + 17u * k + (uint64_t)g->trans;
    tu_randn_f(a, m * k, seed, 0.0, 1.0);
    tu_randn_f(b, k * n, seed + 1, 0.0, 1.0);
    tu_fill_canary(c_buf, c_len + 2 * guard + off);
    /* With accumulate, C starts from values of the size of one term. */
    if (g->accumulate)
        for (size_t i = 0; i < m; i++)
            tu_randn_f(c + i * ldc, n, seed + 2 + i, 0.0, 1.0);
    double *c0 = tu_alloc_d(m * n);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++)
            c0[i * n + j] = g->accumulate ? c[i * ldc + j] : 0.0;

    nnr_sgemm_avx2(m, n, k, a, a_rs, a_cs, b, b_rs, b_cs, c, (ptrdiff_t)ldc, g->accumulate, w);

    const double u = ldexp(1.0, -24);
    const double gamma = (double)(k + 1) * u / (1.0 - (double)(k + 1) * u);
    const double ref_err = (double)(k + 1) * ldexp(1.0, -52);
    int bad = 0;
    double worst = 0.0;
    for (size_t i = 0; i < m && bad < 5; i++)
        for (size_t j = 0; j < n && bad < 5; j++) {
            /* c_ref = c0 + sum_p a_ip b_pj, and S = |c0| + sum_p |a_ip b_pj|. */
            double ref = c0[i * n + j], s = fabs(ref);
            for (size_t p = 0; p < k; p++) {
                const double t = (double)a[(ptrdiff_t)i * a_rs + (ptrdiff_t)p * a_cs] *
                                 (double)b[(ptrdiff_t)p * b_rs + (ptrdiff_t)j * b_cs];
                ref += t;
                s += fabs(t);
            }
            const double err = fabs((double)c[i * ldc + j] - ref), bound = (gamma + ref_err) * s;
            if (s > 0.0 && err / s > worst)
                worst = err / s;
            if (!(err <= bound)) {
                fprintf(stderr, "gemm %zux%zux%zu trans %d acc %d: c[%zu][%zu] = %.9g, ref %.9g, err %.3g > %.3g\n",
                        m, n, k, g->trans, g->accumulate, i, j, (double)c[i * ldc + j], ref, err, bound);
                bad++;
            }
        }
    /* Nothing outside the m x n result was written. */
    if (!tu_all_canary(c_buf, guard + off) || !tu_all_canary(c + c_len, guard)) {
        fprintf(stderr, "gemm %zux%zux%zu trans %d: wrote before or after C\n", m, n, k, g->trans);
        bad++;
    }
    for (size_t i = 0; i + 1 < m; i++)
        if (!tu_all_canary(c + i * ldc + n, g->c_gap)) {
            fprintf(stderr, "gemm %zux%zux%zu trans %d: wrote into the gap after row %zu\n", m, n, k, g->trans, i);
            bad++;
            break;
        }
    free(a_buf);
    free(b_buf);
    free(c_buf);
    free(w_buf);
    free(c0);
    return bad != 0;
}

/* Every transpose combination, accumulate off and on, unaligned on odd runs. */
static int gx_all_variants(size_t m, size_t n, size_t k)
{
    int failed = 0;
    for (int trans = 0; trans < 4; trans++)
        for (int acc = 0; acc < 2; acc++) {
            gx_case g = {m, n, k, trans, acc, (size_t)(trans + acc) % 3, (size_t)(trans ^ acc) & 1};
            failed += gx_run(&g);
        }
    return failed;
}

/* Sizes around the vector width (8), the register tile (6 x 16) and twice it. */
static const size_t gx_small[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 31, 32, 33, 95, 96, 97};
#define GX_N_SMALL (sizeof gx_small / sizeof gx_small[0])

START_TEST(gemm_sweep_m)
{
    int failed = 0;
    for (size_t i = 0; i < GX_N_SMALL; i++)
        failed += gx_all_variants(gx_small[i], 17, 33);
    /* The A block's edge: MC ± 1 rows. */
    for (size_t m = GX_MC - 1; m <= GX_MC + 1; m++)
        failed += gx_all_variants(m, 19, 21);
    ck_assert_int_eq(failed, 0);
}
END_TEST

START_TEST(gemm_sweep_n)
{
    int failed = 0;
    for (size_t i = 0; i < GX_N_SMALL; i++)
        failed += gx_all_variants(7, gx_small[i], 33);
    /* The B panel's edge: NC ± 1 columns. */
    for (size_t n = GX_NC - 1; n <= GX_NC + 1; n++)
        failed += gx_all_variants(7, n, 9);
    ck_assert_int_eq(failed, 0);
}
END_TEST

START_TEST(gemm_sweep_k)
{
    int failed = 0;
    for (size_t i = 0; i < GX_N_SMALL; i++)
        failed += gx_all_variants(7, 17, gx_small[i]);
    /* One, two and three rank-kc blocks: KC ± 1 and 2 KC + 1. */
    const size_t ks[] = {GX_KC - 1, GX_KC, GX_KC + 1, 2 * GX_KC + 1};
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++)
        failed += gx_all_variants(13, 35, ks[i]);
    ck_assert_int_eq(failed, 0);
}
END_TEST

START_TEST(gemm_mixed)
{
    /* Edge tiles in both directions at once, over one and several blocks. */
    static const size_t ms[] = {1, 5, 6, 7, 12, 97, 193};
    static const size_t ns[] = {1, 15, 16, 33, 97};
    static const size_t ks[] = {1, 8, 31, 321};
    int failed = 0;
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++)
        for (size_t j = 0; j < sizeof ns / sizeof ns[0]; j++)
            for (size_t q = 0; q < sizeof ks / sizeof ks[0]; q++) {
                gx_case g = {ms[i], ns[j], ks[q], (int)((i + j + q) % 4), (int)(q & 1), j % 2 ? 3 : 0, (i + q) & 1};
                failed += gx_run(&g);
            }
    ck_assert_int_eq(failed, 0);
}
END_TEST

START_TEST(gemm_k_zero)
{
    /* k = 0: C = 0 (an empty sum) without accumulate, C unchanged with it;
     * the workspace query is 0 and a NULL workspace is never touched. */
    float a[1] = {1.0f}, b[1] = {1.0f}, c[3 * 4];
    ck_assert_uint_eq(nnr_sgemm_avx2_workspace_floats(3, 4, 0), 0);
    tu_fill_canary(c, 12);
    nnr_sgemm_avx2(3, 3, 0, a, 1, 1, b, 1, 1, c, 4, 0, NULL);
    for (size_t i = 0; i < 3; i++) {
        for (size_t j = 0; j < 3; j++)
            ck_assert_float_eq(c[i * 4 + j], 0.0f);
        ck_assert_float_eq(c[i * 4 + 3], NNR_CANARY);   /* the gap */
    }
    tu_fill_canary(c, 12);
    nnr_sgemm_avx2(3, 3, 0, a, 1, 1, b, 1, 1, c, 4, 1, NULL);
    ck_assert(tu_all_canary(c, 12));
    /* m = 0 or n = 0: nothing to do. */
    nnr_sgemm_avx2(0, 3, 5, a, 1, 1, b, 1, 1, c, 4, 0, NULL);
    nnr_sgemm_avx2(3, 0, 5, a, 1, 1, b, 1, 1, c, 4, 0, NULL);
    ck_assert(tu_all_canary(c, 12));
}
END_TEST

START_TEST(gemm_hand_example)
{
    /* [1 2 3; 4 5 6] · [7 8; 9 10; 11 12] = [58 64; 139 154] (all exact in
     * float), and accumulated onto C = [1 1; 1 1]: [59 65; 140 155]. */
    const float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {7, 8, 9, 10, 11, 12};
    float c[4], w[128];
    ck_assert_uint_le(nnr_sgemm_avx2_workspace_floats(2, 2, 3), 128);
    nnr_sgemm_avx2(2, 2, 3, a, 3, 1, b, 2, 1, c, 2, 0, w);
    ck_assert_float_eq(c[0], 58.0f);
    ck_assert_float_eq(c[1], 64.0f);
    ck_assert_float_eq(c[2], 139.0f);
    ck_assert_float_eq(c[3], 154.0f);
    for (int i = 0; i < 4; i++)
        c[i] = 1.0f;
    nnr_sgemm_avx2(2, 2, 3, a, 3, 1, b, 2, 1, c, 2, 1, w);
    ck_assert_float_eq(c[0], 59.0f);
    ck_assert_float_eq(c[3], 155.0f);
}
END_TEST

START_TEST(gemm_order_fixed)
{
    /* The contract's fixed summation order: an element of C does not depend
     * on the tile, block or call it falls in. Row 100 and column 37 of a
     * 200 x 300 x 700 product, recomputed as a 1 x 300 and a 200 x 1
     * product, are bitwise equal to it. */
    const size_t m = 200, n = 300, k = 700;
    float *a = tu_alloc_f(m * k), *b = tu_alloc_f(k * n), *c = tu_alloc_f(m * n);
    float *row = tu_alloc_f(n), *col = tu_alloc_f(m);
    float *w = tu_alloc_f(nnr_sgemm_avx2_workspace_floats(m, n, k));
    tu_randn_f(a, m * k, 41, 0.0, 1.0);
    tu_randn_f(b, k * n, 42, 0.0, 1.0);
    nnr_sgemm_avx2(m, n, k, a, (ptrdiff_t)k, 1, b, (ptrdiff_t)n, 1, c, (ptrdiff_t)n, 0, w);
    nnr_sgemm_avx2(1, n, k, a + 100 * k, (ptrdiff_t)k, 1, b, (ptrdiff_t)n, 1, row, (ptrdiff_t)n, 0, w);
    nnr_sgemm_avx2(m, 1, k, a, (ptrdiff_t)k, 1, b + 37, (ptrdiff_t)n, 1, col, 1, 0, w);
    ck_assert_int_eq(memcmp(row, c + 100 * n, n * sizeof *row), 0);
    for (size_t i = 0; i < m; i++)
        ck_assert_int_eq(memcmp(&col[i], &c[i * n + 37], sizeof *col), 0);
    free(a);
    free(b);
    free(c);
    free(row);
    free(col);
    free(w);
}
END_TEST

#ifdef NNR_USE_OPENMP
START_TEST(gemm_threads_bitwise)
{
    /* Threads share out independent tiles of C only, never k: 1, 2 and 3
     * threads give the same bits, with one A block (m <= MC: B packed per
     * micro-panel) and with several (the panel packed first). */
    static const size_t ms[] = {150, 420};
    const size_t n = 333, k = 700;
    for (size_t q = 0; q < 2; q++) {
        const size_t m = ms[q];
        float *a = tu_alloc_f(m * k), *b = tu_alloc_f(k * n), *c1 = tu_alloc_f(m * n), *ct = tu_alloc_f(m * n);
        float *w = tu_alloc_f(nnr_sgemm_avx2_workspace_floats(m, n, k));
        tu_randn_f(a, m * k, 51, 0.0, 1.0);
        tu_randn_f(b, k * n, 52, 0.0, 1.0);
        omp_set_num_threads(1);
        nnr_sgemm_avx2(m, n, k, a, (ptrdiff_t)k, 1, b, 1, (ptrdiff_t)k, c1, (ptrdiff_t)n, 0, w);
        for (int threads = 2; threads <= 3; threads++) {
            omp_set_num_threads(threads);
            nnr_sgemm_avx2(m, n, k, a, (ptrdiff_t)k, 1, b, 1, (ptrdiff_t)k, ct, (ptrdiff_t)n, 0, w);
            ck_assert_msg(memcmp(c1, ct, m * n * sizeof *c1) == 0, "m = %zu: %d threads differ from 1", m, threads);
        }
        free(a), free(b), free(c1), free(ct), free(w);
    }
}
END_TEST
#endif

void dense_gemm_add_crosscheck(TCase *tc)
{
    if (!nnr_avx2_usable())
        return;
#ifdef NNR_USE_OPENMP
    tcase_add_test(tc, gemm_threads_bitwise);
#endif
    tcase_add_test(tc, gemm_hand_example);
    tcase_add_test(tc, gemm_k_zero);
    tcase_add_test(tc, gemm_sweep_m);
    tcase_add_test(tc, gemm_sweep_n);
    tcase_add_test(tc, gemm_sweep_k);
    tcase_add_test(tc, gemm_mixed);
    tcase_add_test(tc, gemm_order_fixed);
}

#else

void dense_gemm_add_crosscheck(TCase *tc)
{
    (void)tc;
}

#endif /* NNR_HAVE_AVX2_BUILD */
