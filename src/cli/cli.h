/*
 * The `nnref` command: one function per subcommand and the helpers they
 * share (usage errors, number parsing, cache sizes, the list of layers).
 *
 * Exit statuses are the same for every subcommand: 0 success, 1 a check or
 * a kernel failed, 2 the command line was wrong (a sentence on stderr names
 * the offending word).
 */
#ifndef NNR_CLI_H
#define NNR_CLI_H

#include <stddef.h>

enum {
    NNR_EXIT_OK = 0,
    NNR_EXIT_FAIL = 1,
    NNR_EXIT_USAGE = 2
};

/* Subcommands; argv[0] is the subcommand's name. */
int nnr_cmd_info(int argc, char **argv);
int nnr_cmd_gradcheck(int argc, char **argv);
int nnr_cmd_bench(int argc, char **argv);

/*
 * Prints "nnref COMMAND: <sentence>" and a hint to --help on stderr and
 * returns NNR_EXIT_USAGE, so callers can `return nnr_usage_error(...)`.
 */
int nnr_usage_error(const char *command, const char *format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* 1 if argv[i] is -h or --help. */
int nnr_is_help(const char *arg);

/*
 * Parses a whole decimal string into [min, max]. Returns 1 and sets *out on
 * success, 0 on anything else (sign, trailing junk, overflow, out of range).
 */
int nnr_parse_count(const char *text, unsigned long min, unsigned long max, unsigned long *out);

/*
 * Size in bytes of the data (or unified) cache of @p level (2 or 3) of CPU 0,
 * from sysconf or, failing that, /sys/devices/system/cpu/cpu0/cache; 0 when
 * neither knows.
 */
size_t nnr_cache_size(int level);

/* Layers the gradcheck and bench subcommands know, NULL-terminated. */
extern const char *const nnr_cli_layers[];

/* 1 if @p name is in nnr_cli_layers. */
int nnr_layer_known(const char *name);

#endif /* NNR_CLI_H */
