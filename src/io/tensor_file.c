/*
 * Named-tensor files (see tensor_file.h and include/nnref/model.h). The
 * writer encodes every integer and value little-endian byte by byte, so the
 * file is the same on any host. The reader reads the whole file (its size
 * known before anything is believed), then walks it with a cursor that
 * refuses to step past the end: every header field is checked against its
 * limit and against the bytes left before it is used.
 */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "tensor_file.h"

/* ---- Writing -------------------------------------------------------------------- */

typedef struct writer {
    FILE *f;
    int failed;
} writer;

static void put_le(writer *w, uint64_t v, size_t bytes)
{
    unsigned char b[8];
    for (size_t i = 0; i < bytes; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    if (!w->failed && fwrite(b, 1, bytes, w->f) != bytes)
        w->failed = 1;
}

static size_t dtype_bytes(nnr_dtype t)
{
    return t == NNR_FLOAT32 ? 4 : 8;
}

static void put_data(writer *w, const nnr_tf_entry *e)
{
    for (size_t i = 0; i < e->count && !w->failed; i++) {
        uint64_t bits = 0;
        if (e->dtype == NNR_FLOAT32) {
            uint32_t u;
            memcpy(&u, (const float *)e->data + i, 4);
            bits = u;
        } else {
            memcpy(&bits, (const char *)e->data + 8 * i, 8);
        }
        put_le(w, bits, dtype_bytes(e->dtype));
    }
}

nnr_status nnr_tf_write(const char *path, const nnr_tf_entry *entries, size_t n)
{
    if (path == NULL)
        return nnr_error(NNR_ERR_NULL, "path is NULL");
    if (entries == NULL && n > 0)
        return nnr_error(NNR_ERR_NULL, "entries is NULL");
    if (n > NNR_TF_MAX_TENSORS)
        return nnr_error(NNR_ERR_PARAM, "a parameter file holds at most %u tensors, got %zu", NNR_TF_MAX_TENSORS, n);
    for (size_t i = 0; i < n; i++) {
        const size_t len = strlen(entries[i].name);
        if (len == 0 || len > NNR_TF_MAX_NAME)
            return nnr_error(NNR_ERR_PARAM, "tensor %zu's name must have 1..%u characters", i, NNR_TF_MAX_NAME);
        if (entries[i].shape.rank < 1 || entries[i].shape.rank > NNR_MAX_RANK)
            return nnr_error(NNR_ERR_SHAPE, "tensor %s has rank %zu (1..%d)", entries[i].name,
                             entries[i].shape.rank, NNR_MAX_RANK);
    }
    errno = 0;
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return nnr_error(NNR_ERR_IO, "%s: cannot create the file: %s", path, strerror(errno));
    writer w = {f, 0};
    if (fwrite(NNR_TF_MAGIC, 1, 8, f) != 8)
        w.failed = 1;
    put_le(&w, NNR_TF_VERSION, 4);
    put_le(&w, n, 4);
    for (size_t i = 0; i < n; i++) {
        const nnr_tf_entry *e = &entries[i];
        const size_t len = strlen(e->name);
        put_le(&w, len, 2);
        if (!w.failed && fwrite(e->name, 1, len, f) != len)
            w.failed = 1;
        put_le(&w, (uint64_t)e->dtype, 1);
        put_le(&w, e->shape.rank, 1);
        for (size_t d = 0; d < e->shape.rank; d++)
            put_le(&w, e->shape.dims[d], 8);
        put_data(&w, e);
    }
    const int close_failed = fclose(f) != 0;
    if (w.failed || close_failed)
        return nnr_error(NNR_ERR_IO, "%s: writing the file failed (disk full or I/O error)", path);
    return nnr_ok();
}

/* ---- Reading -------------------------------------------------------------------- */

typedef struct cursor {
    const unsigned char *p;
    size_t left;
    const char *path;
} cursor;

/* Takes `bytes` little-endian bytes as an integer; fails if fewer are left. */
static int take_le(cursor *c, size_t bytes, const char *field, uint64_t *v, nnr_status *st)
{
    if (c->left < bytes) {
        *st = nnr_error(NNR_ERR_FORMAT, "%s: the file is truncated in the %s (%zu of %zu bytes present)", c->path,
                        field, c->left, bytes);
        return 0;
    }
    uint64_t r = 0;
    for (size_t i = 0; i < bytes; i++)
        r |= (uint64_t)c->p[i] << (8 * i);
    c->p += bytes;
    c->left -= bytes;
    *v = r;
    return 1;
}

/* Reads the whole file; its size is bounded before allocating. */
static nnr_status slurp(const char *path, unsigned char **buf, size_t *size)
{
    errno = 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return nnr_error(NNR_ERR_IO, "%s: cannot open the file: %s", path, strerror(errno));
    nnr_status st = nnr_ok();
    long end = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        end = ftell(f);
    if (end < 0 || fseek(f, 0, SEEK_SET) != 0)
        st = nnr_error(NNR_ERR_IO, "%s: cannot find the file's size (not a regular file?)", path);
    else if ((unsigned long)end > NNR_TF_MAX_FILE_BYTES)
        st = nnr_error(NNR_ERR_FORMAT, "%s: %ld bytes is more than the %zu a parameter file may have", path, end,
                       NNR_TF_MAX_FILE_BYTES);
    unsigned char *b = NULL;
    if (st.code == NNR_OK) {
        b = malloc(end > 0 ? (size_t)end : 1);
        if (b == NULL)
            st = nnr_error(NNR_ERR_NOMEM, "%s: cannot allocate %ld bytes to read it", path, end);
        else if (fread(b, 1, (size_t)end, f) != (size_t)end)
            st = nnr_error(NNR_ERR_IO, "%s: reading the file failed", path);
    }
    fclose(f);
    if (st.code != NNR_OK) {
        free(b);
        return st;
    }
    *buf = b;
    *size = (size_t)end;
    return st;
}

/* Parses one tensor header; the data's bytes are checked against what is left. */
static nnr_status parse_header(cursor *c, size_t i, nnr_tf_entry *e, size_t *bytes)
{
    nnr_status st = nnr_ok();
    uint64_t v;
    char field[64];
    snprintf(field, sizeof field, "name length of tensor %zu", i);
    if (!take_le(c, 2, field, &v, &st))
        return st;
    if (v == 0 || v > NNR_TF_MAX_NAME)
        return nnr_error(NNR_ERR_FORMAT, "%s: tensor %zu's name length %llu is outside 1..%u", c->path, i,
                         (unsigned long long)v, NNR_TF_MAX_NAME);
    if (c->left < v)
        return nnr_error(NNR_ERR_FORMAT, "%s: the file is truncated in tensor %zu's name (%zu of %llu bytes present)",
                         c->path, i, c->left, (unsigned long long)v);
    memcpy(e->name, c->p, (size_t)v);
    e->name[v] = '\0';
    c->p += v;
    c->left -= (size_t)v;
    if (strlen(e->name) != (size_t)v)
        return nnr_error(NNR_ERR_FORMAT, "%s: tensor %zu's name holds a NUL byte", c->path, i);

    if (!take_le(c, 1, "dtype", &v, &st))
        return st;
    if (v != NNR_FLOAT32 && v != NNR_FLOAT64 && v != NNR_INT64)
        return nnr_error(NNR_ERR_FORMAT, "%s: tensor %s has dtype code %llu (1 float32, 2 float64, 3 int64)",
                         c->path, e->name, (unsigned long long)v);
    e->dtype = (nnr_dtype)v;
    if (!take_le(c, 1, "rank", &v, &st))
        return st;
    if (v < 1 || v > NNR_MAX_RANK)
        return nnr_error(NNR_ERR_FORMAT, "%s: tensor %s has rank %llu, outside 1..%d", c->path, e->name,
                         (unsigned long long)v, NNR_MAX_RANK);
    e->shape.rank = (size_t)v;
    size_t count = 1;
    for (size_t d = 0; d < e->shape.rank; d++) {
        if (!take_le(c, 8, "dimensions", &v, &st))
            return st;
        if (v == 0 || v > SIZE_MAX || !nnr_size_mul(count, (size_t)v, &count))
            return nnr_error(NNR_ERR_FORMAT, "%s: tensor %s's dimension %zu (%llu) is 0 or its element count "
                             "overflows", c->path, e->name, d, (unsigned long long)v);
        e->shape.dims[d] = (size_t)v;
    }
    e->count = count;
    if (!nnr_size_mul(count, dtype_bytes(e->dtype), bytes) || *bytes > c->left)
        return nnr_error(NNR_ERR_FORMAT, "%s: the file is truncated or the shape is wrong: tensor %s declares "
                         "%zu values, more than the %zu bytes left", c->path, e->name, count, c->left);
    return nnr_ok();
}

static void decode(const unsigned char *src, nnr_dtype t, size_t count, void *dst)
{
    const size_t w = dtype_bytes(t);
    for (size_t i = 0; i < count; i++) {
        uint64_t bits = 0;
        for (size_t b = 0; b < w; b++)
            bits |= (uint64_t)src[i * w + b] << (8 * b);
        if (w == 4) {
            const uint32_t u = (uint32_t)bits;
            memcpy((char *)dst + 4 * i, &u, 4);
        } else {
            memcpy((char *)dst + 8 * i, &bits, 8);
        }
    }
}

static nnr_status parse(const unsigned char *buf, size_t size, const char *path, nnr_tf_file *out)
{
    cursor c = {buf, size, path};
    nnr_status st = nnr_ok();
    if (size < 8 || memcmp(buf, NNR_TF_MAGIC, 8) != 0)
        return nnr_error(NNR_ERR_FORMAT, "%s: not an nnref parameter file (it does not start with \"%s\")", path,
                         NNR_TF_MAGIC);
    c.p += 8;
    c.left -= 8;
    uint64_t version, n;
    if (!take_le(&c, 4, "version", &version, &st) || !take_le(&c, 4, "tensor count", &n, &st))
        return st;
    if (version != NNR_TF_VERSION)
        return nnr_error(NNR_ERR_FORMAT, "%s: format version %llu is not %u, the one this library reads", path,
                         (unsigned long long)version, NNR_TF_VERSION);
    if (n > NNR_TF_MAX_TENSORS)
        return nnr_error(NNR_ERR_FORMAT, "%s: tensor count %llu is above the limit %u", path,
                         (unsigned long long)n, NNR_TF_MAX_TENSORS);
    /* Every tensor needs at least 13 header bytes: a count the file cannot
     * hold is refused before the entry table is allocated. */
    if (n * 13 > c.left)
        return nnr_error(NNR_ERR_FORMAT, "%s: tensor count %llu cannot fit in the %zu bytes left", path,
                         (unsigned long long)n, c.left);
    out->entries = calloc(n > 0 ? (size_t)n : 1, sizeof *out->entries);
    /* Decoded data never outgrows the file's bytes plus 8 per tensor, the
     * padding that starts every tensor on an 8-byte boundary. */
    out->storage = malloc(size + 8 * (size_t)n);
    if (out->entries == NULL || out->storage == NULL)
        return nnr_error(NNR_ERR_NOMEM, "%s: cannot allocate the tensor table", path);
    unsigned char *dst = out->storage;
    for (size_t i = 0; i < n; i++) {
        nnr_tf_entry *e = &out->entries[i];
        size_t bytes = 0;
        NNR_TRY(parse_header(&c, i, e, &bytes));
        for (size_t j = 0; j < i; j++)
            if (strcmp(out->entries[j].name, e->name) == 0)
                return nnr_error(NNR_ERR_FORMAT, "%s: tensor %s appears twice", path, e->name);
        decode(c.p, e->dtype, e->count, dst);
        e->data = dst;
        dst += (bytes + 7) / 8 * 8;
        c.p += bytes;
        c.left -= bytes;
        out->n = i + 1;
    }
    if (c.left != 0)
        return nnr_error(NNR_ERR_FORMAT, "%s: %zu bytes follow the last tensor: not the file its header describes",
                         path, c.left);
    return nnr_ok();
}

void nnr_tf_free(nnr_tf_file *f)
{
    if (f == NULL)
        return;
    free(f->entries);
    free(f->storage);
    memset(f, 0, sizeof *f);
}

nnr_status nnr_tf_read(const char *path, nnr_tf_file *out)
{
    if (out == NULL)
        return nnr_error(NNR_ERR_NULL, "out is NULL");
    memset(out, 0, sizeof *out);
    if (path == NULL)
        return nnr_error(NNR_ERR_NULL, "path is NULL");
    unsigned char *buf = NULL;
    size_t size = 0;
    nnr_status st = slurp(path, &buf, &size);
    if (st.code != NNR_OK)
        return st;
    st = parse(buf, size, path, out);
    free(buf);
    if (st.code != NNR_OK)
        nnr_tf_free(out);
    return st;
}
