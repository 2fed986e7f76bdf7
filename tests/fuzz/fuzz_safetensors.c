/* fuzz_safetensors.c: libFuzzer target for the safetensors reader.
 *
 * Parse the input with md_st_parse; when it is accepted, touch every byte of
 * every tensor, convert the floating ones to float32 and float64, look every
 * tensor and metadata key up, then write the file again (md_st_write_fp, to
 * memory) and check that the copy parses to the same tensors and metadata.
 * Any disagreement aborts, so the fuzzer reports it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_safetensors: %s (%s)\n", what, md_last_error());
        abort();
    }
}

/* Touch the data and run the converters. */
static void touch(const md_st_file *f)
{
    volatile uint8_t sink = 0;
    for (int i = 0; i < f->n_tensors; i++) {
        const md_st_tensor *t = &f->tensors[i];
        const uint8_t *p = t->data;
        for (size_t k = 0; k < t->nbytes; k++) sink ^= p[k];
        check(md_st_find(f, t->name) == t, "md_st_find misses a tensor");
        int64_t n = md_st_numel(t);
        check(n >= 0 && (uint64_t)n * md_st_dtype_size(t->dtype) == t->nbytes, "numel");
        size_t m = n > 0 ? (size_t)n : 1;
        float *f32 = malloc(m * sizeof *f32);
        double *f64 = malloc(m * sizeof *f64);
        check(f32 && f64, "out of memory");
        int floating = t->dtype == MD_F32 || t->dtype == MD_F16 || t->dtype == MD_BF16 ||
                       t->dtype == MD_F64;
        check((md_st_to_f32(t, f32) == 0) == floating, "md_st_to_f32 result");
        check((md_st_to_f64(t, f64) == 0) == floating, "md_st_to_f64 result");
        for (int64_t k = 0; floating && k < n; k++) {
            float a = f32[k], b = (float)f64[k];
            check(memcmp(&a, &b, sizeof a) == 0 || (a != a && b != b), "f32 and f64 differ");
        }
        free(f32);
        free(f64);
    }
    for (int i = 0; i < f->n_meta; i++)
        check(md_st_meta(f, f->meta_keys[i]) == f->meta_values[i], "md_st_meta");
    (void)sink;
}

/* Write the parsed file again and compare. */
static void roundtrip(const md_st_file *f)
{
    md_st_entry *e = calloc((size_t)f->n_tensors + 1, sizeof *e);
    check(e != NULL, "out of memory");
    for (int i = 0; i < f->n_tensors; i++) {
        const md_st_tensor *t = &f->tensors[i];
        e[i].name = t->name;
        e[i].dtype = t->dtype;
        e[i].ndim = t->ndim;
        memcpy(e[i].shape, t->shape, sizeof t->shape);
        e[i].data = t->data;
        e[i].src_is_f32 = 0;
    }
    char *mem = NULL;
    size_t size = 0;
    FILE *fp = open_memstream(&mem, &size);
    check(fp != NULL, "open_memstream");
    int rc = md_st_write_fp(fp, "fuzz", e, f->n_tensors, f->meta_keys, f->meta_values, f->n_meta);
    check(fclose(fp) == 0, "fclose");
    check(rc == 0, "md_st_write_fp rejects a file md_st_parse accepted");
    uint64_t hlen;
    check(size >= 8, "rewritten file too short");
    memcpy(&hlen, mem, 8);
    check(hlen % 8 == 0, "rewritten header not padded to a multiple of 8");

    md_st_file g;
    rc = md_st_parse(mem, size, &g);
    check(rc == 0, "the rewritten file does not parse");
    check(g.n_tensors == f->n_tensors && g.n_meta == f->n_meta, "counts differ");
    for (int i = 0; i < f->n_tensors; i++) {
        const md_st_tensor *a = &f->tensors[i], *b = &g.tensors[i];
        check(strcmp(a->name, b->name) == 0, "names differ");
        check(a->dtype == b->dtype && a->ndim == b->ndim, "dtype or ndim differ");
        check(memcmp(a->shape, b->shape, (size_t)a->ndim * sizeof a->shape[0]) == 0,
              "shapes differ");
        check(a->nbytes == b->nbytes && (a->nbytes == 0 || memcmp(a->data, b->data, a->nbytes) == 0),
              "data differs");
        /* The writer aligns every tensor to its element size. */
        size_t off = (size_t)((const char *)b->data - mem);
        check(off % md_st_dtype_size(b->dtype) == 0, "rewritten tensor not aligned");
    }
    for (int i = 0; i < f->n_meta; i++)
        check(strcmp(f->meta_keys[i], g.meta_keys[i]) == 0 &&
              strcmp(f->meta_values[i], g.meta_values[i]) == 0, "metadata differs");
    md_st_close(&g);
    free(mem);
    free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    md_st_file f;
    if (md_st_parse(data, size, &f) != 0) {
        check(f.n_tensors == 0 && f.tensors == NULL && f.n_meta == 0, "not zeroed on error");
        check(md_last_error()[0] != '\0', "error without a message");
        return 0;
    }
    touch(&f);
    roundtrip(&f);
    md_st_close(&f);
    return 0;
}
