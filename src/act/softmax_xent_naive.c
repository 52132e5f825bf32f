/*
 * Softmax over the last axis and softmax fused with sparse categorical
 * cross-entropy, naive reference kernels. PyTorch reference: softmax and
 * cross_entropy (log_softmax + nll_loss, reduction='mean'); Keras:
 * ops.softmax, SparseCategoricalCrossentropy(from_logits=True).
 *
 * Written once over nnr_real and built twice: float (nnr_softmax_*_naive)
 * and double (nnr_softmax_*_naive_f64), see src/core/real.h. The
 * exponential and logarithm are the C library's exp() and log() in double,
 * rounded once to nnr_real: in the float build, the correctly rounded result
 * or its neighbour.
 *
 * Shapes:
 *   softmax       x, y, dy, dx   (rows, K): every axis but the last is a row
 *   cross-entropy logits, dlogits (N, K); labels (N); loss (1)
 */
#include "config.h"
#include <math.h>
#include "core/real.h"
#include "act_internal.h"

/* m = max_c x_c over a row. NaN needs no care: a NaN anywhere in the row
 * makes its e^(x - m), hence the sum and every output, NaN. */
static nnr_real row_max(const nnr_real *x, size_t k)
{
    nnr_real m = x[0];
    for (size_t c = 1; c < k; c++)
        if (x[c] > m)
            m = x[c];
    return m;
}

/* e_c = exp(x_c - m) (into e, if not NULL); returns s = sum_c e_c, summed
 * in order. Every argument is <= 0 and the largest term is exactly 1, so
 * nothing overflows and 1 <= s <= K. */
static nnr_real row_exp_sum(const nnr_real *x, nnr_real m, size_t k, nnr_real *e)
{
    nnr_real s = 0;
    for (size_t c = 0; c < k; c++) {
        const nnr_real ec = (nnr_real)exp(x[c] - m);
        if (e != NULL)
            e[c] = ec;
        s += ec;
    }
    return s;
}

nnr_status NNR_NAIVE(nnr_softmax_fwd)(const nnr_shape *shape, const nnr_real *x, nnr_real *y)
{
    act_view v;
    const void *ptrs[] = {x, y};
    const char *const names[] = {"x", "y"};
    nnr_status st = nnr_act_check(shape, ptrs, names, 2, &v);
    if (st.code != NNR_OK)
        return st;

    const size_t k = v.classes;
    for (size_t r = 0; r < v.rows; r++) {
        const nnr_real *xr = x + r * k;
        nnr_real *yr = y + r * k;
        /* step 1: m = max_c x_c (subtracted so that no exponential overflows) */
        const nnr_real m = row_max(xr, k);
        /* step 2: y_c = e_c = exp(x_c - m), s = sum_c e_c */
        const nnr_real s = row_exp_sum(xr, m, k, yr);
        /* step 3: y_c = e_c / s */
        for (size_t c = 0; c < k; c++)
            yr[c] = yr[c] / s;
    }
    return nnr_ok();
}

nnr_status NNR_NAIVE(nnr_softmax_bwd)(const nnr_shape *shape, const nnr_real *y, const nnr_real *dy, nnr_real *dx)
{
    act_view v;
    const void *ptrs[] = {y, dy, dx};
    const char *const names[] = {"y", "dy", "dx"};
    nnr_status st = nnr_act_check(shape, ptrs, names, 3, &v);
    if (st.code != NNR_OK)
        return st;

    /* dy_c/dx_j = y_c ([c = j] - y_j), so dx_j = sum_c dy_c y_c ([c = j] - y_j)
     * = y_j (dy_j - sum_c dy_c y_c) */
    const size_t k = v.classes;
    for (size_t r = 0; r < v.rows; r++) {
        const nnr_real *yr = y + r * k, *dyr = dy + r * k;
        nnr_real *dxr = dx + r * k;
        /* step 1: dot = sum_c dy_c y_c */
        nnr_real dot = 0;
        for (size_t c = 0; c < k; c++)
            dot += dyr[c] * yr[c];
        /* step 2: dx_c = y_c (dy_c - dot) */
        for (size_t c = 0; c < k; c++)
            dxr[c] = yr[c] * (dyr[c] - dot);
    }
    return nnr_ok();
}

nnr_status NNR_NAIVE(nnr_softmax_xent)(const nnr_shape *shape, const nnr_real *logits, const int32_t *labels,
                                       nnr_real *loss, nnr_real *dlogits)
{
    act_view v;
    nnr_status st = nnr_softmax_xent_check(shape, logits, labels, loss, &v);
    if (st.code != NNR_OK)
        return st;

    const size_t n_batch = v.rows, k = v.classes;
    double total = 0;   /* sum of the per-sample losses, in double */
    for (size_t n = 0; n < n_batch; n++) {
        const nnr_real *x = logits + n * k;
        nnr_real *d = dlogits != NULL ? dlogits + n * k : NULL;
        const size_t t = (size_t)labels[n];
        const nnr_real x_t = x[t];   /* read before d (possibly x itself) is written */

        /* step 1: m = max_c x_c */
        const nnr_real m = row_max(x, k);
        /* step 2: e_c = exp(x_c - m) (kept in d), s = sum_c e_c */
        const nnr_real s = row_exp_sum(x, m, k, d);
        /* step 3: loss_n = logsumexp(x) - x_t = (m - x_t) + log(s); the
         * difference first, so logits (1000, 0) give exactly 0 or 1000 */
        const nnr_real loss_n = (m - x_t) + (nnr_real)log(s);
        total += loss_n;
        /* step 4: dL/dx_c = (softmax_c - [c = t]) / N, softmax_c = e_c / s */
        if (d != NULL)
            for (size_t c = 0; c < k; c++) {
                const nnr_real onehot = c == t ? 1 : 0;
                d[c] = (d[c] / s - onehot) / (nnr_real)n_batch;
            }
    }
    /* L = mean over the batch (Keras sum_over_batch_size, PyTorch 'mean') */
    *loss = (nnr_real)(total / (double)n_batch);
    return nnr_ok();
}
