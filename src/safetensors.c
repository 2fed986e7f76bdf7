/* safetensors.c: the safetensors reader (mmap, full validation) and writer
 * (atomic through md_outfile). The JSON header is parsed and produced by
 * jansson. Layout and rules: see safetensors.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "half.h"
#include "safetensors.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c assumes a little-endian host (safetensors data is little endian)"
#endif

#define MEM_LABEL "<memory>"

/* ------------------------------------------------------------------ */
/* Dtypes                                                              */
/* ------------------------------------------------------------------ */

static const struct {
    int code;
    const char *name;
    size_t size;
} dtypes[] = {
    {MD_F32, "F32", 4},          {MD_F16, "F16", 2},
    {MD_BF16, "BF16", 2},        {MD_F64, "F64", 8},
    {MD_I32, "I32", 4},          {MD_I64, "I64", 8},
    {MD_U8, "U8", 1},            {MD_ST_BOOL, "BOOL", 1},
    {MD_ST_I8, "I8", 1},         {MD_ST_I16, "I16", 2},
    {MD_ST_U16, "U16", 2},       {MD_ST_U32, "U32", 4},
    {MD_ST_U64, "U64", 8},       {MD_ST_F8_E5M2, "F8_E5M2", 1},
    {MD_ST_F8_E4M3, "F8_E4M3", 1},
};
#define N_DTYPES ((int)(sizeof dtypes / sizeof dtypes[0]))

const char *md_st_dtype_name(int dtype)
{
    for (int i = 0; i < N_DTYPES; i++)
        if (dtypes[i].code == dtype) return dtypes[i].name;
    return NULL;
}

size_t md_st_dtype_size(int dtype)
{
    for (int i = 0; i < N_DTYPES; i++)
        if (dtypes[i].code == dtype) return dtypes[i].size;
    return 0;
}

int md_st_dtype_from_name(const char *name)
{
    for (int i = 0; i < N_DTYPES; i++)
        if (strcmp(dtypes[i].name, name) == 0) return dtypes[i].code;
    return -1;
}

static int is_float_dtype(int dtype)
{
    return dtype == MD_F32 || dtype == MD_F16 || dtype == MD_BF16 || dtype == MD_F64;
}

static const char *json_type_name(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a real number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "a value";
}

/* numel * itemsize with overflow checks; the product must fit an int64_t
 * and a size_t. Stricter than the reference on one point: the product of
 * the non-zero dimensions must fit too, even when another dimension is 0,
 * so that no partial product a caller takes (a row size) can overflow.
 * 0 on success, -1 on overflow. */
static int shape_nbytes(const int64_t *shape, int ndim, size_t itemsize, uint64_t *nbytes)
{
    uint64_t n = itemsize;
    int zero = 0;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0) return -1;
        if (shape[d] == 0) zero = 1;
        else if (__builtin_mul_overflow(n, (uint64_t)shape[d], &n)) return -1;
    }
    if (n > (uint64_t)INT64_MAX || n > (uint64_t)SIZE_MAX) return -1;
    *nbytes = zero ? 0 : n;
    return 0;
}

/* "[2, 3, 4]" into buf. */
static const char *shape_str(const int64_t *shape, int ndim, char *buf, size_t size)
{
    size_t k = (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < ndim && k < size; d++)
        k += (size_t)snprintf(buf + k, size - k, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (k < size) snprintf(buf + k, size - k, "]");
    return buf;
}

/* ------------------------------------------------------------------ */
/* Reader                                                              */
/* ------------------------------------------------------------------ */

/* Per-tensor offsets kept during validation. */
typedef struct span {
    uint64_t begin, end;
    int index; /* into f->tensors */
} span;

static int cmp_span(const void *a, const void *b)
{
    const span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static int cmp_tensor_name(const void *a, const void *b)
{
    return strcmp(((const md_st_tensor *)a)->name, ((const md_st_tensor *)b)->name);
}

/* Sort keys and values together by key (insertion sort: metadata is small,
 * and this keeps the two arrays in step without a temporary). */
static void sort_meta(char **keys, char **values, int n)
{
    for (int i = 1; i < n; i++) {
        char *k = keys[i], *v = values[i];
        int j = i - 1;
        while (j >= 0 && strcmp(keys[j], k) > 0) {
            keys[j + 1] = keys[j];
            values[j + 1] = values[j];
            j--;
        }
        keys[j + 1] = k;
        values[j + 1] = v;
    }
}

/* A non-negative JSON integer field element. */
static int get_uint(const json_t *j, uint64_t *out)
{
    if (!json_is_integer(j) || json_integer_value(j) < 0) return -1;
    *out = (uint64_t)json_integer_value(j);
    return 0;
}

/* Parse one tensor entry {"dtype", "shape", "data_offsets"} into t and its
 * span (checked against the data buffer size). Unknown fields are ignored,
 * as the reference reader does. */
static int parse_tensor(const char *label, const char *name, const json_t *entry,
                        uint64_t data_size, md_st_tensor *t, span *sp)
{
    char sbuf[256];
    if (!json_is_object(entry))
        return md_error(MD_ERR_FORMAT, "%s: tensor '%s': entry is %s, not an object",
                        label, name, json_type_name(entry));

    const json_t *jd = json_object_get(entry, "dtype");
    const json_t *js = json_object_get(entry, "shape");
    const json_t *jo = json_object_get(entry, "data_offsets");
    if (!jd) return md_error(MD_ERR_FORMAT, "%s: tensor '%s': missing field \"dtype\"", label, name);
    if (!js) return md_error(MD_ERR_FORMAT, "%s: tensor '%s': missing field \"shape\"", label, name);
    if (!jo)
        return md_error(MD_ERR_FORMAT, "%s: tensor '%s': missing field \"data_offsets\"", label,
                        name);

    if (!json_is_string(jd))
        return md_error(MD_ERR_FORMAT, "%s: tensor '%s': \"dtype\" is %s, not a string", label,
                        name, json_type_name(jd));
    t->dtype = md_st_dtype_from_name(json_string_value(jd));
    if (t->dtype < 0)
        return md_error(MD_ERR_FORMAT,
                        "%s: tensor '%s': unsupported dtype \"%.40s\" (supported: F32 F16 BF16 "
                        "F64 I32 I64 U8 BOOL I8 I16 U16 U32 U64 F8_E5M2 F8_E4M3)",
                        label, name, json_string_value(jd));
    size_t itemsize = md_st_dtype_size(t->dtype);

    if (!json_is_array(js))
        return md_error(MD_ERR_FORMAT, "%s: tensor '%s': \"shape\" is %s, not an array", label,
                        name, json_type_name(js));
    size_t ndim = json_array_size(js);
    if (ndim > MD_ST_MAX_DIMS)
        return md_error(MD_ERR_FORMAT, "%s: tensor '%s': shape has %zu dimensions, at most %d "
                        "are supported", label, name, ndim, MD_ST_MAX_DIMS);
    t->ndim = (int)ndim;
    for (size_t d = 0; d < ndim; d++) {
        const json_t *jv = json_array_get(js, d);
        if (!json_is_integer(jv))
            return md_error(MD_ERR_FORMAT, "%s: tensor '%s': shape[%zu] is %s, not an integer",
                            label, name, d, json_type_name(jv));
        if (json_integer_value(jv) < 0)
            return md_error(MD_ERR_FORMAT, "%s: tensor '%s': shape[%zu] = %lld is negative",
                            label, name, d, (long long)json_integer_value(jv));
        t->shape[d] = (int64_t)json_integer_value(jv);
    }
    uint64_t nbytes;
    if (shape_nbytes(t->shape, t->ndim, itemsize, &nbytes) != 0)
        return md_error(MD_ERR_FORMAT, "%s: tensor '%s': shape %s of dtype %s is too large "
                        "(byte size overflows)", label, name,
                        shape_str(t->shape, t->ndim, sbuf, sizeof sbuf), md_st_dtype_name(t->dtype));

    if (!json_is_array(jo) || json_array_size(jo) != 2)
        return md_error(MD_ERR_FORMAT, "%s: tensor '%s': \"data_offsets\" must be an array of two "
                        "integers [BEGIN, END], found %s%s", label, name, json_type_name(jo),
                        json_is_array(jo) ? " of another length" : "");
    uint64_t b, e;
    if (get_uint(json_array_get(jo, 0), &b) != 0 || get_uint(json_array_get(jo, 1), &e) != 0)
        return md_error(MD_ERR_FORMAT, "%s: tensor '%s': \"data_offsets\" must hold two "
                        "non-negative integers", label, name);
    if (e < b)
        return md_error(MD_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] end before "
                        "they begin", label, name, (unsigned long long)b, (unsigned long long)e);
    if (e - b != nbytes)
        return md_error(MD_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] span %llu "
                        "bytes but shape %s of dtype %s needs %llu", label, name,
                        (unsigned long long)b, (unsigned long long)e,
                        (unsigned long long)(e - b), shape_str(t->shape, t->ndim, sbuf, sizeof sbuf),
                        md_st_dtype_name(t->dtype), (unsigned long long)nbytes);
    if (e > data_size)
        return md_error(MD_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] are outside "
                        "the data buffer of %llu bytes (truncated file?)", label, name,
                        (unsigned long long)b, (unsigned long long)e,
                        (unsigned long long)data_size);
    t->nbytes = (size_t)nbytes;
    sp->begin = b;
    sp->end = e;
    return 0;
}

/* Parse "__metadata__" (an object of strings, or null) into f. */
static int parse_meta(const char *label, const json_t *jm, md_st_file *f)
{
    if (json_is_null(jm)) return 0;
    if (!json_is_object(jm))
        return md_error(MD_ERR_FORMAT, "%s: \"__metadata__\" is %s, not an object of strings",
                        label, json_type_name(jm));
    size_t n = json_object_size(jm);
    if (n > INT32_MAX) return md_error(MD_ERR_FORMAT, "%s: too many metadata entries", label);
    if (n == 0) return 0;
    f->meta_keys = calloc(n, sizeof *f->meta_keys);
    f->meta_values = calloc(n, sizeof *f->meta_values);
    if (!f->meta_keys || !f->meta_values) return md_error(MD_ERR_NOMEM, "%s: out of memory", label);
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)jm, key, val) {
        if (!json_is_string(val))
            return md_error(MD_ERR_FORMAT, "%s: \"__metadata__\" key '%s' has %s value; "
                            "metadata values must be strings", label, key, json_type_name(val));
        int i = f->n_meta;
        f->meta_keys[i] = strdup(key);
        f->meta_values[i] = strdup(json_string_value(val));
        f->n_meta++; /* counted now so that md_st_close frees a partial pair */
        if (!f->meta_keys[i] || !f->meta_values[i])
            return md_error(MD_ERR_NOMEM, "%s: out of memory", label);
    }
    sort_meta(f->meta_keys, f->meta_values, f->n_meta);
    return 0;
}

/* The tensors taken in offset order must cover [0, data_size) exactly. */
static int check_coverage(const char *label, const md_st_file *f, span *spans, int n,
                          uint64_t data_size)
{
    if (n > 1) qsort(spans, (size_t)n, sizeof *spans, cmp_span);
    uint64_t expected = 0;
    for (int i = 0; i < n; i++) {
        const span *s = &spans[i];
        const char *name = f->tensors[s->index].name;
        if (s->begin < expected) {
            const span *p = &spans[i - 1]; /* i > 0: spans[0] cannot start below 0 */
            return md_error(MD_ERR_FORMAT, "%s: tensor '%s' (data_offsets [%llu, %llu]) overlaps "
                            "tensor '%s' (data_offsets [%llu, %llu])", label, name,
                            (unsigned long long)s->begin, (unsigned long long)s->end,
                            f->tensors[p->index].name, (unsigned long long)p->begin,
                            (unsigned long long)p->end);
        }
        if (s->begin > expected)
            return md_error(MD_ERR_FORMAT, "%s: bytes [%llu, %llu) of the data buffer, before "
                            "tensor '%s', belong to no tensor (the tensors must cover the buffer "
                            "contiguously)", label, (unsigned long long)expected,
                            (unsigned long long)s->begin, name);
        expected = s->end;
    }
    if (expected != data_size) {
        if (n == 0)
            return md_error(MD_ERR_FORMAT, "%s: no tensors, but a data buffer of %llu bytes",
                            label, (unsigned long long)data_size);
        return md_error(MD_ERR_FORMAT, "%s: %llu bytes after the last tensor '%s' (which ends "
                        "at %llu) belong to no tensor (data buffer of %llu bytes)", label,
                        (unsigned long long)(data_size - expected),
                        f->tensors[spans[n - 1].index].name, (unsigned long long)expected,
                        (unsigned long long)data_size);
    }
    return 0;
}

static int st_parse(const uint8_t *buf, size_t size, const char *label, md_st_file *f)
{
    int ret = 0;
    json_t *root = NULL;
    span *spans = NULL;

    memset(f, 0, sizeof *f);
    if (size < 8)
        return md_error(MD_ERR_FORMAT, "%s: file of %zu bytes is too short for a safetensors file "
                        "(8-byte header length missing)", label, size);
    uint64_t hlen;
    memcpy(&hlen, buf, 8); /* little endian */
    if (hlen > MD_ST_MAX_HEADER)
        return md_error(MD_ERR_FORMAT, "%s: header length %llu is larger than the %u-byte limit "
                        "(not a safetensors file?)", label, (unsigned long long)hlen,
                        MD_ST_MAX_HEADER);
    if (hlen > size - 8)
        return md_error(MD_ERR_FORMAT, "%s: header length %llu runs past the end of the file "
                        "(%zu bytes; truncated file?)", label, (unsigned long long)hlen, size);
    uint64_t data_size = size - 8 - hlen;
    const uint8_t *data = buf + 8 + hlen;

    json_error_t jerr;
    root = json_loadb((const char *)buf + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        switch (json_error_code(&jerr)) {
        case json_error_invalid_utf8:
            ret = md_error(MD_ERR_FORMAT, "%s: JSON header is not valid UTF-8 (header byte %d): "
                           "%s", label, jerr.position, jerr.text);
            break;
        case json_error_duplicate_key:
            ret = md_error(MD_ERR_FORMAT, "%s: JSON header has a duplicate key (header byte %d): "
                           "%s", label, jerr.position, jerr.text);
            break;
        case json_error_out_of_memory:
            ret = md_error(MD_ERR_NOMEM, "%s: out of memory parsing the JSON header", label);
            break;
        default:
            ret = md_error(MD_ERR_FORMAT, "%s: JSON header cannot be parsed at line %d, column %d: "
                           "%s", label, jerr.line, jerr.column, jerr.text);
        }
        goto fail;
    }
    if (!json_is_object(root)) {
        ret = md_error(MD_ERR_FORMAT, "%s: JSON header is %s, not an object", label,
                       json_type_name(root));
        goto fail;
    }

    const json_t *jmeta = json_object_get(root, "__metadata__");
    size_t n_entries = json_object_size(root) - (jmeta != NULL);
    if (n_entries > INT32_MAX) {
        ret = md_error(MD_ERR_FORMAT, "%s: too many tensors (%zu)", label, n_entries);
        goto fail;
    }
    if (jmeta && (ret = parse_meta(label, jmeta, f)) != 0) goto fail;

    if (n_entries > 0) {
        f->tensors = calloc(n_entries, sizeof *f->tensors);
        spans = malloc(n_entries * sizeof *spans);
        if (!f->tensors || !spans) {
            ret = md_error(MD_ERR_NOMEM, "%s: out of memory", label);
            goto fail;
        }
    }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (strcmp(key, "__metadata__") == 0) continue;
        int i = f->n_tensors;
        md_st_tensor *t = &f->tensors[i];
        if ((ret = parse_tensor(label, key, val, data_size, t, &spans[i])) != 0) goto fail;
        t->name = strdup(key);
        if (!t->name) {
            ret = md_error(MD_ERR_NOMEM, "%s: out of memory", label);
            goto fail;
        }
        t->data = data + spans[i].begin;
        spans[i].index = i;
        f->n_tensors++;
    }
    if ((ret = check_coverage(label, f, spans, f->n_tensors, data_size)) != 0) goto fail;

    /* Sort by name last: spans index the offset-order checks above. */
    if (f->n_tensors > 1)
        qsort(f->tensors, (size_t)f->n_tensors, sizeof *f->tensors, cmp_tensor_name);
    free(spans);
    json_decref(root);
    return 0;

fail:
    free(spans);
    json_decref(root);
    md_st_close(f);
    return ret;
}

int md_st_parse(const void *buf, size_t size, md_st_file *f)
{
    if (!f) return md_error(MD_ERR_ARG, "md_st_parse: no output struct");
    if (!buf && size > 0) {
        memset(f, 0, sizeof *f);
        return md_error(MD_ERR_ARG, "md_st_parse: NULL buffer of %zu bytes", size);
    }
    static const uint8_t empty[1];
    return st_parse(buf ? buf : empty, size, MEM_LABEL, f);
}

/* Read a non-regular file (pipe, character device) into memory. */
static int read_all(int fd, const char *path, uint8_t **out, size_t *size)
{
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    if (!buf) return md_error(MD_ERR_NOMEM, "%s: out of memory", path);
    for (;;) {
        if (n == cap) {
            uint8_t *nb = cap < SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
            if (!nb) {
                free(buf);
                return md_error(MD_ERR_NOMEM, "%s: out of memory reading the file", path);
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int err = errno;
            free(buf);
            return md_error(MD_ERR_IO, "%s: read failed: %s", path, strerror(err));
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    *out = buf;
    *size = n;
    return 0;
}

int md_st_open(const char *path, md_st_file *f)
{
    int ret = 0, fd = -1;
    void *map = NULL;
    size_t map_size = 0;
    uint8_t *owned = NULL;
    size_t owned_size = 0;

    if (!f) return md_error(MD_ERR_ARG, "md_st_open: no output struct");
    memset(f, 0, sizeof *f);
    if (!path) return md_error(MD_ERR_ARG, "md_st_open: no path");

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return md_error(MD_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        ret = md_error(MD_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        goto out;
    }
    if (S_ISDIR(st.st_mode)) {
        ret = md_error(MD_ERR_IO, "%s: is a directory, not a safetensors file", path);
        goto out;
    }
    if (S_ISREG(st.st_mode)) {
        if ((uint64_t)st.st_size > SIZE_MAX) {
            ret = md_error(MD_ERR_IO, "%s: file too large to map", path);
            goto out;
        }
        map_size = (size_t)st.st_size;
        if (map_size < 8) { /* too short (mmap of 0 bytes fails): parse says why */
            uint8_t small[8] = {0};
            if (map_size && pread(fd, small, map_size, 0) != (ssize_t)map_size) {
                ret = md_error(MD_ERR_IO, "%s: read failed: %s", path, strerror(errno));
                goto out;
            }
            ret = st_parse(small, map_size, path, f);
            goto out;
        }
        map = mmap(NULL, map_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            map = NULL;
            ret = md_error(MD_ERR_IO, "%s: cannot map the file: %s", path, strerror(errno));
            goto out;
        }
        if ((ret = st_parse(map, map_size, path, f)) != 0) goto out;
        f->map = map;
        f->map_size = map_size;
        map = NULL; /* owned by f now */
    } else {
        if ((ret = read_all(fd, path, &owned, &owned_size)) != 0) goto out;
        if ((ret = st_parse(owned, owned_size, path, f)) != 0) goto out;
        f->owned = owned;
        owned = NULL;
    }

out:
    if (map) munmap(map, map_size);
    free(owned);
    if (fd >= 0) close(fd);
    return ret;
}

void md_st_close(md_st_file *f)
{
    if (!f) return;
    for (int i = 0; i < f->n_tensors; i++) free(f->tensors[i].name);
    free(f->tensors);
    for (int i = 0; i < f->n_meta; i++) {
        free(f->meta_keys[i]);
        free(f->meta_values[i]);
    }
    free(f->meta_keys);
    free(f->meta_values);
    if (f->map) munmap(f->map, f->map_size);
    free(f->owned);
    memset(f, 0, sizeof *f);
}

const md_st_tensor *md_st_find(const md_st_file *f, const char *name)
{
    if (!f || !name) return NULL;
    int lo = 0, hi = f->n_tensors - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(f->tensors[mid].name, name);
        if (c == 0) return &f->tensors[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return NULL;
}

const char *md_st_meta(const md_st_file *f, const char *key)
{
    if (!f || !key) return NULL;
    for (int i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta_keys[i], key) == 0) return f->meta_values[i];
    return NULL;
}

int64_t md_st_numel(const md_st_tensor *t)
{
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= t->shape[d];
    return n;
}

/* ------------------------------------------------------------------ */
/* Conversions (loads through memcpy: data may be unaligned)           */
/* ------------------------------------------------------------------ */

static int not_floating(const md_st_tensor *t)
{
    const char *dn = md_st_dtype_name(t->dtype);
    return md_error(MD_ERR_ARG, "tensor '%s': dtype %s is not a floating type (F32, F16, BF16, "
                    "F64) and cannot be converted", t->name ? t->name : "?", dn ? dn : "unknown");
}

/* Element i of a floating tensor, widened exactly to double. */
static double float_element(const md_st_tensor *t, int64_t i)
{
    const uint8_t *p = t->data;
    switch (t->dtype) {
    case MD_F32: {
        float v;
        memcpy(&v, p + 4 * i, 4);
        return v;
    }
    case MD_F16:
    case MD_BF16: {
        uint16_t h;
        memcpy(&h, p + 2 * i, 2);
        return t->dtype == MD_F16 ? md_f16_to_f32(h) : md_bf16_to_f32(h);
    }
    default: {
        double v;
        memcpy(&v, p + 8 * i, 8);
        return v;
    }
    }
}

int md_st_to_f32(const md_st_tensor *t, float *dst)
{
    if (!is_float_dtype(t->dtype)) return not_floating(t);
    int64_t n = md_st_numel(t);
    if (t->dtype == MD_F32) {
        if (n) memcpy(dst, t->data, (size_t)n * 4);
        return 0;
    }
    for (int64_t i = 0; i < n; i++) dst[i] = (float)float_element(t, i);
    return 0;
}

int md_st_to_f64(const md_st_tensor *t, double *dst)
{
    if (!is_float_dtype(t->dtype)) return not_floating(t);
    int64_t n = md_st_numel(t);
    for (int64_t i = 0; i < n; i++) dst[i] = float_element(t, i);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Writer                                                              */
/* ------------------------------------------------------------------ */

/* A validated write: the padded header and the data order. */
typedef struct st_plan {
    char *header;      /* JSON padded with spaces, hlen bytes (+ NUL) */
    size_t hlen;
    int *order;        /* [n] entry indices in data order */
    uint64_t *nbytes;  /* [n] stored bytes per entry */
    int n;
} st_plan;

static void plan_free(st_plan *p)
{
    free(p->header);
    free(p->order);
    free(p->nbytes);
    memset(p, 0, sizeof *p);
}

/* Data order of the reference writer: decreasing alignment (element size),
 * then name. */
typedef struct order_key {
    size_t itemsize;
    const char *name;
    int index;
} order_key;

static int cmp_order(const void *a, const void *b)
{
    const order_key *x = a, *y = b;
    if (x->itemsize != y->itemsize) return x->itemsize > y->itemsize ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int check_entry(const char *label, const md_st_entry *e, int i, uint64_t *nbytes)
{
    char sbuf[256];
    if (!e->name) return md_error(MD_ERR_ARG, "%s: tensor %d has no name", label, i);
    if (strcmp(e->name, "__metadata__") == 0)
        return md_error(MD_ERR_ARG, "%s: tensor %d: the name \"__metadata__\" is reserved", label, i);
    const char *dn = md_st_dtype_name(e->dtype);
    if (!dn)
        return md_error(MD_ERR_ARG, "%s: tensor '%s': unknown dtype code %d", label, e->name,
                        e->dtype);
    if (e->src_is_f32 && !is_float_dtype(e->dtype))
        return md_error(MD_ERR_ARG, "%s: tensor '%s': float32 data can only be written as F32, "
                        "F16, BF16 or F64, not %s", label, e->name, dn);
    if (e->ndim < 0 || e->ndim > MD_ST_MAX_DIMS)
        return md_error(MD_ERR_ARG, "%s: tensor '%s': ndim %d is outside 0..%d", label, e->name,
                        e->ndim, MD_ST_MAX_DIMS);
    for (int d = 0; d < e->ndim; d++)
        if (e->shape[d] < 0)
            return md_error(MD_ERR_ARG, "%s: tensor '%s': shape[%d] = %lld is negative", label,
                            e->name, d, (long long)e->shape[d]);
    if (shape_nbytes(e->shape, e->ndim, md_st_dtype_size(e->dtype), nbytes) != 0)
        return md_error(MD_ERR_ARG, "%s: tensor '%s': shape %s is too large", label, e->name,
                        shape_str(e->shape, e->ndim, sbuf, sizeof sbuf));
    if (*nbytes > 0 && !e->data)
        return md_error(MD_ERR_ARG, "%s: tensor '%s': no data", label, e->name);
    return 0;
}

/* Validate everything and build the header. */
static int plan_write(const char *label, const md_st_entry *entries, int n,
                      char *const *meta_keys, char *const *meta_values, int n_meta, st_plan *p)
{
    int ret = 0;
    json_t *root = NULL, *jmeta = NULL, *names = NULL;
    char *json = NULL;
    order_key *keys = NULL;

    memset(p, 0, sizeof *p);
    if (n < 0 || n_meta < 0 || (n > 0 && !entries) || (n_meta > 0 && (!meta_keys || !meta_values)))
        return md_error(MD_ERR_ARG, "%s: invalid tensor or metadata list", label);
    p->n = n;
    p->order = malloc((size_t)(n ? n : 1) * sizeof *p->order);
    p->nbytes = malloc((size_t)(n ? n : 1) * sizeof *p->nbytes);
    keys = malloc((size_t)(n ? n : 1) * sizeof *keys);
    root = json_object();
    names = json_object(); /* set of names, for duplicates */
    if (!p->order || !p->nbytes || !keys || !root || !names) {
        ret = md_error(MD_ERR_NOMEM, "%s: out of memory", label);
        goto out;
    }

    if (n_meta > 0) {
        if (!(jmeta = json_object())) {
            ret = md_error(MD_ERR_NOMEM, "%s: out of memory", label);
            goto out;
        }
        for (int i = 0; i < n_meta; i++) {
            if (!meta_keys[i] || !meta_values[i]) {
                ret = md_error(MD_ERR_ARG, "%s: metadata entry %d has no key or value", label, i);
                goto out;
            }
            if (json_object_get(jmeta, meta_keys[i])) {
                ret = md_error(MD_ERR_ARG, "%s: duplicate metadata key '%s'", label, meta_keys[i]);
                goto out;
            }
            json_t *v = json_string(meta_values[i]);
            if (!v) {
                ret = md_error(MD_ERR_ARG, "%s: metadata value of key '%s' is not valid UTF-8",
                               label, meta_keys[i]);
                goto out;
            }
            if (json_object_set_new(jmeta, meta_keys[i], v) != 0) {
                ret = md_error(MD_ERR_ARG, "%s: metadata key %d is not valid UTF-8", label, i);
                goto out;
            }
        }
        if (json_object_set_new(root, "__metadata__", jmeta) != 0) {
            jmeta = NULL;
            ret = md_error(MD_ERR_NOMEM, "%s: out of memory", label);
            goto out;
        }
        jmeta = NULL; /* owned by root */
    }

    for (int i = 0; i < n; i++) {
        if ((ret = check_entry(label, &entries[i], i, &p->nbytes[i])) != 0) goto out;
        if (json_object_get(names, entries[i].name)) {
            ret = md_error(MD_ERR_ARG, "%s: duplicate tensor name '%s'", label, entries[i].name);
            goto out;
        }
        if (json_object_set_new(names, entries[i].name, json_integer(i)) != 0) {
            ret = md_error(MD_ERR_ARG, "%s: tensor %d: name is not valid UTF-8", label, i);
            goto out;
        }
        keys[i] = (order_key){md_st_dtype_size(entries[i].dtype), entries[i].name, i};
    }
    if (n > 1) qsort(keys, (size_t)n, sizeof *keys, cmp_order);
    for (int k = 0; k < n; k++) p->order[k] = keys[k].index;

    uint64_t offset = 0;
    for (int k = 0; k < n; k++) {
        const md_st_entry *e = &entries[p->order[k]];
        uint64_t end;
        if (__builtin_add_overflow(offset, p->nbytes[p->order[k]], &end) || end > INT64_MAX) {
            ret = md_error(MD_ERR_ARG, "%s: total data size overflows at tensor '%s'", label,
                           e->name);
            goto out;
        }
        json_t *jt = json_object(), *shape = json_array();
        json_t *offs = json_pack("[II]", (json_int_t)offset, (json_int_t)end);
        int bad = !jt || !shape || !offs;
        for (int d = 0; !bad && d < e->ndim; d++)
            bad = json_array_append_new(shape, json_integer(e->shape[d])) != 0;
        bad = bad || json_object_set_new(jt, "dtype", json_string(md_st_dtype_name(e->dtype)));
        bad = bad || json_object_set(jt, "shape", shape);
        bad = bad || json_object_set(jt, "data_offsets", offs);
        bad = bad || json_object_set(root, e->name, jt);
        json_decref(jt);
        json_decref(shape);
        json_decref(offs);
        if (bad) {
            ret = md_error(MD_ERR_NOMEM, "%s: out of memory building the header", label);
            goto out;
        }
        offset = end;
    }

    json = json_dumps(root, JSON_COMPACT);
    if (!json) {
        ret = md_error(MD_ERR_NOMEM, "%s: out of memory building the header", label);
        goto out;
    }
    size_t len = strlen(json), padded = (len + 7) / 8 * 8;
    if (padded > MD_ST_MAX_HEADER) {
        ret = md_error(MD_ERR_ARG, "%s: JSON header of %zu bytes exceeds the %u-byte limit of "
                       "readers", label, padded, MD_ST_MAX_HEADER);
        goto out;
    }
    if (!(p->header = malloc(padded + 1))) {
        ret = md_error(MD_ERR_NOMEM, "%s: out of memory", label);
        goto out;
    }
    memcpy(p->header, json, len);
    memset(p->header + len, ' ', padded - len);
    p->header[padded] = '\0';
    p->hlen = padded;

out:
    free(keys);
    free(json);
    json_decref(jmeta);
    json_decref(names);
    json_decref(root);
    if (ret) plan_free(p);
    return ret;
}

static int write_err(const char *label)
{
    return md_error(MD_ERR_IO, "%s: write failed: %s", label, errno ? strerror(errno) : "I/O error");
}

/* Write one entry's data, converting float32 sources in chunks. */
static int emit_data(FILE *fp, const char *label, const md_st_entry *e, uint64_t nbytes)
{
    enum { CHUNK = 8192 }; /* elements per conversion chunk */
    if (nbytes == 0) return 0;
    if (!e->src_is_f32 || e->dtype == MD_F32) {
        if (fwrite(e->data, 1, (size_t)nbytes, fp) != nbytes) return write_err(label);
        return 0;
    }
    const float *src = e->data;
    size_t itemsize = md_st_dtype_size(e->dtype), n = (size_t)(nbytes / itemsize);
    union {
        uint16_t h[CHUNK];
        double d[CHUNK];
    } buf;
    for (size_t i = 0; i < n; i += CHUNK) {
        size_t m = n - i < CHUNK ? n - i : CHUNK;
        for (size_t j = 0; j < m; j++) {
            float x;
            memcpy(&x, src + i + j, sizeof x); /* the caller's array may be unaligned */
            if (e->dtype == MD_F16) buf.h[j] = md_f32_to_f16(x);
            else if (e->dtype == MD_BF16) buf.h[j] = md_f32_to_bf16(x);
            else buf.d[j] = x;
        }
        if (fwrite(&buf, itemsize, m, fp) != m) return write_err(label);
    }
    return 0;
}

static int emit(FILE *fp, const char *label, const md_st_entry *entries, const st_plan *p)
{
    uint64_t hlen = p->hlen; /* little endian */
    errno = 0;
    if (fwrite(&hlen, 8, 1, fp) != 1 || fwrite(p->header, 1, p->hlen, fp) != p->hlen)
        return write_err(label);
    for (int k = 0; k < p->n; k++) {
        int i = p->order[k];
        int ret = emit_data(fp, label, &entries[i], p->nbytes[i]);
        if (ret) return ret;
    }
    if (fflush(fp) != 0 || ferror(fp)) return write_err(label);
    return 0;
}

int md_st_write_fp(FILE *fp, const char *label, const md_st_entry *entries, int n,
                   char *const *meta_keys, char *const *meta_values, int n_meta)
{
    st_plan p;
    if (!label) label = "<stream>";
    if (!fp) return md_error(MD_ERR_ARG, "%s: no output stream", label);
    int ret = plan_write(label, entries, n, meta_keys, meta_values, n_meta, &p);
    if (ret) return ret;
    ret = emit(fp, label, entries, &p);
    plan_free(&p);
    return ret;
}

int md_st_write(const char *path, const md_st_entry *entries, int n, char *const *meta_keys,
                char *const *meta_values, int n_meta)
{
    st_plan p;
    if (!path) return md_error(MD_ERR_ARG, "md_st_write: no path");
    int ret = plan_write(path, entries, n, meta_keys, meta_values, n_meta, &p);
    if (ret) return ret;

    md_outfile *out = md_outfile_open(path);
    if (!out) {
        ret = MD_ERR_IO; /* md_outfile_open has recorded why */
        goto out;
    }
    if ((ret = emit(md_outfile_fp(out), path, entries, &p)) != 0) {
        md_outfile_abort(out);
        goto out;
    }
    ret = md_outfile_commit(out);

out:
    plan_free(&p);
    return ret;
}
