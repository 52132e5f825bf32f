/* Helpers shared by the nnref subcommands. */
#include "config.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"

const char *const nnr_cli_layers[] = {"batchnorm", "layernorm", "rmsnorm", "groupnorm", "instancenorm",
                                      "conv1d", "conv2d", "dropout", "relu", "softmax", "softmax_xent", "dense",
                                      "maxpool", "avgpool", "globalpool", NULL};

int nnr_layer_known(const char *name)
{
    for (size_t i = 0; nnr_cli_layers[i] != NULL; i++)
        if (strcmp(name, nnr_cli_layers[i]) == 0)
            return 1;
    return 0;
}

int nnr_usage_error(const char *command, const char *format, ...)
{
    va_list ap;
    fprintf(stderr, "nnref %s: ", command);
    va_start(ap, format);
    vfprintf(stderr, format, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'nnref %s --help'.\n", command);
    return NNR_EXIT_USAGE;
}

int nnr_is_help(const char *arg)
{
    return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

int nnr_parse_count(const char *text, unsigned long min, unsigned long max, unsigned long *out)
{
    /* strtoul accepts a leading '-' and wraps it around; a count never has one. */
    if (text == NULL || *text < '0' || *text > '9')
        return 0;
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return 0;
    *out = v;
    return 1;
}

/* Reads a sysfs file like "2048K" or "105M" into bytes; 0 if it cannot. */
static size_t read_sysfs_size(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    unsigned long v = 0;
    char unit = '\0';
    int got = fscanf(f, "%lu%c", &v, &unit);
    fclose(f);
    if (got < 1)
        return 0;
    if (unit == 'K')
        return (size_t)v * 1024u;
    if (unit == 'M')
        return (size_t)v * 1024u * 1024u;
    return (size_t)v;
}

/* The cache of @p level from /sys: the indexN whose level matches and whose type is not Instruction. */
static size_t sysfs_cache_size(int level)
{
    for (int index = 0; index < 16; index++) {
        char path[128], type[32] = "";
        int this_level = -1;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", index);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            break;
        if (fscanf(f, "%d", &this_level) != 1)
            this_level = -1;
        fclose(f);
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", index);
        f = fopen(path, "r");
        if (f != NULL) {
            if (fscanf(f, "%31s", type) != 1)
                type[0] = '\0';
            fclose(f);
        }
        if (this_level != level || strcmp(type, "Instruction") == 0)
            continue;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", index);
        return read_sysfs_size(path);
    }
    return 0;
}

size_t nnr_cache_size(int level)
{
    long v = -1;
    /* glibc extensions: some containers and other C libraries report 0 or lack them. */
#if defined(_SC_LEVEL2_CACHE_SIZE) && defined(_SC_LEVEL3_CACHE_SIZE)
    if (level == 2)
        v = sysconf(_SC_LEVEL2_CACHE_SIZE);
    else if (level == 3)
        v = sysconf(_SC_LEVEL3_CACHE_SIZE);
#endif
    if (v > 0)
        return (size_t)v;
    return sysfs_cache_size(level);
}
