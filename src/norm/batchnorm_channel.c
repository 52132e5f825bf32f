/*
 * The per-channel scalar steps of the BatchNorm training forward, shared by
 * the naive and the AVX2 kernels (one piece of code, so the two cannot drift
 * apart). Written over nnr_real and built for float and double like the naive
 * kernels (src/core/real.h). All arithmetic is in double.
 */
#include "config.h"
#include <math.h>
#include "core/real.h"
#include "batchnorm_internal.h"

typedef NNR_TYPED(nnr_batchnorm_state) bn_state;

static double clip(double v, double lo, double hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

/* Step 4 (renorm): r = clip(sigma_B / sigma_r, rmin, rmax),
 * d = clip((mu_B - mu_r) / sigma_r, -dmax, dmax), with sigma_r =
 * max(renorm_stddev, sqrt(eps)) read before this step's update (Keras 3,
 * BatchNormalization._renorm_correction_and_moments). */
void NNR_TYPED(nnr_bn_renorm_correction)(const nnr_batchnorm_params *p, const bn_state *state, size_t c,
                                         double mu, double var, double *r, double *d)
{
    const double sigma_b = sqrt(var + p->epsilon);
    const double sigma_r = fmax((double)state->renorm_stddev[c], sqrt(p->epsilon));
    *r = clip(sigma_b / sigma_r, p->rmin, p->rmax);
    *d = clip((mu - (double)state->renorm_mean[c]) / sigma_r, -p->dmax, p->dmax);
}

/* Step 6: running = (1 - f) * running + f * batch for channel c, from the
 * mean over ghost batches of the batch mean and biased variance; m values
 * per channel and ghost batch. */
void NNR_TYPED(nnr_bn_update_running)(const nnr_batchnorm_params *p, bn_state *state, size_t c, double factor,
                                      size_t m, double mean, double var)
{
    const double keep = 1.0 - factor;
    state->running_mean[c] = (nnr_real)(keep * state->running_mean[c] + factor * mean);
    if (p->renorm) {
        /* Keras 3 tracks the stddev; the variance follows from it. */
        const double sigma_b = sqrt(var + p->epsilon);
        const double rm = p->renorm_momentum;
        state->renorm_mean[c] = (nnr_real)(rm * state->renorm_mean[c] + (1.0 - rm) * mean);
        state->renorm_stddev[c] = (nnr_real)(rm * state->renorm_stddev[c] + (1.0 - rm) * sigma_b);
        const double stddev = keep * state->moving_stddev[c] + factor * sigma_b;
        state->moving_stddev[c] = (nnr_real)stddev;
        state->running_var[c] = (nnr_real)fmax(stddev * stddev - p->epsilon, 0.0);
    } else {
        double batch_var = var;
        if (p->running_var_unbiased && m > 1)
            batch_var *= (double)m / ((double)m - 1.0);   /* Bessel's correction */
        state->running_var[c] = (nnr_real)(keep * state->running_var[c] + factor * batch_var);
    }
}
