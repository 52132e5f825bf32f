/*
 * The two idioms of every argument check (src/norm/<layer>_check.c,
 * src/pool/pool_check.c): a required pointer, and a sequence of checks that
 * returns the first failure. Internal to the library.
 */
#ifndef NNR_CORE_CHECK_H
#define NNR_CORE_CHECK_H

#include <stddef.h>
#include "nnref/core.h"

/* NNR_ERR_NULL naming `name` if ptr is NULL, else NNR_OK. */
static inline nnr_status nnr_need(const void *ptr, const char *name)
{
    if (ptr == NULL)
        return nnr_error(NNR_ERR_NULL, "%s is NULL", name);
    return nnr_ok();
}

/* Runs one check of a sequence; returns its status from the caller on failure. */
#define NNR_TRY(call) do { nnr_status st_ = (call); if (st_.code != NNR_OK) return st_; } while (0)

#endif /* NNR_CORE_CHECK_H */
