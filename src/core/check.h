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

/* A kernel's scratch space: need floats (its _workspace_size() query's
 * answer, named by query) at a non-NULL workspace; nothing when need is 0. */
static inline nnr_status nnr_need_workspace(const void *workspace, size_t workspace_floats, size_t need,
                                            const char *query)
{
    if (need == 0)
        return nnr_ok();
    if (workspace_floats < need)
        return nnr_error(NNR_ERR_PARAM,
                         "workspace_floats is %zu but this kernel needs %zu floats of workspace for these "
                         "parameters and in_shape (ask %s())", workspace_floats, need, query);
    return nnr_need(workspace, "workspace");
}

/* Runs one check of a sequence; returns its status from the caller on failure. */
#define NNR_TRY(call) do { nnr_status st_ = (call); if (st_.code != NNR_OK) return st_; } while (0)

#endif /* NNR_CORE_CHECK_H */
