/*
 * Pooling gradient checks: the double naive max, average, global max and
 * global average kernels against central differences (gradcheck.h), over
 * both layouts, 1D/2D/3D, 'valid', 'same', explicit padding, ceil_mode,
 * count_include_pad, divisor_override, dilation and overlapping windows, on
 * the ready-made problems' well-separated inputs (every entry judged, none a
 * kink). And the converse: an input with a tie is reported as a kink by the
 * harness, not hidden.
 *
 * Set NNREF_GC_VERBOSE=1 to print the table of measured errors.
 */
#include "config.h"
#include <stdio.h>
#include "test_util.h"
#include "test_pool.h"

/*
 * Bound on the worst relative error (nnr_gc_rel_err, default floor 0.1).
 * Pooling is piecewise linear, so the central difference has no truncation
 * error away from kinks; what remains is the rounding of L over the step
 * (measured worst over every case here: 3.6e-9). 1e-7 is the bound the
 * normalization checks use: a backward wrong by 1e-6 relative or more
 * exceeds it.
 */
#define POOL_GC_MAX_REL_ERR 1e-7

typedef enum gc_layer { GC_MAX, GC_AVG, GC_GLOBAL_MAX, GC_GLOBAL_AVG } gc_layer;

static const char *const layer_names[] = {"maxpool", "avgpool", "global_maxpool", "global_avgpool"};

static int verbose(void)
{
    const char *v = getenv("NNREF_GC_VERBOSE");
    return v != NULL && v[0] == '1';
}

/* One gradient check's verdict in numbers: the report of the input tensor and
 * the input's entry count, which every entry judged must reach. */
typedef struct gc_result {
    int passed, deterministic;
    size_t checked, count, failed, kinks, worst_index;
    double max_rel_err;
} gc_result;

/* Runs one ready-made check on the default (well-separated) input and
 * returns what it measured for the test to assert. */
static gc_result check_one(gc_layer layer, const char *name, const nnr_pool_params *p,
                           const nnr_global_pool_params *g, const nnr_shape *shape)
{
    nnr_gc_report r;
    nnr_status st;
    const uint64_t seed = 0x5eed + (uint64_t)layer;
    switch (layer) {
    case GC_MAX: st = nnr_gradcheck_maxpool(p, shape, NULL, seed, NULL, &r); break;
    case GC_AVG: st = nnr_gradcheck_avgpool(p, shape, NULL, seed, NULL, &r); break;
    case GC_GLOBAL_MAX: st = nnr_gradcheck_global_maxpool(g, shape, NULL, seed, NULL, &r); break;
    default: st = nnr_gradcheck_global_avgpool(g, shape, NULL, seed, NULL, &r); break;
    }
    ck_assert_msg(st.code == NNR_OK, "%s %s: %s", layer_names[layer], name, nnr_strerror(&st));
    if (verbose())
        nnr_gc_print(stdout, layer_names[layer], name, &r);
    gc_result out;
    ck_assert(nnr_shape_numel(shape, "shape", &out.count).code == NNR_OK);
    const nnr_gc_tensor_report *t = &r.tensors[0];
    out.passed = r.passed;
    out.deterministic = r.deterministic;
    out.checked = t->checked;
    out.failed = t->failed;
    out.kinks = t->kinks;
    out.worst_index = t->worst_index;
    out.max_rel_err = t->max_rel_err;
    return out;
}

typedef struct windowed_case {
    const char *name;
    int torch;                       /* preset: 1 torch (channels_first), 0 keras (channels_last) */
    int dims;
    size_t spatial[3];
    int window[3], stride[3], pad[3], dilation[3];
    nnr_pool_padding padding;
    int ceil_mode, count_include_pad, divisor_override;
} windowed_case;

/* N = 2, C = 3 throughout; zero entries of window/stride/dilation take the preset's. */
static const windowed_case windowed_cases[] = {
    {"1d-valid-keras",     0, 1, {9},       {2},       {0},       {0},       {0},       NNR_POOL_VALID,    0, 0, 0},
    {"1d-same-overlap",    0, 1, {10},      {3},       {2},       {0},       {0},       NNR_POOL_SAME,     0, 0, 0},
    {"1d-torch-ceil-cip",  1, 1, {11},      {3},       {2},       {1},       {0},       NNR_POOL_EXPLICIT, 1, 1, 0},
    {"1d-torch-dilated",   1, 1, {12},      {3},       {1},       {2},       {2},       NNR_POOL_EXPLICIT, 0, 0, 0},
    {"2d-valid-keras",     0, 2, {6, 6},    {2, 2},    {0, 0},    {0, 0},    {0, 0},    NNR_POOL_VALID,    0, 0, 0},
    {"2d-same-s1",         0, 2, {5, 6},    {3, 3},    {1, 1},    {0, 0},    {0, 0},    NNR_POOL_SAME,     0, 0, 0},
    {"2d-torch-overlap",   1, 2, {7, 7},    {3, 3},    {2, 2},    {1, 1},    {0, 0},    NNR_POOL_EXPLICIT, 0, 1, 0},
    {"2d-torch-ceil",      1, 2, {7, 7},    {2, 2},    {3, 3},    {0, 0},    {0, 0},    NNR_POOL_EXPLICIT, 1, 0, 0},
    {"2d-torch-divisor",   1, 2, {5, 6},    {2, 3},    {1, 2},    {1, 1},    {0, 0},    NNR_POOL_EXPLICIT, 0, 1, 5},
    {"2d-dilated-nhwc",    0, 2, {7, 8},    {2, 3},    {1, 2},    {1, 2},    {2, 2},    NNR_POOL_EXPLICIT, 1, 0, 0},
    {"3d-valid-keras",     0, 3, {4, 4, 4}, {2, 2, 2}, {0, 0, 0}, {0, 0, 0}, {0, 0, 0}, NNR_POOL_VALID,    0, 0, 0},
    {"3d-same-mixed",      0, 3, {3, 5, 4}, {2, 3, 2}, {1, 2, 1}, {0, 0, 0}, {0, 0, 0}, NNR_POOL_SAME,     0, 0, 0},
    {"3d-torch-ceil-cip",  1, 3, {5, 4, 5}, {3, 2, 3}, {2, 2, 2}, {1, 1, 1}, {0, 0, 0}, NNR_POOL_EXPLICIT, 1, 1, 0},
    {"3d-torch-dilated",   1, 3, {5, 5, 6}, {2, 2, 3}, {1, 2, 1}, {1, 0, 1}, {2, 1, 2}, NNR_POOL_EXPLICIT, 0, 0, 0},
};

#define N_WINDOWED (sizeof windowed_cases / sizeof windowed_cases[0])

static nnr_shape case_shape(int torch, int dims, const size_t *spatial)
{
    nnr_shape s = {(size_t)dims + 2, {2}};
    for (int i = 0; i < dims; i++)
        s.dims[(torch ? 2 : 1) + i] = spatial[i];
    s.dims[torch ? 1 : (size_t)dims + 1] = 3;
    return s;
}

START_TEST(gradcheck_windowed)
{
    const windowed_case *c = &windowed_cases[_i];
    nnr_pool_params p = c->torch ? nnr_pool_torch(c->dims, 2) : nnr_pool_keras(c->dims, 2);
    for (int i = 0; i < c->dims; i++) {
        p.window[i] = c->window[i];
        if (c->stride[i] != 0)
            p.stride[i] = c->stride[i];
        p.pad[i] = c->pad[i];
        if (c->dilation[i] != 0)
            p.dilation[i] = c->dilation[i];
    }
    p.padding = c->padding;
    p.ceil_mode = c->ceil_mode;
    p.count_include_pad = c->count_include_pad;
    if (c->divisor_override != 0) {
        p.has_divisor_override = 1;
        p.divisor_override = c->divisor_override;
    }
    const nnr_shape shape = case_shape(c->torch, c->dims, c->spatial);
    int dilated = 0;
    for (int i = 0; i < c->dims; i++)
        dilated |= p.dilation[i] != 1;
    for (gc_layer layer = GC_MAX; layer <= (dilated ? GC_MAX : GC_AVG); layer++) {   /* no dilated average */
        const gc_result r = check_one(layer, c->name, &p, NULL, &shape);
        /* every entry of the tie-free input judged (no kink), passed, and within the bound */
        ck_assert_msg(r.passed && r.deterministic && r.failed == 0, "%s %s: %zu of %zu entries failed, worst rel "
                      "err %.3g at %zu", layer_names[layer], c->name, r.failed, r.checked, r.max_rel_err,
                      r.worst_index);
        ck_assert_msg(r.checked == r.count && r.count > 0 && r.kinks == 0, "%s %s: %zu of %zu checked, %zu kinks "
                      "on a tie-free input", layer_names[layer], c->name, r.checked, r.count, r.kinks);
        ck_assert_msg(r.max_rel_err <= POOL_GC_MAX_REL_ERR, "%s %s: worst rel err %.3g > %g", layer_names[layer],
                      c->name, r.max_rel_err, POOL_GC_MAX_REL_ERR);
    }
}
END_TEST

START_TEST(gradcheck_global)
{
    static const size_t spatial[3][3] = {{7}, {4, 5}, {3, 2, 4}};
    int checks = 0;
    for (int dims = 1; dims <= 3; dims++)
        for (int torch = 0; torch < 2; torch++)
            for (int ties = 0; ties < 2; ties++) {
                nnr_global_pool_params g = torch ? nnr_global_pool_torch(dims) : nnr_global_pool_keras(dims);
                g.ties = ties ? NNR_POOL_TIES_FIRST : NNR_POOL_TIES_SPLIT;
                const nnr_shape shape = case_shape(torch, dims, spatial[dims - 1]);
                char name[48];
                snprintf(name, sizeof name, "%dd-%s-%s", dims, torch ? "torch" : "keras", ties ? "first" : "split");
                for (gc_layer layer = GC_GLOBAL_MAX; layer <= (ties ? GC_GLOBAL_MAX : GC_GLOBAL_AVG); layer++) {
                    const gc_result r = check_one(layer, name, NULL, &g, &shape);
                    ck_assert_msg(r.passed && r.deterministic && r.failed == 0, "%s %s: %zu of %zu entries "
                                  "failed, worst rel err %.3g at %zu", layer_names[layer], name, r.failed,
                                  r.checked, r.max_rel_err, r.worst_index);
                    ck_assert_msg(r.checked == r.count && r.count > 0 && r.kinks == 0, "%s %s: %zu of %zu "
                                  "checked, %zu kinks on a tie-free input", layer_names[layer], name, r.checked,
                                  r.count, r.kinks);
                    ck_assert_msg(r.max_rel_err <= POOL_GC_MAX_REL_ERR, "%s %s: worst rel err %.3g > %g",
                                  layer_names[layer], name, r.max_rel_err, POOL_GC_MAX_REL_ERR);
                    checks++;
                }
            }
    ck_assert_int_eq(checks, 3 * 2 * 3);   /* 1D-3D x keras/torch x (max split, max first, average) */
}
END_TEST

/* A tie is a kink: at x = [2, 2] the max moves with x_0 upwards only, so the
 * one-sided slopes differ by |g| and the harness must report the entry as a
 * kink, whichever backward rule produced the analytic gradient. */
START_TEST(gradcheck_tie_is_a_kink)
{
    const double tie[4] = {2, 2, -1, 0.5};      /* one window [2, 2], one without a tie */
    nnr_gc_report r;
    nnr_pool_params p = nnr_pool_keras(1, 2);
    const nnr_shape in = {3, {1, 4, 1}};
    ck_assert(nnr_gradcheck_maxpool(&p, &in, tie, 1, NULL, &r).code == NNR_OK);
    ck_assert_msg(r.tensors[0].kinks == 2, "maxpool over [2, 2]: %zu kinks, want 2", r.tensors[0].kinks);
    ck_assert_msg(r.passed, "the entries away from the tie pass");

    for (int rule = 0; rule < 2; rule++) {
        nnr_global_pool_params g = nnr_global_pool_torch(1);
        g.ties = rule ? NNR_POOL_TIES_FIRST : NNR_POOL_TIES_SPLIT;
        const double plane[4] = {2, 1, 2, 0};
        const nnr_shape gin = {3, {1, 1, 4}};
        ck_assert(nnr_gradcheck_global_maxpool(&g, &gin, plane, 1, NULL, &r).code == NNR_OK);
        ck_assert_msg(r.tensors[0].kinks == 2, "global max (%s) over a tie: %zu kinks, want 2",
                      rule ? "first" : "split", r.tensors[0].kinks);
    }

    /* Without kink detection the tie would be judged, and fail: the
     * detection is what keeps it from being either hidden or misreported. */
    nnr_gc_options o = nnr_gc_defaults();
    o.kink_tol = INFINITY;
    ck_assert(nnr_gradcheck_maxpool(&p, &in, tie, 1, &o, &r).code == NNR_OK);
    ck_assert_msg(r.tensors[0].kinks == 0 && r.tensors[0].failed > 0,
                  "judged as smooth, the tie must fail (failed %zu)", r.tensors[0].failed);
}
END_TEST

void pool_add_gradcheck(TCase *tc)
{
    tcase_add_loop_test(tc, gradcheck_windowed, 0, (int)N_WINDOWED);
    tcase_add_test(tc, gradcheck_global);
    tcase_add_test(tc, gradcheck_tie_is_a_kink);
}
