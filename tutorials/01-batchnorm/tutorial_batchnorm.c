/*
 * nnref tutorial 01: BatchNorm, forward and backward, by hand and by the library.
 *
 * Read it top to bottom, or step through it in gdb (see README.md beside it):
 *
 *   part_document_002()   the NumPy BatchNorm of document 002 on a 4x3 matrix:
 *                         forward, the staged backward (dvar, dmu, dX) beside the
 *                         closed form, and the gradient-check table of both;
 *   part_own_layer()      the gradient checker pointed at a layer of your own;
 *   part_document_004()   PuzzleLib's BatchNorm2D example of document 004 on
 *                         arange(5*3*10*10) shaped (5, 3, 10, 10);
 *   part_running_stats()  60 training steps under the Keras, PyTorch, cumulative
 *                         and PuzzleLib rules (figure batchnorm-running-stats.png);
 *   part_factor_schedule() the weight of the new batch at each step, measured
 *                         from the library (figure batchnorm-puzzlelib-factor.png);
 *   part_batch_of_one()   what each framework preset does with N = 1.
 *
 * Usage:
 *   tutorial_batchnorm                    print the transcript
 *   tutorial_batchnorm --datadir DIR      also write the figures' data files into DIR
 *   tutorial_batchnorm --check            also assert every worked number, as TAP
 *                                         ("ok N - ..."), exit status 1 on a mismatch
 *
 * Only the public API (nnref.h) is used: the naive kernels, float and double.
 */
#define TUTORIAL_NAME "tutorial_batchnorm"
#include "../common/tutorial_util.h"

/* ------------------------------------------------------------------------- */
/* Printing helpers (checking and the rest: tutorials/common/tutorial_util.h) */
/* ------------------------------------------------------------------------- */

static void print_matrix(const char *name, const double *a, size_t rows, size_t cols)
{
    printf("  %s =\n", name);
    for (size_t i = 0; i < rows; i++) {
        printf("    [");
        for (size_t j = 0; j < cols; j++)
            printf(" %13.9f", a[i * cols + j]);
        printf(" ]\n");
    }
}

static void print_row(const char *name, const double *a, size_t n)
{
    printf("  %-8s = [", name);
    for (size_t j = 0; j < n; j++)
        printf(" %13.9f", a[j]);
    printf(" ]\n");
}

/* ------------------------------------------------------------------------- */
/* 1. Document 002: NumPy BatchNorm on an (N, D) matrix                      */
/* ------------------------------------------------------------------------- */

enum { DOC002_N = 4, DOC002_D = 3 };

/* Document 002's epsilon (np.sqrt(var + 1e-8)). */
#define DOC002_EPSILON 1e-8

static void part_document_002(checks *ck)
{
    printf("\n== 1. Document 002: NumPy BatchNorm on a 4x3 matrix (eps 1e-8, statistics over axis 0) ==\n\n");

    /* Columns chosen so the statistics are easy by hand:
     * column 0 {1,4,2,-3}: mean 1, var (0+9+1+16)/4 = 6.5
     * column 1 {2,0,5,1}:  mean 2, var (0+4+9+1)/4  = 3.5
     * column 2 {3,-1,1,1}: mean 1, var (4+4+0+0)/4  = 2   */
    double X[DOC002_N * DOC002_D] = {
         1.0, 2.0,  3.0,
         4.0, 0.0, -1.0,
         2.0, 5.0,  1.0,
        -3.0, 1.0,  1.0,
    };
    double gamma[DOC002_D] = { 1.5, 0.5, -1.0 };
    double beta[DOC002_D]  = { 0.1, -0.2, 0.3 };
    double dout[DOC002_N * DOC002_D] = {
         0.1, -0.2,  0.3,
         0.4,  0.5, -0.6,
        -0.7,  0.8,  0.9,
         1.0, -1.1,  1.2,
    };
    const nnr_shape shape = { 2, { DOC002_N, DOC002_D } };

    /* Document 002 has no running statistics: state NULL. Its layer is
     * Keras' with another epsilon: channels on the last axis (axis 0 of
     * np.mean is the batch axis, the one reduced over). */
    nnr_batchnorm_params p = nnr_batchnorm_keras();
    p.epsilon = DOC002_EPSILON;

    print_matrix("X (N=4, D=3)", X, DOC002_N, DOC002_D);
    print_row("gamma", gamma, DOC002_D);
    print_row("beta", beta, DOC002_D);

    /* ---- forward ---- */
    double out[DOC002_N * DOC002_D], mu[DOC002_D], istd[DOC002_D];
    nnr_batchnorm_cache_f64 cache = { mu, istd, NULL, NULL };
    must(nnr_batchnorm_fwd_train_naive_f64(&p, &shape, X, gamma, beta, out, &cache, NULL),
         "nnr_batchnorm_fwd_train_naive_f64");

    double var[DOC002_D], X_norm[DOC002_N * DOC002_D];
    for (size_t j = 0; j < DOC002_D; j++)
        var[j] = 1.0 / (istd[j] * istd[j]) - DOC002_EPSILON;   /* the cache keeps istd = (var+eps)^-1/2 */
    for (size_t i = 0; i < DOC002_N; i++)
        for (size_t j = 0; j < DOC002_D; j++)
            X_norm[i * DOC002_D + j] = (X[i * DOC002_D + j] - mu[j]) * istd[j];

    printf("\n1a. Forward (nnr_batchnorm_fwd_train_naive_f64)\n");
    print_row("mu", mu, DOC002_D);
    print_row("var", var, DOC002_D);
    print_row("std_inv", istd, DOC002_D);
    print_matrix("X_norm = (X - mu) / sqrt(var + 1e-8)", X_norm, DOC002_N, DOC002_D);
    print_matrix("out = gamma * X_norm + beta", out, DOC002_N, DOC002_D);

    const double want_mu[DOC002_D] = { 1.0, 2.0, 1.0 };
    const double want_var[DOC002_D] = { 6.5, 3.5, 2.0 };
    for (size_t j = 0; j < DOC002_D; j++) {
        char what[96];
        snprintf(what, sizeof what, "doc002 column %zu mean", j);
        check_close(ck, what, mu[j], want_mu[j], 1e-15);
        snprintf(what, sizeof what, "doc002 column %zu biased variance", j);
        /* var is recovered from istd: a few ulps of var + eps */
        check_close(ck, what, var[j], want_var[j], 1e-12);
    }

    /* ---- backward, transliterated from document 002 line by line ---- */
    const double N = DOC002_N;
    double dvar[DOC002_D], dmu[DOC002_D], dX_numpy[DOC002_N * DOC002_D];
    for (size_t j = 0; j < DOC002_D; j++) {
        double sum_dxnorm_xmu = 0.0, sum_dxnorm = 0.0, sum_xmu = 0.0;
        for (size_t i = 0; i < DOC002_N; i++) {
            const double X_mu = X[i * DOC002_D + j] - mu[j];
            const double dX_norm = dout[i * DOC002_D + j] * gamma[j];
            sum_dxnorm_xmu += dX_norm * X_mu;
            sum_dxnorm += dX_norm;
            sum_xmu += X_mu;
        }
        /* dvar = np.sum(dX_norm * X_mu, axis=0) * -.5 * std_inv**3 */
        dvar[j] = sum_dxnorm_xmu * -0.5 * istd[j] * istd[j] * istd[j];
        /* dmu = np.sum(dX_norm * -std_inv, axis=0) + dvar * np.mean(-2. * X_mu, axis=0) */
        dmu[j] = sum_dxnorm * -istd[j] + dvar[j] * (-2.0 * sum_xmu / N);
        /* dX = (dX_norm * std_inv) + (dvar * 2 * X_mu / N) + (dmu / N) */
        for (size_t i = 0; i < DOC002_N; i++) {
            const double X_mu = X[i * DOC002_D + j] - mu[j];
            const double dX_norm = dout[i * DOC002_D + j] * gamma[j];
            dX_numpy[i * DOC002_D + j] = dX_norm * istd[j] + dvar[j] * 2.0 * X_mu / N + dmu[j] / N;
        }
    }

    /* ---- backward, the library: staged and closed form ---- */
    double dX_staged[DOC002_N * DOC002_D], dgamma_staged[DOC002_D], dbeta_staged[DOC002_D];
    double dX_closed[DOC002_N * DOC002_D], dgamma_closed[DOC002_D], dbeta_closed[DOC002_D];
    must(nnr_batchnorm_bwd_train_staged_naive_f64(&p, &shape, X, gamma, &cache, dout,
                                                  dX_staged, dgamma_staged, dbeta_staged),
         "nnr_batchnorm_bwd_train_staged_naive_f64");
    must(nnr_batchnorm_bwd_train_naive_f64(&p, &shape, X, gamma, &cache, dout,
                                           dX_closed, dgamma_closed, dbeta_closed),
         "nnr_batchnorm_bwd_train_naive_f64");

    printf("\n1b. Backward, staged as in document 002: dvar, then dmu, then dX\n");
    print_matrix("dout", dout, DOC002_N, DOC002_D);
    print_row("dvar", dvar, DOC002_D);
    print_row("dmu", dmu, DOC002_D);
    print_matrix("dX staged (nnr_batchnorm_bwd_train_staged_naive_f64)", dX_staged, DOC002_N, DOC002_D);
    printf("\n1c. The closed form dx = gamma*istd*(dy - mean(dy) - x_hat*mean(dy*x_hat))\n");
    print_matrix("dX closed (nnr_batchnorm_bwd_train_naive_f64)", dX_closed, DOC002_N, DOC002_D);
    print_row("dgamma", dgamma_closed, DOC002_D);
    print_row("dbeta", dbeta_closed, DOC002_D);

    const size_t count = DOC002_N * DOC002_D;
    const double staged_vs_closed = max_abs_diff(dX_staged, dX_closed, count);
    const double numpy_vs_staged = max_abs_diff(dX_numpy, dX_staged, count);
    printf("  max |dX staged - dX closed|          = %.3e\n", staged_vs_closed);
    printf("  max |dX NumPy lines - dX staged|      = %.3e\n", numpy_vs_staged);
    printf("  max |dgamma staged - dgamma closed|  = %.3e\n",
           max_abs_diff(dgamma_staged, dgamma_closed, DOC002_D));

    /* Mean subtraction makes y blind to shifting a column, so dX sums to 0.
     * Dividing by sqrt(var + eps) makes it almost blind to scaling a column:
     * sum_i dX*X_norm = gamma*istd*dgamma*eps/(var + eps), which is 0 only for
     * eps = 0 (with sum_i X_norm^2 = N*var/(var + eps), from the closed form). */
    double worst_sum = 0.0, worst_dot = 0.0, worst_dot_vs_formula = 0.0;
    for (size_t j = 0; j < DOC002_D; j++) {
        double sum = 0.0, dot = 0.0;
        for (size_t i = 0; i < DOC002_N; i++) {
            sum += dX_closed[i * DOC002_D + j];
            dot += dX_closed[i * DOC002_D + j] * X_norm[i * DOC002_D + j];
        }
        const double dot_formula = gamma[j] * istd[j] * dgamma_closed[j] * DOC002_EPSILON / (var[j] + DOC002_EPSILON);
        worst_sum = fmax(worst_sum, fabs(sum));
        worst_dot = fmax(worst_dot, fabs(dot));
        worst_dot_vs_formula = fmax(worst_dot_vs_formula, fabs(dot - dot_formula));
    }
    printf("  max |sum_i dX| per column           = %.3e   (shifting a column does not change y)\n", worst_sum);
    printf("  max |sum_i dX*X_norm| per column    = %.3e   (scaling a column changes y only through eps:\n"
           "  it equals gamma*istd*dgamma*eps/(var+eps) to %.1e)\n", worst_dot, worst_dot_vs_formula);

    check_close(ck, "doc002 max |dX staged - dX closed| < 1e-12", staged_vs_closed, 0.0, 1e-12);
    check_close(ck, "doc002 max |dX NumPy lines - dX staged| < 1e-12", numpy_vs_staged, 0.0, 1e-12);
    check_close(ck, "doc002 max |dgamma staged - dgamma closed|",
                max_abs_diff(dgamma_staged, dgamma_closed, DOC002_D), 0.0, 1e-12);
    check_close(ck, "doc002 max |sum_i dX| per column", worst_sum, 0.0, 1e-12);
    check_close(ck, "doc002 max |sum_i dX*X_norm - gamma*istd*dgamma*eps/(var+eps)|", worst_dot_vs_formula, 0.0, 1e-15);
    /* dbeta = column sums of dout: 0.1+0.4-0.7+1.0, -0.2+0.5+0.8-1.1, 0.3-0.6+0.9+1.2 */
    const double want_dbeta[DOC002_D] = { 0.8, 0.0, 1.8 };
    for (size_t j = 0; j < DOC002_D; j++) {
        char what[64];
        snprintf(what, sizeof what, "doc002 dbeta[%zu]", j);
        check_close(ck, what, dbeta_closed[j], want_dbeta[j], 1e-15);
    }

    /* ---- gradient check of both backward formulas ---- */
    printf("\n1d. Gradient check: central differences of L = sum(out * g) against each backward\n"
           "    (nnr_gradcheck_batchnorm: random 4x3 x, gamma, beta from seed 2, eps 1e-8, every entry)\n");
    const nnr_bn_gc_pass passes[2] = { NNR_BN_GC_TRAIN, NNR_BN_GC_TRAIN_STAGED };
    const char *pass_names[2] = { "train", "train_staged" };
    nnr_gc_print_header(stdout);
    for (int k = 0; k < 2; k++) {
        nnr_gc_report report;
        must(nnr_gradcheck_batchnorm(&p, &shape, passes[k], 2, NULL, &report), "nnr_gradcheck_batchnorm");
        nnr_gc_print(stdout, "batchnorm", pass_names[k], &report);

        double worst_rel = 0.0;
        for (size_t t = 0; t < report.n_tensors; t++)
            worst_rel = fmax(worst_rel, report.tensors[t].max_rel_err);
        char what[96];
        snprintf(what, sizeof what, "doc002 gradcheck %s passes", pass_names[k]);
        check_true(ck, what, report.passed);
        snprintf(what, sizeof what, "doc002 gradcheck %s worst relative error < 1e-6", pass_names[k]);
        check_close(ck, what, worst_rel, 0.0, 1e-6);
    }
}

/* ------------------------------------------------------------------------- */
/* 1e. The gradient checker on a layer of your own: y = softplus(x W + b)    */
/* ------------------------------------------------------------------------- */

enum { OWN_N = 2, OWN_IN = 3, OWN_OUT = 2 };

/* Everything the forward and backward need, reached through problem.ctx. */
typedef struct dense_softplus {
    double x[OWN_N * OWN_IN], w[OWN_IN * OWN_OUT], b[OWN_OUT];   /* checked tensors */
    double z[OWN_N * OWN_OUT], y[OWN_N * OWN_OUT];               /* z = x W + b, y = softplus(z) */
    double dx[OWN_N * OWN_IN], dw[OWN_IN * OWN_OUT], db[OWN_OUT];/* gradients the backward writes */
    int forget_sigmoid;   /* 1: a deliberate bug in the backward, to see the checker catch it */
} dense_softplus;

static nnr_status dense_softplus_forward(void *ctx)
{
    dense_softplus *L = ctx;
    for (size_t i = 0; i < OWN_N; i++)
        for (size_t o = 0; o < OWN_OUT; o++) {
            double z = L->b[o];
            for (size_t k = 0; k < OWN_IN; k++)
                z += L->x[i * OWN_IN + k] * L->w[k * OWN_OUT + o];
            L->z[i * OWN_OUT + o] = z;
            L->y[i * OWN_OUT + o] = log1p(exp(z));   /* softplus */
        }
    return nnr_ok();
}

static nnr_status dense_softplus_backward(void *ctx, const double *dy)
{
    dense_softplus *L = ctx;
    double dz[OWN_N * OWN_OUT];
    for (size_t i = 0; i < OWN_N * OWN_OUT; i++)
        dz[i] = L->forget_sigmoid ? dy[i]
                                  : dy[i] / (1.0 + exp(-L->z[i]));   /* softplus'(z) = sigmoid(z) */

    memset(L->dx, 0, sizeof L->dx);                 /* the harness wants overwrite, not accumulate */
    memset(L->dw, 0, sizeof L->dw);
    memset(L->db, 0, sizeof L->db);
    for (size_t i = 0; i < OWN_N; i++)
        for (size_t o = 0; o < OWN_OUT; o++) {
            const double g = dz[i * OWN_OUT + o];
            L->db[o] += g;                                          /* db = sum_i dz */
            for (size_t k = 0; k < OWN_IN; k++) {
                L->dw[k * OWN_OUT + o] += L->x[i * OWN_IN + k] * g; /* dW = x^T dz */
                L->dx[i * OWN_IN + k] += L->w[k * OWN_OUT + o] * g; /* dx = dz W^T */
            }
        }
    return nnr_ok();
}

static void part_own_layer(checks *ck)
{
    printf("\n1e. Pointing the checker at a layer of your own: y = softplus(x W + b), x (2,3), W (3,2), b (2)\n");
    dense_softplus layer = {
        .x = { 0.5, -1.0, 2.0,   -0.3, 0.8, 0.1 },
        .w = { 0.2, -0.4,   1.1, 0.3,   -0.7, 0.5 },
        .b = { 0.05, -0.1 },
    };
    nnr_gc_problem problem = {
        .ctx = &layer,
        .forward = dense_softplus_forward,
        .backward = dense_softplus_backward,
        .out = layer.y,
        .out_count = OWN_N * OWN_OUT,
        .tensors = {
            { "x", layer.x, layer.dx, OWN_N * OWN_IN },
            { "W", layer.w, layer.dw, OWN_IN * OWN_OUT },
            { "b", layer.b, layer.db, OWN_OUT },
        },
        .n_tensors = 3,
    };
    nnr_gc_report report;
    must(nnr_gradcheck(&problem, NULL, &report), "nnr_gradcheck");
    nnr_gc_print_header(stdout);
    nnr_gc_print(stdout, "softplus", "train", &report);
    check_true(ck, "own layer softplus(x W + b) gradcheck passes", report.passed);

    /* The same layer with the sigmoid forgotten in the backward (dz = dy):
     * the checker must say FAIL and show the worst entry. */
    printf("  The same layer with a deliberate bug in the backward (dz = dy, the sigmoid forgotten):\n");
    layer.forget_sigmoid = 1;
    must(nnr_gradcheck(&problem, NULL, &report), "nnr_gradcheck");
    nnr_gc_print(stdout, "softplus", "buggy", &report);
    check_true(ck, "own layer with a forgotten sigmoid fails the gradcheck", !report.passed);
}

/* ------------------------------------------------------------------------- */
/* 2. Document 004: PuzzleLib BatchNorm2D on arange(5*3*10*10)               */
/* ------------------------------------------------------------------------- */

enum { DOC004_N = 5, DOC004_C = 3, DOC004_H = 10, DOC004_W = 10 };
enum { DOC004_COUNT = DOC004_N * DOC004_C * DOC004_H * DOC004_W };

static void part_document_004(checks *ck)
{
    printf("\n== 2. Document 004: PuzzleLib BatchNorm2D on arange(5*3*10*10).reshape(5,3,10,10), NCHW ==\n\n");

    static double x[DOC004_COUNT], y[DOC004_COUNT];
    static float xf[DOC004_COUNT], yf[DOC004_COUNT];
    for (size_t i = 0; i < DOC004_COUNT; i++) {
        x[i] = (double)i;
        xf[i] = (float)i;          /* exact: every integer below 2^24 is a float */
    }
    const nnr_shape shape = { 4, { DOC004_N, DOC004_C, DOC004_H, DOC004_W } };

    /* PuzzleLib draws scale ~ N(1, 0.01); the preset uses scale 1, bias 0 so
     * the numbers below are exact. */
    const nnr_batchnorm_params p = nnr_batchnorm_puzzlelib();
    printf("  preset nnr_batchnorm_puzzlelib(): axis %d, epsilon %g, factor max(%g/t, %g), "
           "running variance %s\n", p.axis, p.epsilon, p.init_factor, p.min_factor,
           p.running_var_unbiased ? "unbiased" : "biased");

    /* double kernels: every number below is exact or within a few ulps */
    double gamma[DOC004_C] = { 1, 1, 1 }, beta[DOC004_C] = { 0, 0, 0 };
    double mean[DOC004_C], istd[DOC004_C], running_mean[DOC004_C], running_var[DOC004_C];
    nnr_batchnorm_cache_f64 cache = { mean, istd, NULL, NULL };
    nnr_batchnorm_state_f64 state = { running_mean, running_var, NULL, NULL, NULL, 0 };
    must(nnr_batchnorm_state_init_f64(&state, DOC004_C), "nnr_batchnorm_state_init_f64");
    must(nnr_batchnorm_fwd_train_naive_f64(&p, &shape, x, gamma, beta, y, &cache, &state),
         "nnr_batchnorm_fwd_train_naive_f64");

    /* float kernels, as PuzzleLib's example runs in float32 */
    float gammaf[DOC004_C] = { 1, 1, 1 }, betaf[DOC004_C] = { 0, 0, 0 };
    float meanf[DOC004_C], istdf[DOC004_C], running_meanf[DOC004_C], running_varf[DOC004_C];
    nnr_batchnorm_cache cachef = { meanf, istdf, NULL, NULL };
    nnr_batchnorm_state statef = { running_meanf, running_varf, NULL, NULL, NULL, 0 };
    must(nnr_batchnorm_state_init(&statef, DOC004_C), "nnr_batchnorm_state_init");
    must(nnr_batchnorm_fwd_train_naive(&p, &shape, xf, gammaf, betaf, yf, &cachef, &statef),
         "nnr_batchnorm_fwd_train_naive");

    const double m = DOC004_N * DOC004_H * DOC004_W;   /* 500 values per channel */
    printf("  channel c holds x = 300 n + 100 c + k (n < 5, k < 100): m = %.0f values\n", m);
    printf("  after the first training step (t = 1, factor max(1/1, 0.1) = 1):\n");
    printf("  %-3s %14s %16s %18s %18s %18s\n", "c", "batch mean", "batch var", "running mean",
           "running var", "running var f32");
    for (size_t c = 0; c < DOC004_C; c++) {
        const double var = 1.0 / (istd[c] * istd[c]) - p.epsilon;
        printf("  %-3zu %14.6f %16.6f %18.6f %18.9f %18.6f\n", c, mean[c], var,
               running_mean[c], running_var[c], (double)running_varf[c]);

        const double want_mean = 100.0 * (double)c + 649.5;
        const double want_var = 90000.0 * 2.0 + 833.25;       /* 300^2 var(n) + var(k) */
        const double want_unbiased = want_var * m / (m - 1.0);
        char what[96];
        snprintf(what, sizeof what, "doc004 channel %zu batch mean = 100c + 649.5", c);
        check_close(ck, what, mean[c], want_mean, 0.0);
        snprintf(what, sizeof what, "doc004 channel %zu biased batch var = 180833.25", c);
        check_close(ck, what, var, want_var, 1e-12 * want_var);   /* recovered from istd */
        snprintf(what, sizeof what, "doc004 channel %zu running mean = batch mean after step 1", c);
        check_close(ck, what, running_mean[c], want_mean, 0.0);
        snprintf(what, sizeof what, "doc004 channel %zu running var = 180833.25*500/499", c);
        check_close(ck, what, running_var[c], want_unbiased, 1e-12 * want_unbiased);
        snprintf(what, sizeof what, "doc004 channel %zu float running mean", c);
        check_close(ck, what, running_meanf[c], want_mean, 0.0);
        /* stored as float: within half an ulp, 2^-24 relative */
        snprintf(what, sizeof what, "doc004 channel %zu float running var", c);
        check_close(ck, what, running_varf[c], want_unbiased, 0x1p-24 * want_unbiased);
    }
    printf("  y[0,0,0,0] = (0 - 649.5) / sqrt(180833.25 + 1e-5) = %.9f   (float kernel %.6f)\n",
           y[0], (double)yf[0]);
    printf("  y[4,2,9,9] = (1499 - 849.5) / sqrt(180833.25 + 1e-5) = %.9f   (float kernel %.6f)\n",
           y[DOC004_COUNT - 1], (double)yf[DOC004_COUNT - 1]);
    check_close(ck, "doc004 y[0,0,0,0]", y[0], -649.5 / sqrt(180833.25 + 1e-5), 1e-14);
    check_close(ck, "doc004 y[4,2,9,9]", y[DOC004_COUNT - 1], 649.5 / sqrt(180833.25 + 1e-5), 1e-14);
}

/* ------------------------------------------------------------------------- */
/* 3. Running statistics over 60 steps under four rules                      */
/* ------------------------------------------------------------------------- */

enum { RULE_KERAS, RULE_TORCH, RULE_CUMULATIVE, RULE_PUZZLELIB, N_RULES };
static const char *const rule_names[N_RULES] = {
    "Keras EMA (momentum 0.99)", "PyTorch EMA (momentum 0.1)",
    "cumulative (PyTorch momentum=None)", "PuzzleLib max(1/t, 0.1)",
};

static nnr_batchnorm_params rule_params(int rule)
{
    nnr_batchnorm_params p;
    switch (rule) {
    case RULE_KERAS:
        p = nnr_batchnorm_keras();
        break;
    case RULE_TORCH:
        p = nnr_batchnorm_torch();
        break;
    case RULE_CUMULATIVE:
        p = nnr_batchnorm_torch();
        p.update = NNR_BN_UPDATE_CUMULATIVE;
        break;
    default:
        p = nnr_batchnorm_puzzlelib();
        break;
    }
    p.axis = -1;   /* (N, 1) batches: the channel is the last axis */
    return p;
}

enum { STEPS = 60, BATCH = 32, SHIFT_STEP = 30 };
#define RUNNING_SEED 2024u
#define TRUE_VAR 4.0

/* The distribution the batches come from: N(3, 4) for t <= 30, then the mean
 * shifts to 5, as when the layer below changes its weights. */
static double true_mean(int t)
{
    return t <= SHIFT_STEP ? 3.0 : 5.0;
}

static void part_running_stats(checks *ck, const char *datadir)
{
    printf("\n== 3. Running statistics: %d steps of batches of %d from N(3, 4), mean shifted to 5 after step %d ==\n\n",
           STEPS, BATCH, SHIFT_STEP);

    const nnr_shape shape = { 2, { BATCH, 1 } };
    nnr_batchnorm_params params[N_RULES];
    double running_mean[N_RULES], running_var[N_RULES];
    nnr_batchnorm_state_f64 state[N_RULES];
    for (int r = 0; r < N_RULES; r++) {
        params[r] = rule_params(r);
        state[r] = (nnr_batchnorm_state_f64){ &running_mean[r], &running_var[r], NULL, NULL, NULL, 0 };
        must(nnr_batchnorm_state_init_f64(&state[r], 1), "nnr_batchnorm_state_init_f64");
    }

    for (int r = 0; r < N_RULES; r++)
        printf("  rule %d: %s, running var %s\n", r + 1, rule_names[r],
               params[r].running_var_unbiased ? "unbiased" : "biased");
    printf("\n");

    FILE *data = datadir ? open_data_file(datadir, "running_stats.dat") : NULL;
    if (data)
        fprintf(data, "# t true_mean batch_mean keras torch cumulative puzzlelib "
                      "true_var batch_var_unbiased keras torch cumulative puzzlelib\n");

    double batch_means[STEPS + 1], batch_vars[STEPS + 1];   /* index t = 1..STEPS */
    double sum_batch_mean = 0.0, sum_batch_var = 0.0;
    double worst_cumulative = 0.0, worst_puzzle_vs_cumulative = 0.0;
    printf("  %4s %9s %9s | %-35s | %s\n", "", "batch", "batch", "running mean", "running var");
    printf("  %4s %9s %9s | %8s %8s %8s %8s | %8s %8s %8s %8s\n", "t", "mean", "var",
           "keras", "torch", "cumul.", "puzzle", "keras", "torch", "cumul.", "puzzle");
    for (int t = 1; t <= STEPS; t++) {
        double x[BATCH], y[BATCH], gamma = 1.0, beta = 0.0;
        for (size_t i = 0; i < BATCH; i++)
            x[i] = true_mean(t) + sqrt(TRUE_VAR) * nnr_rng_normal(RUNNING_SEED, (uint64_t)t * BATCH + i);

        double batch_mean = 0.0, batch_var = 0.0;   /* this batch's mean and biased variance */
        for (int r = 0; r < N_RULES; r++) {
            double mean, istd;
            nnr_batchnorm_cache_f64 cache = { &mean, &istd, NULL, NULL };
            must(nnr_batchnorm_fwd_train_naive_f64(&params[r], &shape, x, &gamma, &beta, y, &cache, &state[r]),
                 "nnr_batchnorm_fwd_train_naive_f64");
            batch_mean = mean;
            batch_var = 1.0 / (istd * istd) - params[r].epsilon;
        }
        const double batch_var_unbiased = batch_var * BATCH / (BATCH - 1.0);
        batch_means[t] = batch_mean;
        batch_vars[t] = batch_var;

        /* The cumulative rule is the plain average of every batch so far
         * (with the unbiased variance, as PyTorch keeps it). */
        sum_batch_mean += batch_mean;
        sum_batch_var += batch_var_unbiased;
        worst_cumulative = fmax(worst_cumulative, fabs(running_mean[RULE_CUMULATIVE] - sum_batch_mean / t));
        worst_cumulative = fmax(worst_cumulative, fabs(running_var[RULE_CUMULATIVE] - sum_batch_var / t) / TRUE_VAR);
        /* PuzzleLib's factor is 1/t until 1/t falls below minFactor 0.1 */
        if (t <= 10) {
            worst_puzzle_vs_cumulative = fmax(worst_puzzle_vs_cumulative,
                                              fabs(running_mean[RULE_PUZZLELIB] - running_mean[RULE_CUMULATIVE]));
            worst_puzzle_vs_cumulative = fmax(worst_puzzle_vs_cumulative,
                                              fabs(running_var[RULE_PUZZLELIB] - running_var[RULE_CUMULATIVE]));
        }

        if (t <= 3 || t % 10 == 0)
            printf("  %4d %9.4f %9.4f | %8.4f %8.4f %8.4f %8.4f | %8.4f %8.4f %8.4f %8.4f\n",
                   t, batch_mean, batch_var_unbiased,
                   running_mean[RULE_KERAS], running_mean[RULE_TORCH],
                   running_mean[RULE_CUMULATIVE], running_mean[RULE_PUZZLELIB],
                   running_var[RULE_KERAS], running_var[RULE_TORCH],
                   running_var[RULE_CUMULATIVE], running_var[RULE_PUZZLELIB]);
        if (data)
            fprintf(data, "%d %.17g %.17g %.17g %.17g %.17g %.17g %.17g %.17g %.17g %.17g %.17g %.17g\n",
                    t, true_mean(t), batch_mean,
                    running_mean[RULE_KERAS], running_mean[RULE_TORCH],
                    running_mean[RULE_CUMULATIVE], running_mean[RULE_PUZZLELIB],
                    TRUE_VAR, batch_var_unbiased,
                    running_var[RULE_KERAS], running_var[RULE_TORCH],
                    running_var[RULE_CUMULATIVE], running_var[RULE_PUZZLELIB]);
    }
    if (data)
        fclose(data);
    printf("  (Keras tracks the biased batch variance, the other three the unbiased one.)\n");
    printf("  Keras after %d steps has moved 1 - 0.99^%d = %.1f%% of the way from its initial 0 and 1.\n",
           STEPS, STEPS, 100.0 * (1.0 - pow(0.99, STEPS)));
    printf("  cumulative rule vs the average of all batch statistics: max difference %.3e\n", worst_cumulative);
    printf("  PuzzleLib vs cumulative over steps 1..10: max difference %.3e\n", worst_puzzle_vs_cumulative);

    /* An EMA unrolled: running_T = m^T running_0 + sum_t (1 - m) m^(T - t) batch_t,
     * with running_0 = 0 for the mean and 1 for the variance. */
    double keras_mean = 0.0, keras_var = pow(0.99, STEPS), torch_mean = 0.0;
    for (int t = 1; t <= STEPS; t++) {
        keras_mean += 0.01 * pow(0.99, STEPS - t) * batch_means[t];
        keras_var += 0.01 * pow(0.99, STEPS - t) * batch_vars[t];   /* Keras: biased */
        torch_mean += 0.1 * pow(0.9, STEPS - t) * batch_means[t];
    }
    printf("  Keras running mean, unrolled sum_t 0.01*0.99^(60-t)*mean_t = %.12f, library %.12f\n",
           keras_mean, running_mean[RULE_KERAS]);
    printf("  PyTorch running mean, unrolled sum_t 0.1*0.9^(60-t)*mean_t = %.12f, library %.12f\n",
           torch_mean, running_mean[RULE_TORCH]);

    check_close(ck, "running stats: cumulative rule equals the average of batch statistics", worst_cumulative, 0.0, 1e-12);
    /* bitwise: both rules compute the factor as 1.0/t for t <= 10 */
    check_close(ck, "running stats: PuzzleLib equals cumulative for t <= 10", worst_puzzle_vs_cumulative, 0.0, 0.0);
    check_close(ck, "running stats: Keras running mean equals the unrolled EMA", running_mean[RULE_KERAS], keras_mean, 1e-12);
    check_close(ck, "running stats: Keras running var equals the unrolled EMA", running_var[RULE_KERAS], keras_var, 1e-12);
    check_close(ck, "running stats: PyTorch running mean equals the unrolled EMA", running_mean[RULE_TORCH], torch_mean, 1e-12);
}

/* ------------------------------------------------------------------------- */
/* 4. The weight of the new batch at step t, measured from the library       */
/* ------------------------------------------------------------------------- */

enum { FACTOR_STEPS = 30 };

static void part_factor_schedule(checks *ck, const char *datadir)
{
    printf("\n== 4. Weight of the new batch at step t (running = (1 - f) running + f batch), measured ==\n\n");
    printf("  Each step feeds the batch {0, 2} (mean 1) to a state whose running mean was reset to 0,\n"
           "  so the running mean after the step is the factor f the library applied.\n\n");

    const nnr_shape shape = { 2, { 2, 1 } };
    nnr_batchnorm_params params[N_RULES];
    double running_mean[N_RULES], running_var[N_RULES];
    nnr_batchnorm_state_f64 state[N_RULES];
    for (int r = 0; r < N_RULES; r++) {
        params[r] = rule_params(r);
        state[r] = (nnr_batchnorm_state_f64){ &running_mean[r], &running_var[r], NULL, NULL, NULL, 0 };
        must(nnr_batchnorm_state_init_f64(&state[r], 1), "nnr_batchnorm_state_init_f64");
    }

    FILE *data = datadir ? open_data_file(datadir, "factor.dat") : NULL;
    if (data)
        fprintf(data, "# t puzzlelib keras torch cumulative doc004_as_written(1-alpha)\n");
    printf("  %4s %10s %10s %10s %10s %22s\n", "t", "PuzzleLib", "Keras", "PyTorch", "1/t",
           "doc 004 as written 1-a");

    double worst = 0.0;
    for (int t = 1; t <= FACTOR_STEPS; t++) {
        double f[N_RULES];
        for (int r = 0; r < N_RULES; r++) {
            const double x[2] = { 0.0, 2.0 };
            double y[2], mean, istd, gamma = 1.0, beta = 0.0;
            nnr_batchnorm_cache_f64 cache = { &mean, &istd, NULL, NULL };
            running_mean[r] = 0.0;
            must(nnr_batchnorm_fwd_train_naive_f64(&params[r], &shape, x, &gamma, &beta, y, &cache, &state[r]),
                 "nnr_batchnorm_fwd_train_naive_f64");
            f[r] = running_mean[r];
        }
        /* PuzzleLib's schedule, alpha_t = max(initFactor / t, minFactor), which
         * its code passes to cuDNN as the weight of the NEW batch */
        const double alpha = fmax(1.0 / t, 0.1);
        const double doc004_new_weight = 1.0 - alpha;   /* what document 004's formula would give */
        worst = fmax(worst, fabs(f[RULE_PUZZLELIB] - alpha));
        worst = fmax(worst, fabs(f[RULE_KERAS] - 0.01));
        worst = fmax(worst, fabs(f[RULE_TORCH] - 0.1));
        worst = fmax(worst, fabs(f[RULE_CUMULATIVE] - 1.0 / t));

        if (t <= 12 || t % 10 == 0)
            printf("  %4d %10.6f %10.6f %10.6f %10.6f %22.6f\n", t, f[RULE_PUZZLELIB], f[RULE_KERAS],
                   f[RULE_TORCH], f[RULE_CUMULATIVE], doc004_new_weight);
        if (data)
            fprintf(data, "%d %.17g %.17g %.17g %.17g %.17g\n", t, f[RULE_PUZZLELIB], f[RULE_KERAS],
                    f[RULE_TORCH], f[RULE_CUMULATIVE], doc004_new_weight);
    }
    if (data)
        fclose(data);
    printf("  max |measured - formula| over the four rules: %.3e\n", worst);
    check_close(ck, "factor schedule: measured weights equal max(1/t,0.1), 0.01, 0.1, 1/t", worst, 0.0, 1e-15);
}

/* ------------------------------------------------------------------------- */
/* 5. A batch of one                                                         */
/* ------------------------------------------------------------------------- */

static void part_batch_of_one(checks *ck)
{
    printf("\n== 5. A batch of one (N = 1, one value per channel), training mode ==\n\n");

    /* rank 4 so tf.keras 2 takes its fused path; 3 channels, 1x1 spatial */
    const double x[3] = { 0.5, -1.0, 2.0 }, gamma[3] = { 1, 1, 1 }, beta[3] = { 0.1, 0.2, 0.3 };
    struct { const char *name; nnr_batchnorm_params p; nnr_shape shape; } presets[4] = {
        { "Keras 3", nnr_batchnorm_keras(), { 4, { 1, 1, 1, 3 } } },
        { "tf.keras 2 (fused)", nnr_batchnorm_tf2(4), { 4, { 1, 1, 1, 3 } } },
        { "PyTorch", nnr_batchnorm_torch(), { 4, { 1, 3, 1, 1 } } },
        { "PuzzleLib", nnr_batchnorm_puzzlelib(), { 4, { 1, 3, 1, 1 } } },
    };
    for (int k = 0; k < 4; k++) {
        double y[3] = { NAN, NAN, NAN }, mean[3], istd[3], rm[3], rv[3];
        nnr_batchnorm_cache_f64 cache = { mean, istd, NULL, NULL };
        nnr_batchnorm_state_f64 state = { rm, rv, NULL, NULL, NULL, 0 };
        must(nnr_batchnorm_state_init_f64(&state, 3), "nnr_batchnorm_state_init_f64");
        nnr_status st = nnr_batchnorm_fwd_train_naive_f64(&presets[k].p, &presets[k].shape, x, gamma, beta,
                                                          y, &cache, &state);
        char what[96];
        snprintf(what, sizeof what, "batch of one: %s %s", presets[k].name,
                 k == 2 ? "refuses to train" : "trains");
        check_true(ck, what, (st.code != NNR_OK) == (k == 2));
        if (st.code != NNR_OK) {
            printf("  %-19s error (%s): %s\n", presets[k].name, nnr_code_name(st.code), nnr_strerror(&st));
            continue;
        }
        printf("  %-19s y = [%g %g %g] (= beta), running mean [%g %g %g], running var [%g %g %g]\n",
               presets[k].name, y[0], y[1], y[2], rm[0], rm[1], rm[2], rv[0], rv[1], rv[2]);
        snprintf(what, sizeof what, "batch of one: %s gives y = beta", presets[k].name);
        check_true(ck, what, y[0] == beta[0] && y[1] == beta[1] && y[2] == beta[2]);
        /* the variance of one value is 0 (no Bessel correction at m = 1);
         * the running variance moves from 1 toward it by the step-1 factor */
        const double factor = presets[k].p.update == NNR_BN_UPDATE_PUZZLE ? 1.0 : 0.01;
        snprintf(what, sizeof what, "batch of one: %s running var = 1 - factor", presets[k].name);
        check_close(ck, what, rv[0], 1.0 - factor, 1e-15);
    }
}

/* ------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    checks ck;
    const char *datadir;
    tutorial_parse_args(argc, argv, &ck, &datadir);

    printf("nnref %s tutorial 01: BatchNorm by hand and by the library (naive kernels, float and double)\n",
           nnr_version());

    part_document_002(&ck);
    part_own_layer(&ck);
    part_document_004(&ck);
    part_running_stats(&ck, datadir);
    part_factor_schedule(&ck, datadir);
    part_batch_of_one(&ck);

    return tutorial_finish(&ck);
}
