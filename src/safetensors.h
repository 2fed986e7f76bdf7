/* safetensors.h: read and write safetensors files (private to the library).
 *
 * Format (https://github.com/huggingface/safetensors):
 *   bytes [0, 8)        little-endian u64 N, the length of the JSON header
 *   bytes [8, 8 + N)    UTF-8 JSON object
 *                         {"NAME": {"dtype": "F32", "shape": [..],
 *                                   "data_offsets": [BEGIN, END]}, ...,
 *                          "__metadata__": {"key": "string value", ...}}
 *                       padded with spaces to a multiple of 8 by writers
 *   bytes [8 + N, end)  the byte buffer; [BEGIN, END) are relative to its
 *                       start; tensors are little endian, C order.
 *
 * The reader validates as strictly as the reference implementation: header
 * at most 100,000,000 bytes, valid UTF-8 JSON object, every entry complete
 * and well typed, END - BEGIN == numel * itemsize (overflow checked), and
 * the tensors, taken in offset order, covering the byte buffer exactly:
 * no overlap, no hole, nothing after the last tensor. Duplicate JSON keys
 * are rejected. Every error names the file, and the tensor or field. */
#ifndef MD_SAFETENSORS_H
#define MD_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mambadna.h"

#define MD_ST_MAX_DIMS 8
#define MD_ST_MAX_HEADER 100000000u /* bytes, as the reference reader */

/* Storage-only dtypes of safetensors that enum md_dtype does not name: they
 * are read and written as raw bytes (never converted), so that files carrying
 * masks or integer buffers (PyTorch's BOOL, I8, ...) still load. */
enum md_st_extra_dtype {
    MD_ST_BOOL = 32, MD_ST_I8, MD_ST_I16, MD_ST_U16, MD_ST_U32, MD_ST_U64,
    MD_ST_F8_E5M2, MD_ST_F8_E4M3
};

/** One tensor of a parsed file. */
typedef struct md_st_tensor {
    char *name;
    int dtype;                    /**< enum md_dtype or enum md_st_extra_dtype */
    int ndim;                     /**< 0..MD_ST_MAX_DIMS (0: a scalar) */
    int64_t shape[MD_ST_MAX_DIMS];
    const void *data;             /**< nbytes bytes in the mapping / buffer;
                                       aligned only as the file places it */
    size_t nbytes;
} md_st_tensor;

/** A parsed file: tensors sorted by name (strcmp order), metadata sorted by
 *  key. Everything is owned by the struct; tensor data points into the file
 *  mapping (md_st_open) or the caller's buffer (md_st_parse). */
typedef struct md_st_file {
    md_st_tensor *tensors;        /**< [n_tensors] */
    int n_tensors;
    char **meta_keys, **meta_values; /**< [n_meta] each */
    int n_meta;
    /* private */
    void *map;                    /**< mmap'ed file, or NULL */
    size_t map_size;
    void *owned;                  /**< file read into memory (not mmap-able), or NULL */
} md_st_file;

/** Name of a dtype as written in safetensors files ("F32", "BF16", ...),
 *  or NULL for an unknown code. */
const char *md_st_dtype_name(int dtype);
/** Bytes per element of a dtype, 0 for an unknown code. */
size_t md_st_dtype_size(int dtype);
/** Dtype code of a safetensors dtype name, or -1 when unknown. */
int md_st_dtype_from_name(const char *name);

/** Map a file read-only and validate it completely. The mapping lives until
 *  md_st_close(); the file must not be truncated meanwhile (SIGBUS).
 *  @param path  the file (a non-regular file, such as a pipe, is read into
 *               memory instead)
 *  @param f     filled on success; zeroed on error (nothing to free)
 *  @return 0, MD_ERR_IO (cannot open / map / read), MD_ERR_FORMAT (invalid
 *          file, message names the file and the tensor or field) or
 *          MD_ERR_NOMEM. */
int md_st_open(const char *path, md_st_file *f);

/** Parse and validate a whole safetensors file held in memory.
 *  @param buf   size bytes; must outlive f (tensor data points into it)
 *  @param size  length of buf
 *  @param f     filled on success; zeroed on error
 *  @return 0, MD_ERR_FORMAT or MD_ERR_NOMEM. Messages name "<memory>" as
 *          the file. */
int md_st_parse(const void *buf, size_t size, md_st_file *f);

/** Free everything of f and unmap the file; f is zeroed. NULL and a zeroed
 *  struct are accepted. */
void md_st_close(md_st_file *f);

/** Tensor by name (binary search), or NULL when absent. */
const md_st_tensor *md_st_find(const md_st_file *f, const char *name);

/** Metadata value of a key, or NULL when absent. */
const char *md_st_meta(const md_st_file *f, const char *key);

/** Element count: product of the shape (1 for a scalar). The reader has
 *  checked that it does not overflow. */
int64_t md_st_numel(const md_st_tensor *t);

/** Convert a floating tensor (F32, F16, BF16, F64) to float32.
 *  @param t    the tensor
 *  @param dst  md_st_numel(t) floats
 *  @return 0, or MD_ERR_ARG naming the tensor when its dtype is not floating */
int md_st_to_f32(const md_st_tensor *t, float *dst);

/** Convert a floating tensor (F32, F16, BF16, F64) to float64 (exact).
 *  @param t    the tensor
 *  @param dst  md_st_numel(t) doubles
 *  @return 0, or MD_ERR_ARG naming the tensor when its dtype is not floating */
int md_st_to_f64(const md_st_tensor *t, double *dst);

/** One tensor to write. */
typedef struct md_st_entry {
    const char *name;  /**< unique, valid UTF-8, not "__metadata__" */
    int dtype;         /**< dtype stored in the file */
    int ndim;          /**< 0..MD_ST_MAX_DIMS */
    int64_t shape[MD_ST_MAX_DIMS];
    const void *data;  /**< numel elements (may be NULL when numel is 0) */
    int src_is_f32;    /**< 1: data is float32, converted to dtype (F32, F16,
                            BF16 or F64; round to nearest even);
                            0: data is already in dtype, little endian */
} md_st_entry;

/** Write a safetensors file to an open stream: header padded with spaces to
 *  a multiple of 8, "__metadata__" first, tensor data laid out as the
 *  reference writer does (by decreasing element size, then by name, so that
 *  every tensor is aligned to its element size when the buffer is), no
 *  gaps. Everything is validated before the first byte is written.
 *  @param fp           output stream (not closed)
 *  @param label        name of the output for messages
 *  @param entries      [n] tensors
 *  @param meta_keys    [n_meta] unique keys (may be NULL when n_meta is 0)
 *  @param meta_values  [n_meta] string values
 *  @return 0, MD_ERR_ARG (invalid entry or metadata, named), MD_ERR_IO,
 *          MD_ERR_NOMEM */
int md_st_write_fp(FILE *fp, const char *label, const md_st_entry *entries,
                   int n, char *const *meta_keys, char *const *meta_values,
                   int n_meta);

/** Write a safetensors file atomically: validated first, then written under
 *  a temporary name through md_outfile and renamed to path at the end; on
 *  any error the temporary is removed and an existing path is untouched.
 *  Arguments and layout as md_st_write_fp.
 *  @return 0, MD_ERR_ARG, MD_ERR_IO or MD_ERR_NOMEM */
int md_st_write(const char *path, const md_st_entry *entries, int n,
                char *const *meta_keys, char *const *meta_values, int n_meta);

#endif /* MD_SAFETENSORS_H */
