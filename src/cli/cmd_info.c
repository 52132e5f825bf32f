/*
 * nnref info: what this build was compiled with and what this CPU offers.
 * The CPU features come from __builtin_cpu_supports, i.e. from the CPU at run
 * time, not from the compiler flags (which say only what the build targets).
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef NNR_USE_OPENMP
#include <omp.h>
#endif
#include "nnref.h"
#include "cli.h"

static void print_help(void)
{
    printf("Usage: nnref info\n"
           "\n"
           "Prints the version, the CPU's AVX2/FMA/AVX-512F support, whether the AVX2\n"
           "kernels are compiled in and usable, the L2 and L3 cache sizes, OpenMP\n"
           "support and thread count, and a line 'impl: avx2' or 'impl: naive' naming\n"
           "the kernels the dispatching entry points run (NNREF_IMPL=naive|avx2 forces one).\n");
}

static const char *yes_no(int v)
{
    return v ? "yes" : "no";
}

/* Prints a byte count in the largest unit that divides it, "unknown" for 0. */
static void print_cache(const char *label, size_t bytes)
{
    if (bytes == 0)
        printf("%-22s unknown\n", label);
    else if (bytes % (1024u * 1024u) == 0)
        printf("%-22s %zu MiB\n", label, bytes / (1024u * 1024u));
    else
        printf("%-22s %zu KiB\n", label, bytes / 1024u);
}

int nnr_cmd_info(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (nnr_is_help(argv[i])) {
            print_help();
            return NNR_EXIT_OK;
        }
        return nnr_usage_error("info", "unexpected argument '%s'; info takes no arguments.", argv[i]);
    }

    int avx2 = 0, fma = 0, avx512f = 0;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    avx2 = __builtin_cpu_supports("avx2") != 0;
    fma = __builtin_cpu_supports("fma") != 0;
    avx512f = __builtin_cpu_supports("avx512f") != 0;
#endif

    printf("nnref %s\n", nnr_version());
#if defined(__x86_64__) || defined(__i386__)
    printf("%-22s avx2=%s fma=%s avx512f=%s\n", "cpu features:", yes_no(avx2), yes_no(fma), yes_no(avx512f));
#else
    printf("%-22s not an x86 CPU (no AVX2)\n", "cpu features:");
#endif
    printf("%-22s %s\n", "avx2 kernels built:", yes_no(nnr_avx2_compiled()));
    printf("%-22s %s\n", "avx2 kernels usable:", yes_no(nnr_avx2_usable()));
    print_cache("L2 cache:", nnr_cache_size(2));
    print_cache("L3 cache:", nnr_cache_size(3));
#ifdef NNR_USE_OPENMP
    printf("%-22s yes, max threads %d\n", "openmp:", omp_get_max_threads());
#else
    printf("%-22s no (configure --enable-openmp), 1 thread\n", "openmp:");
#endif
    /* The library ignores a value it does not know (it cannot print); say so here. */
    const char *forced = getenv("NNREF_IMPL");
    if (forced != NULL && *forced != '\0' && strcmp(forced, "naive") != 0 && strcmp(forced, "avx2") != 0)
        fprintf(stderr, "nnref info: NNREF_IMPL='%s' is neither 'naive' nor 'avx2': ignored, the default applies.\n",
                forced);
    printf("impl: %s\n", nnr_impl_name());
    return NNR_EXIT_OK;
}
