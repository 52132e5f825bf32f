/*
 * Finite-difference gradient checking (the public harness of gradcheck.h).
 *
 * For a problem with output `out` and tensors x_t, the harness fixes a random
 * upstream gradient g and the scalar loss L = sum_j out_j * g_j, so that the
 * problem's backward, given dout = g, must return dL/dx_t. Each selected entry
 * x_k is compared with the central difference
 *     n_k = (L(x_k + h_k) - L(x_k - h_k)) / ((x_k + h_k) - (x_k - h_k)),
 *     h_k = h * max(1, |x_k|),
 * where the denominator is the step actually taken after rounding x_k +- h_k
 * (dividing by 2 h_k would add an error of eps*|x_k|/h_k relative).
 *
 * Why the defaults are what they are (nnr_gc_defaults), with the numbers
 * measured on the double BatchNorm problems of tests/norm_batchnorm_gradcheck.c:
 *
 *   The error of n_k has two parts.
 *   - Truncation: (L(x+h) - L(x-h)) / 2h = L'(x) + h^2 L'''(x) / 6 + O(h^4),
 *     an error that shrinks as h^2. BatchNorm on unit-scale data has L''' of
 *     O(1); at h = 1e-4 the truncation is already visible (~8e-9 for six
 *     values per channel).
 *   - Rounding: L is known only to about eps * S, where S is the part of
 *     sum_j |out_j g_j| that moves with x_k (L is summed compensated, so the
 *     outputs that do not depend on x_k cancel exactly; the forward's own
 *     rounding of the ones that do, ~sqrt(m) for a BatchNorm channel of m
 *     values, remains). It reaches n_k divided by the step: eps * S / 2h,
 *     an error that grows as 1/h.
 *   The sum is smallest near h = (3 eps S / |L'''|)^(1/3) ~ 1e-5. Measured
 *   worst |a - n| over every BatchNorm problem: 1.5e-10..8e-9 at h = 1e-4,
 *   1e-10..1.4e-9 at h = 1e-5, 1e-9..1.9e-8 at h = 1e-6, up to 2e-7 at 1e-7.
 *   Hence h = 1e-5.
 *
 *   Tolerances: pass when |a - n| <= atol + rtol |n|. atol = 1e-7 is 70
 *   times the worst noise above, and is what near-zero gradients (where any
 *   relative measure only measures that noise) are held to. rtol = 1e-6 is
 *   two decades below a gradient wrong by 1e-4 relative, which therefore
 *   fails on every entry of magnitude above atol / (1e-4 - rtol) ~ 1e-3.
 *   Reports measure relative error against max(|a|, |n|, atol/rtol), the
 *   magnitude below which the pass test is absolute; with these defaults the
 *   BatchNorm checks report worst relative errors of 1e-8 or better.
 *
 *   Kinks: on a smooth function the one-sided slopes (L(x+h) - L(x)) / h and
 *   (L(x) - L(x-h)) / h differ by about h L''; at a ReLU or max they differ by
 *   the jump of the slope, O(|g|). With kink_tol = 1e-3 (scaled by 1 + |n|)
 *   the largest smooth BatchNorm entry measured 1.1e-5 at h = 1e-5, two
 *   decades below, and a ReLU at 0 sits about three decades above.
 */
#include "config.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nnref/gradcheck.h"

/* Mixes the tensor index into the seed so each tensor gets its own sample. */
#define NNR_GC_SAMPLE_KEY 0x9E3779B97F4A7C15u

nnr_gc_options nnr_gc_defaults(void)
{
    nnr_gc_options o;
    o.h = 1e-5;
    o.atol = 1e-7;
    o.rtol = 1e-6;
    o.kink_tol = 1e-3;
    o.max_per_tensor = 0;
    o.seed = 42;
    return o;
}

double nnr_gc_rel_err(double analytic, double numeric, double floor)
{
    const double err = fabs(analytic - numeric);
    if (err == 0.0)
        return 0.0;                       /* also covers a == n == 0 */
    if (isnan(err))
        return err;
    const double scale = fmax(fmax(fabs(analytic), fabs(numeric)), floor);
    return err / scale;
}

/* ---- Validation ------------------------------------------------------------ */

static nnr_status check_problem(const nnr_gc_problem *pr)
{
    if (pr->forward == NULL)
        return nnr_error(NNR_ERR_NULL, "problem->forward is NULL");
    if (pr->backward == NULL)
        return nnr_error(NNR_ERR_NULL, "problem->backward is NULL");
    if (pr->out == NULL)
        return nnr_error(NNR_ERR_NULL, "problem->out is NULL");
    if (pr->out_count == 0)
        return nnr_error(NNR_ERR_SHAPE, "problem->out_count is 0; the loss needs at least one output");
    if (pr->n_tensors == 0 || pr->n_tensors > NNR_GC_MAX_TENSORS)
        return nnr_error(NNR_ERR_SHAPE, "problem->n_tensors must be 1 to %d, got %zu",
                         NNR_GC_MAX_TENSORS, pr->n_tensors);
    for (size_t t = 0; t < pr->n_tensors; t++) {
        const nnr_gc_tensor *ts = &pr->tensors[t];
        if (ts->name == NULL)
            return nnr_error(NNR_ERR_NULL, "problem->tensors[%zu].name is NULL", t);
        if (ts->value == NULL)
            return nnr_error(NNR_ERR_NULL, "problem->tensors[%zu].value (%s) is NULL", t, ts->name);
        if (ts->grad == NULL)
            return nnr_error(NNR_ERR_NULL, "problem->tensors[%zu].grad (%s) is NULL", t, ts->name);
        if (ts->count == 0)
            return nnr_error(NNR_ERR_SHAPE, "problem->tensors[%zu].count (%s) is 0", t, ts->name);
    }
    return nnr_ok();
}

static nnr_status check_options(const nnr_gc_options *o)
{
    if (!(o->h > 0.0) || isinf(o->h))
        return nnr_error(NNR_ERR_PARAM, "options->h must be finite and > 0, got %g", o->h);
    if (!(o->atol >= 0.0) || isinf(o->atol))
        return nnr_error(NNR_ERR_PARAM, "options->atol must be finite and >= 0, got %g", o->atol);
    if (!(o->rtol >= 0.0) || isinf(o->rtol))
        return nnr_error(NNR_ERR_PARAM, "options->rtol must be finite and >= 0, got %g", o->rtol);
    if (!(o->kink_tol > 0.0))
        return nnr_error(NNR_ERR_PARAM,
                         "options->kink_tol must be > 0 and not NaN (INFINITY turns kink detection off), got %g",
                         o->kink_tol);
    return nnr_ok();
}

/* ---- The loss ------------------------------------------------------------------ */

/*
 * L = sum_j out_j g_j in double, always in index order, with Neumaier's
 * compensated summation: outputs that do not depend on the perturbed entry
 * then cancel exactly between L(x+h) and L(x-h) instead of leaving the
 * rounding of a long running sum in the difference.
 */
static double loss(const double *out, const double *g, size_t n)
{
    double sum = 0.0, comp = 0.0;
    for (size_t j = 0; j < n; j++) {
        const double term = out[j] * g[j];
        const double t = sum + term;
        if (fabs(sum) >= fabs(term))
            comp += (sum - t) + term;
        else
            comp += (term - t) + sum;
        sum = t;
    }
    return sum + comp;
}

/* Runs the forward and evaluates L; a failing forward's status is passed on. */
static nnr_status forward_loss(const nnr_gc_problem *pr, const double *g, const char *where, double *L)
{
    nnr_status st = pr->forward(pr->ctx);
    if (st.code != NNR_OK)
        return nnr_error(st.code, "problem forward failed %s: %.150s", where, nnr_strerror(&st));
    *L = loss(pr->out, g, pr->out_count);
    return nnr_ok();
}

/* Runs the backward with dout = g; a failing backward's status is passed on. */
static nnr_status run_backward(const nnr_gc_problem *pr, const double *g)
{
    nnr_status st = pr->backward(pr->ctx, g);
    if (st.code != NNR_OK)
        return nnr_error(st.code, "problem backward failed: %.170s", nnr_strerror(&st));
    return nnr_ok();
}

/* ---- Sampling --------------------------------------------------------------- */

/*
 * Selection sampling (Knuth, TAOCP vol. 2, Algorithm S): entry i of count is
 * taken with probability (still needed) / (still left), which picks exactly
 * `want` distinct entries in increasing order with no scratch memory. The
 * uniform number of entry i depends only on (key, i).
 */
static int sample_take(uint64_t key, size_t i, size_t count, size_t *still_needed)
{
    if (*still_needed == 0)
        return 0;
    const double u = nnr_rng_uniform(key, i);
    if ((double)(count - i) * u < (double)*still_needed) {
        (*still_needed)--;
        return 1;
    }
    return 0;
}

/* ---- One tensor --------------------------------------------------------------- */

static void judge(nnr_gc_tensor_report *r, const nnr_gc_options *o, size_t k, double a, double n)
{
    const double abs_err = fabs(a - n);
    const double rel_err = nnr_gc_rel_err(a, n, o->rtol > 0.0 ? o->atol / o->rtol : 0.0);
    const int first = r->checked - r->kinks == 1;
    /* A NaN error fails (the comparison is false) and ranks as the worst. */
    if (!(abs_err <= o->atol + o->rtol * fabs(n)))
        r->failed++;
    const double abs_rank = isnan(abs_err) ? INFINITY : abs_err;
    const double rel_rank = isnan(rel_err) ? INFINITY : rel_err;
    if (abs_rank > r->max_abs_err)
        r->max_abs_err = abs_rank;
    if (first || rel_rank > r->max_rel_err) {
        r->max_rel_err = fmax(r->max_rel_err, rel_rank);
        r->worst_index = k;
        r->worst_analytic = a;
        r->worst_numeric = n;
    }
}

static nnr_status check_entry(const nnr_gc_problem *pr, size_t t, size_t k, const double *g, double L0,
                              const double *analytic, const nnr_gc_options *o, nnr_gc_tensor_report *r)
{
    double *value = pr->tensors[t].value;
    const double x0 = value[k];
    const double hk = o->h * fmax(1.0, fabs(x0));
    const double x_plus = x0 + hk, x_minus = x0 - hk;
    double L_plus, L_minus;
    char where[96];
    snprintf(where, sizeof where, "with %.40s[%zu] perturbed", pr->tensors[t].name, k);

    value[k] = x_plus;
    nnr_status st = forward_loss(pr, g, where, &L_plus);
    if (st.code == NNR_OK) {
        value[k] = x_minus;
        st = forward_loss(pr, g, where, &L_minus);
    }
    value[k] = x0;                        /* the exact original bits, on every path */
    if (st.code != NNR_OK)
        return st;

    const double numeric = (L_plus - L_minus) / (x_plus - x_minus);
    const double slope_right = (L_plus - L0) / (x_plus - x0);
    const double slope_left = (L0 - L_minus) / (x0 - x_minus);

    r->checked++;
    if (fabs(slope_right - slope_left) > o->kink_tol * (1.0 + fabs(numeric))) {
        r->kinks++;                       /* reported, never judged */
        return nnr_ok();
    }
    judge(r, o, k, analytic[k], numeric);
    return nnr_ok();
}

/* ---- The harness ----------------------------------------------------------------- */

nnr_status nnr_gradcheck(const nnr_gc_problem *problem, const nnr_gc_options *options, nnr_gc_report *report)
{
    if (problem == NULL)
        return nnr_error(NNR_ERR_NULL, "problem is NULL");
    if (report == NULL)
        return nnr_error(NNR_ERR_NULL, "report is NULL");
    nnr_status st = check_problem(problem);
    if (st.code != NNR_OK)
        return st;
    const nnr_gc_options opt = options != NULL ? *options : nnr_gc_defaults();
    st = check_options(&opt);
    if (st.code != NNR_OK)
        return st;

    /* Scratch: g, then the analytic gradients of all tensors back to back. */
    size_t total = problem->out_count, offsets[NNR_GC_MAX_TENSORS];
    for (size_t t = 0; t < problem->n_tensors; t++) {
        offsets[t] = total;
        if (problem->tensors[t].count > SIZE_MAX - total)
            return nnr_error(NNR_ERR_OVERFLOW, "the tensors' counts and out_count add up beyond size_t");
        total += problem->tensors[t].count;
    }
    size_t bytes;
    if (!nnr_size_mul(total, sizeof(double), &bytes))
        return nnr_error(NNR_ERR_OVERFLOW, "scratch of %zu doubles overflows size_t", total);
    double *scratch = malloc(bytes);
    if (scratch == NULL)
        return nnr_error(NNR_ERR_NOMEM, "cannot allocate %zu bytes of gradient-check scratch", bytes);
    double *g = scratch;
    for (size_t j = 0; j < problem->out_count; j++)
        g[j] = nnr_rng_normal(opt.seed, j);

    nnr_gc_report rep;
    memset(&rep, 0, sizeof rep);
    rep.n_tensors = problem->n_tensors;
    rep.deterministic = 1;

    /* The analytic gradients at the unperturbed point, and the reference loss. */
    double L0 = 0.0;
    st = forward_loss(problem, g, "at the unperturbed point", &L0);
    if (st.code == NNR_OK) {
        st = run_backward(problem, g);
        for (size_t t = 0; t < problem->n_tensors && st.code == NNR_OK; t++)
            memcpy(scratch + offsets[t], problem->tensors[t].grad, problem->tensors[t].count * sizeof(double));
        /* Run backward again: a backward that depends on hidden state or on
         * uninitialised memory shows up as differing bits. */
        if (st.code == NNR_OK)
            st = run_backward(problem, g);
    }
    if (st.code != NNR_OK) {
        free(scratch);
        return st;
    }
    for (size_t t = 0; t < problem->n_tensors; t++)
        if (memcmp(scratch + offsets[t], problem->tensors[t].grad, problem->tensors[t].count * sizeof(double)) != 0)
            rep.deterministic = 0;

    /* Every entry, or a seeded sample of max_per_tensor entries. */
    for (size_t t = 0; t < problem->n_tensors && st.code == NNR_OK; t++) {
        const nnr_gc_tensor *ts = &problem->tensors[t];
        nnr_gc_tensor_report *r = &rep.tensors[t];
        r->name = ts->name;
        const int sampled = opt.max_per_tensor != 0 && ts->count > opt.max_per_tensor;
        size_t still_needed = opt.max_per_tensor;
        const uint64_t key = opt.seed + NNR_GC_SAMPLE_KEY * (uint64_t)(t + 1);
        for (size_t k = 0; k < ts->count && st.code == NNR_OK; k++) {
            if (sampled && !sample_take(key, k, ts->count, &still_needed))
                continue;
            st = check_entry(problem, t, k, g, L0, scratch + offsets[t], &opt, r);
        }
    }

    /* Leave out consistent with the restored values. */
    if (st.code == NNR_OK)
        st = forward_loss(problem, g, "at the unperturbed point (final)", &L0);
    free(scratch);
    if (st.code != NNR_OK)
        return st;

    rep.passed = rep.deterministic;
    for (size_t t = 0; t < rep.n_tensors; t++)
        if (rep.tensors[t].failed != 0)
            rep.passed = 0;
    *report = rep;
    return nnr_ok();
}

/* ---- Printing --------------------------------------------------------------- */

void nnr_gc_print_header(FILE *f)
{
    if (f == NULL)
        return;
    fprintf(f, "%-10s %-14s %-15s %8s %12s %12s %7s  %s\n", "layer", "pass", "tensor", "checked", "max_abs_err",
            "max_rel_err", "worst", "result");
}

void nnr_gc_print(FILE *f, const char *layer, const char *pass, const nnr_gc_report *report)
{
    if (f == NULL || report == NULL)
        return;
    for (size_t t = 0; t < report->n_tensors && t < NNR_GC_MAX_TENSORS; t++) {
        const nnr_gc_tensor_report *r = &report->tensors[t];
        const int ok = report->deterministic && r->failed == 0;
        char worst[24] = "-";   /* the entry with the largest relative error, when one was judged */
        if (r->checked > r->kinks)
            snprintf(worst, sizeof worst, "[%zu]", r->worst_index);
        fprintf(f, "%-10s %-14s %-15s %8zu %12.3e %12.3e %7s  %s", layer ? layer : "", pass ? pass : "",
                r->name ? r->name : "?", r->checked, r->max_abs_err, r->max_rel_err, worst, ok ? "PASS" : "FAIL");
        if (r->failed != 0)
            fprintf(f, " (%zu failed; at the worst: analytic %.9g, numeric %.9g)", r->failed, r->worst_analytic,
                    r->worst_numeric);
        if (r->kinks != 0)
            fprintf(f, " (%zu kinks, not judged)", r->kinks);
        if (!report->deterministic)
            fprintf(f, " (backward not deterministic)");
        fputc('\n', f);
    }
}
