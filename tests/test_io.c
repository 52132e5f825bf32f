/* IDX reader: files written here with zlib are read back exactly, the real
 * Fashion-MNIST test labels when installed, and every malformed header gives
 * its code and a sentence naming the file and the field. */
#include "config.h"
#include <stdio.h>
#include <unistd.h>
#include <zlib.h>
#include "test_util.h"
#include "nnref/io.h"

static char tmpdir[64];

/* Writes bytes to <tmpdir>/<name>, gzip-compressed or plain; returns the path. */
static const char *write_file(const char *name, const unsigned char *bytes, size_t n, int gzip)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    if (gzip) {
        gzFile f = gzopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        if (n > 0)
            ck_assert_int_eq(gzwrite(f, bytes, (unsigned)n), (int)n);
        ck_assert_int_eq(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(bytes, 1, n, f), n);
        ck_assert_int_eq(fclose(f), 0);
    }
    return path;
}

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/nnref-test-io-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
}

/* A 2x3x2 unsigned-byte IDX file whose values are 7*i+1 mod 256. */
static size_t small_idx(unsigned char *buf)
{
    const unsigned char header[] = { 0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 2 };
    memcpy(buf, header, sizeof header);
    for (size_t i = 0; i < 12; i++)
        buf[sizeof header + i] = (unsigned char)((7 * i + 1) & 0xff);
    return sizeof header + 12;
}

/* reference: written with gzwrite (and plain), read back byte for byte. */
START_TEST(reference_roundtrip)
{
    unsigned char buf[64];
    size_t n = small_idx(buf);
    for (int gzip = 0; gzip <= 1; gzip++) {
        const char *path = write_file(gzip ? "small.idx.gz" : "small.idx", buf, n, gzip);
        nnr_idx idx;
        nnr_status st = nnr_idx_read(path, &idx);
        ck_assert_msg(st.code == NNR_OK, "%s", nnr_strerror(&st));
        ck_assert_uint_eq(idx.ndim, 3);
        ck_assert_uint_eq(idx.dims[0], 2);
        ck_assert_uint_eq(idx.dims[1], 3);
        ck_assert_uint_eq(idx.dims[2], 2);
        ck_assert_uint_eq(idx.dims[3], 0);
        ck_assert_uint_eq(idx.count, 12);
        for (size_t i = 0; i < 12; i++)
            ck_assert_uint_eq(idx.data[i], (7 * i + 1) & 0xff);
        nnr_idx_free(&idx);
        ck_assert_ptr_null(idx.data);
        ck_assert_uint_eq(idx.ndim, 0);
    }
}
END_TEST

/* reference: the real Fashion-MNIST test labels, when the package is installed. */
START_TEST(reference_fashion_mnist_labels)
{
    const char *path = NNR_FASHION_MNIST_DIR "/t10k-labels-idx1-ubyte.gz";
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "# SKIP %s absent (apt-get install dataset-fashion-mnist)\n", path);
        return;
    }
    nnr_idx idx;
    nnr_status st = nnr_idx_read(path, &idx);
    ck_assert_msg(st.code == NNR_OK, "%s", nnr_strerror(&st));
    ck_assert_uint_eq(idx.ndim, 1);
    ck_assert_uint_eq(idx.dims[0], 10000);
    size_t per_class[10] = { 0 };
    for (size_t i = 0; i < idx.count; i++) {
        ck_assert_uint_lt(idx.data[i], 10);
        per_class[idx.data[i]]++;
    }
    /* Fashion-MNIST's test set is balanced: 1000 images per class */
    for (int c = 0; c < 10; c++)
        ck_assert_uint_eq(per_class[c], 1000);
    nnr_idx_free(&idx);
}
END_TEST

/* Reads a file made of the given bytes (gzipped) and judges into t (cases + 1)
 * the code, that the sentence names the file and contains the field, and
 * that the idx is left empty. */
static void judge_error(tu_tally *t, const unsigned char *bytes, size_t n, nnr_code code, const char *field)
{
    t->cases++;
    const char *path = write_file("bad.idx.gz", bytes, n, 1);
    nnr_idx idx;
    idx.data = (uint8_t *)&idx;   /* must be emptied even on failure */
    nnr_status st = nnr_idx_read(path, &idx);
    if (!tu_judge(t, st.code == code, 0, 0))
        tu_note(t, "'%s' (%zu bytes): want %s, got %s: %s", field, n, nnr_code_name(code), nnr_code_name(st.code),
                nnr_strerror(&st));
    if (!tu_judge(t, strstr(st.message, path) != NULL, 0, 0))
        tu_note(t, "message does not name the file: %s", st.message);
    if (!tu_judge(t, strstr(st.message, field) != NULL, 0, 0))
        tu_note(t, "message does not name '%s': %s", field, st.message);
    if (!tu_judge(t, idx.data == NULL && idx.ndim == 0, 0, 0))
        tu_note(t, "'%s': the idx is not left empty (data %p, ndim %zu)", field, (void *)idx.data,
                (size_t)idx.ndim);
    if (idx.data != (uint8_t *)&idx)
        nnr_idx_free(&idx);
}

START_TEST(errors_malformed_headers)
{
    unsigned char good[64];
    const size_t n = small_idx(good);
    unsigned char b[64];
    tu_tally t = {0};

    judge_error(&t, good, 0, NNR_ERR_IO, "truncated");                 /* empty */
    judge_error(&t, good, 3, NNR_ERR_IO, "magic number");              /* ends in the magic */
    judge_error(&t, good, 10, NNR_ERR_IO, "dimension 1");              /* ends in a dimension */
    judge_error(&t, good, n - 1, NNR_ERR_IO, "data");                  /* one data byte short */

    memcpy(b, good, n); b[1] = 1;
    judge_error(&t, b, n, NNR_ERR_FORMAT, "magic number");
    memcpy(b, good, n); b[2] = 0x0d;                                /* float, valid IDX but not read */
    judge_error(&t, b, n, NNR_ERR_FORMAT, "type byte 0x0d");
    memcpy(b, good, n); b[3] = 0;
    judge_error(&t, b, n, NNR_ERR_FORMAT, "number of dimensions 0");
    memcpy(b, good, n); b[3] = 5;
    judge_error(&t, b, n, NNR_ERR_FORMAT, "number of dimensions 5");
    memcpy(b, good, n); b[11] = 0;                                  /* dimension 1 = 0 */
    judge_error(&t, b, n, NNR_ERR_FORMAT, "dimension 1 is 0");
    /* a product that overflows a 32-bit size_t and exceeds the limit on 64-bit */
    memcpy(b, good, n); b[5] = 0x10; b[7] = 0; memset(b + 8, 0xff, 4);   /* 2^20 x (2^32 - 1) */
    judge_error(&t, b, n, NNR_ERR_FORMAT, "dimension 1 (4294967295)");
    /* one dimension alone above the limit */
    memcpy(b, good, n); b[4] = 0x7f;
    judge_error(&t, b, n, NNR_ERR_FORMAT, "dimension 0");
    memcpy(b, good, n); b[n] = 0x42;                                 /* trailing byte */
    judge_error(&t, b, n + 1, NNR_ERR_FORMAT, "bytes after the 12 data bytes");
    /* 12 malformed files: each rejected with its code, the file and the field named, the idx left empty */
    ck_assert_uint_eq(t.cases, 12);
    ck_assert_msg(t.bad == 0, "%zu of %zu checks of malformed files failed; first: %s", t.bad, t.checked, t.first);
}
END_TEST

START_TEST(errors_missing_files)
{
    nnr_idx idx;
    nnr_status st = nnr_idx_read(NNR_FASHION_MNIST_DIR "/no-such-file-idx1-ubyte.gz", &idx);
    ck_assert_int_eq(st.code, NNR_ERR_IO);
    ck_assert_ptr_nonnull(strstr(st.message, "apt-get install dataset-fashion-mnist"));
    ck_assert_ptr_null(idx.data);

    char path[128];
    snprintf(path, sizeof path, "%s/absent.idx", tmpdir);
    st = nnr_idx_read(path, &idx);
    ck_assert_int_eq(st.code, NNR_ERR_IO);
    ck_assert_ptr_nonnull(strstr(st.message, path));
    ck_assert_ptr_null(strstr(st.message, "apt-get"));

    st = nnr_idx_read(NULL, &idx);
    ck_assert_int_eq(st.code, NNR_ERR_NULL);
    st = nnr_idx_read(path, NULL);
    ck_assert_int_eq(st.code, NNR_ERR_NULL);
    nnr_idx_free(NULL);
}
END_TEST

static Suite *io_suite(void)
{
    Suite *s = suite_create("io");
    TCase *reference = tcase_create("reference");
    tcase_add_unchecked_fixture(reference, make_tmpdir, remove_tmpdir);
    tcase_add_test(reference, reference_roundtrip);
    tcase_add_test(reference, reference_fashion_mnist_labels);
    suite_add_tcase(s, reference);
    TCase *errors = tcase_create("errors");
    tcase_add_unchecked_fixture(errors, make_tmpdir, remove_tmpdir);
    tcase_add_test(errors, errors_malformed_headers);
    tcase_add_test(errors, errors_missing_files);
    suite_add_tcase(s, errors);
    return s;
}

int main(void)
{
    return tu_run(io_suite()) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
