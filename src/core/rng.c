/*
 * Philox4x32-10, the counter-based generator of Salmon, Moraes, Dror and Shaw,
 * "Parallel random numbers: as easy as 1, 2, 3" (SC'11). Ten rounds of two
 * 32x32->64-bit multiplies and a key schedule turn a 128-bit counter into four
 * random words. The counter here is the element index, the key the seed: the
 * value of element i depends on (seed, i) alone.
 */
#include "config.h"
#include <math.h>
#include "nnref/core.h"

/* Constants from the paper (and Random123's philox.h). */
static const uint32_t PHILOX_M0 = 0xD2511F53u;
static const uint32_t PHILOX_M1 = 0xCD9E8D57u;
static const uint32_t PHILOX_W0 = 0x9E3779B9u;   /* golden ratio */
static const uint32_t PHILOX_W1 = 0xBB67AE85u;   /* sqrt(3) - 1 */
enum { PHILOX_ROUNDS = 10 };

void nnr_philox4x32(uint64_t seed, uint64_t i, uint32_t out[4])
{
    uint32_t c0 = (uint32_t)i, c1 = (uint32_t)(i >> 32), c2 = 0, c3 = 0;
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int round = 0; round < PHILOX_ROUNDS; round++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

/* 53 random bits scaled to [0, 1). */
static double unit_from_words(uint32_t hi, uint32_t lo)
{
    uint64_t bits = ((uint64_t)hi << 21) ^ (uint64_t)(lo >> 11);
    bits &= (UINT64_C(1) << 53) - 1;
    return (double)bits * (1.0 / 9007199254740992.0);
}

double nnr_rng_uniform(uint64_t seed, uint64_t i)
{
    uint32_t w[4];
    nnr_philox4x32(seed, i, w);
    return unit_from_words(w[0], w[1]);
}

double nnr_rng_normal(uint64_t seed, uint64_t i)
{
    uint32_t w[4];
    nnr_philox4x32(seed, i, w);
    /* Box–Muller: u1 in (0, 1] so that log(u1) is finite. */
    double u1 = 1.0 - unit_from_words(w[0], w[1]);
    double u2 = unit_from_words(w[2], w[3]);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
