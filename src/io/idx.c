/* IDX reader (MNIST format) through zlib, for untrusted files: nothing from
 * the header is believed until it has been checked against the limits and
 * against the bytes that are really there. */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "nnref/io.h"

/* The only IDX element type read here: unsigned byte. */
#define IDX_TYPE_UBYTE 0x08

/* Reads exactly n bytes. Returns 1, or 0 with *st set: the file ended
 * early (a truncated file) or zlib reported an error (corrupt gzip data). */
static int read_exact(gzFile f, const char *path, const char *field, void *buf, size_t n, nnr_status *st)
{
    unsigned char *p = buf;
    size_t got = 0;
    while (got < n) {
        /* gzread takes an unsigned count; read at most 1 GiB per call */
        size_t want = n - got > ((size_t)1 << 30) ? ((size_t)1 << 30) : n - got;
        int r = gzread(f, p + got, (unsigned)want);
        if (r < 0) {
            int zerr = 0;
            const char *msg = gzerror(f, &zerr);
            *st = nnr_error(NNR_ERR_IO, "%s: reading the %s failed: %s.", path, field,
                            zerr == Z_ERRNO ? strerror(errno) : msg);
            return 0;
        }
        if (r == 0) {
            *st = nnr_error(NNR_ERR_IO, "%s: the file is truncated: it ends in the %s (%zu of %zu bytes present).",
                            path, field, got, n);
            return 0;
        }
        got += (size_t)r;
    }
    return 1;
}

static nnr_status open_failed(const char *path, int err)
{
    const size_t dirlen = strlen(NNR_FASHION_MNIST_DIR);
    if (err == ENOENT && strncmp(path, NNR_FASHION_MNIST_DIR "/", dirlen + 1) == 0)
        return nnr_error(NNR_ERR_IO, "%s does not exist: the Fashion-MNIST files come with the Debian package "
                         "dataset-fashion-mnist (apt-get install dataset-fashion-mnist).", path);
    return nnr_error(NNR_ERR_IO, "%s: cannot open the file: %s.", path, err != 0 ? strerror(err) : "out of memory");
}

nnr_status nnr_idx_read(const char *path, nnr_idx *out)
{
    if (out == NULL)
        return nnr_error(NNR_ERR_NULL, "nnr_idx_read: out is NULL.");
    memset(out, 0, sizeof *out);
    if (path == NULL)
        return nnr_error(NNR_ERR_NULL, "nnr_idx_read: path is NULL.");

    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (f == NULL)
        return open_failed(path, errno);

    nnr_status st = nnr_ok();
    unsigned char magic[4];
    if (!read_exact(f, path, "magic number", magic, 4, &st))
        goto done;
    if (magic[0] != 0 || magic[1] != 0) {
        st = nnr_error(NNR_ERR_FORMAT, "%s: bad magic number %02x %02x %02x %02x: an IDX file starts with 00 00.",
                       path, magic[0], magic[1], magic[2], magic[3]);
        goto done;
    }
    if (magic[2] != IDX_TYPE_UBYTE) {
        st = nnr_error(NNR_ERR_FORMAT, "%s: type byte 0x%02x in the magic number is not 0x08 (unsigned byte), "
                       "the only type read.", path, magic[2]);
        goto done;
    }
    const size_t ndim = magic[3];
    if (ndim == 0 || ndim > NNR_IDX_MAX_NDIM) {
        st = nnr_error(NNR_ERR_FORMAT, "%s: number of dimensions %zu in the magic number is outside 1..%d.",
                       path, ndim, NNR_IDX_MAX_NDIM);
        goto done;
    }

    size_t dims[NNR_IDX_MAX_NDIM] = { 0 };
    size_t count = 1;
    for (size_t i = 0; i < ndim; i++) {
        unsigned char b[4];
        char field[32];
        snprintf(field, sizeof field, "dimension %zu", i);
        if (!read_exact(f, path, field, b, 4, &st))
            goto done;
        dims[i] = ((size_t)b[0] << 24) | ((size_t)b[1] << 16) | ((size_t)b[2] << 8) | (size_t)b[3];
        if (dims[i] == 0) {
            st = nnr_error(NNR_ERR_FORMAT, "%s: dimension %zu is 0.", path, i);
            goto done;
        }
        /* checked before multiplying, so the product can neither overflow
         * size_t nor ask for more memory than any real IDX file needs */
        if (dims[i] > NNR_IDX_MAX_BYTES / count) {
            st = nnr_error(NNR_ERR_FORMAT, "%s: dimension %zu (%zu) makes the data larger than %zu bytes.",
                           path, i, dims[i], NNR_IDX_MAX_BYTES);
            goto done;
        }
        count *= dims[i];
    }

    uint8_t *data = malloc(count);
    if (data == NULL) {
        st = nnr_error(NNR_ERR_NOMEM, "%s: cannot allocate %zu bytes for the data.", path, count);
        goto done;
    }
    if (!read_exact(f, path, "data", data, count, &st)) {
        free(data);
        goto done;
    }
    unsigned char extra;
    int r = gzread(f, &extra, 1);
    if (r != 0) {
        free(data);
        st = r < 0 ? nnr_error(NNR_ERR_IO, "%s: reading past the data failed (corrupt compressed data).", path)
                   : nnr_error(NNR_ERR_FORMAT, "%s: there are bytes after the %zu data bytes the dimensions declare.",
                               path, count);
        goto done;
    }

    out->ndim = ndim;
    memcpy(out->dims, dims, sizeof dims);
    out->count = count;
    out->data = data;
done:
    gzclose(f);
    return st;
}

void nnr_idx_free(nnr_idx *idx)
{
    if (idx == NULL)
        return;
    free(idx->data);
    memset(idx, 0, sizeof *idx);
}
