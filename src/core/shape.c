/* Shape helpers: element counts with every multiplication checked for overflow. */
#include "config.h"
#include "nnref/core.h"

int nnr_size_mul(size_t a, size_t b, size_t *out)
{
    size_t product;
    if (__builtin_mul_overflow(a, b, &product))
        return 0;
    *out = product;
    return 1;
}

nnr_status nnr_shape_numel(const nnr_shape *shape, const char *name, size_t *count)
{
    size_t total = 1;
    if (name == NULL)
        name = "shape";
    if (shape == NULL)
        return nnr_error(NNR_ERR_NULL, "%s is NULL", name);
    if (count == NULL)
        return nnr_error(NNR_ERR_NULL, "the element count pointer for %s is NULL", name);
    if (shape->rank < 1 || shape->rank > NNR_MAX_RANK)
        return nnr_error(NNR_ERR_SHAPE, "%s has rank %zu; nnref accepts ranks 1 to %d",
                         name, shape->rank, NNR_MAX_RANK);
    for (size_t i = 0; i < shape->rank; i++) {
        if (shape->dims[i] == 0)
            return nnr_error(NNR_ERR_SHAPE, "%s has a zero extent in dimension %zu", name, i);
        if (!nnr_size_mul(total, shape->dims[i], &total))
            return nnr_error(NNR_ERR_OVERFLOW,
                             "%s has more elements than size_t can count (overflow at dimension %zu)",
                             name, i);
    }
    *count = total;
    return nnr_ok();
}
