/*
 * nnref: the command-line face of the library.
 *
 *   nnref info                  what this build and this CPU can do
 *   nnref gradcheck [LAYER...]  finite-difference proof of the backward passes
 *   nnref bench [LAYER...]      kernel speed against the measured memory bandwidth
 */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include "nnref.h"
#include "cli.h"

static void print_usage(FILE *f)
{
    fprintf(f,
            "Usage: nnref COMMAND [ARGS...]\n"
            "\n"
            "Commands:\n"
            "  info                   version, CPU features, caches, threads, kernels in use\n"
            "  gradcheck [LAYER...]   finite-difference gradient checks (exit 1 on any failure)\n"
            "  bench [LAYER...]       time naive and AVX2 kernels against STREAM triad\n"
            "\n"
            "Run 'nnref COMMAND --help' for a command's options.\n"
            "Options: -h, --help    this text;  --version    the version.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        fprintf(stderr, "nnref: a command is required.\n");
        return NNR_EXIT_USAGE;
    }
    const char *command = argv[1];
    if (nnr_is_help(command)) {
        print_usage(stdout);
        return NNR_EXIT_OK;
    }
    if (strcmp(command, "--version") == 0) {
        printf("nnref %s\n", nnr_version());
        return NNR_EXIT_OK;
    }
    if (strcmp(command, "info") == 0)
        return nnr_cmd_info(argc - 1, argv + 1);
    if (strcmp(command, "gradcheck") == 0)
        return nnr_cmd_gradcheck(argc - 1, argv + 1);
    if (strcmp(command, "bench") == 0)
        return nnr_cmd_bench(argc - 1, argv + 1);
    fprintf(stderr, "nnref: unknown command '%s'; the commands are info, gradcheck and bench.\n"
                    "Try 'nnref --help'.\n", command);
    return NNR_EXIT_USAGE;
}
