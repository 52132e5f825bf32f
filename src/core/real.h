/*
 * The one mechanism that builds a naive kernel twice: once over float (the
 * portable fallback and the fair benchmark baseline) and once over double
 * (what the gradient checker differentiates). The naive sources are compiled
 * a second time with -DNNR_REAL_DOUBLE (the convenience library
 * src/libnnref_f64.la in Makefile.am).
 *
 *   nnr_real               float or double
 *   NNR_NAIVE(f)           f_naive or f_naive_f64: the kernel's public name
 *   NNR_TYPED(t)           t or t_f64: the layer's state/cache struct type
 *
 * Kernel bodies use nnr_real and plain C; nothing else is macro.
 */
#ifndef NNR_REAL_H
#define NNR_REAL_H

#ifdef NNR_REAL_DOUBLE
typedef double nnr_real;
#define NNR_NAIVE(name) name##_naive_f64
#define NNR_TYPED(name) name##_f64
#else
typedef float nnr_real;
#define NNR_NAIVE(name) name##_naive
#define NNR_TYPED(name) name
#endif

#endif /* NNR_REAL_H */
