/* mambadna.h: the public API of libmambadna.
 *
 * mambadna reads sequences (FASTA/FASTQ/SAM/BAM/CRAM through htslib),
 * tokenizes nucleotides and runs long-context Mamba models on them.
 *
 * Conventions
 *  - Functions that can fail return an int: 0 (or a count >= 0) on success,
 *    -1 at end of input where that applies, and a value < -1 on error. The
 *    message of the last error on the calling thread is md_last_error().
 *  - The library never exits and never writes to stdout; diagnostics go
 *    through md_log() to stderr.
 *  - Coordinates are 0-based half-open inside the library. Region strings
 *    ("chr:beg-end") are 1-based inclusive, as in samtools.
 *  - Tensor shapes use the letters B batch, L length, D model width,
 *    E inner width, N state size, R dt rank, V vocabulary.
 */
#ifndef MAMBADNA_H
#define MAMBADNA_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* htslib's record and header types, for the SAM/BAM/CRAM records the
 * library hands back and writes (include <htslib/sam.h> to look inside). */
struct bam1_t;
struct sam_hdr_t;

#define MAMBADNA_VERSION "0.1.0"

/* ------------------------------------------------------------------ */
/* Errors and logging                                                  */
/* ------------------------------------------------------------------ */

enum md_status {
    MD_OK = 0,
    MD_EOF = -1,
    MD_ERR = -2,        /**< generic error, see md_last_error() */
    MD_ERR_IO = -3,     /**< a file could not be opened, read or written */
    MD_ERR_FORMAT = -4, /**< malformed input */
    MD_ERR_NOMEM = -5,  /**< out of memory */
    MD_ERR_ARG = -6,    /**< invalid argument or option */
};

enum md_log_level { MD_LOG_ERROR = 0, MD_LOG_WARN, MD_LOG_INFO, MD_LOG_DEBUG };

/** Set the verbosity of md_log (default MD_LOG_WARN). */
void md_set_log_level(int level);
int md_log_level(void);
/** Log a message to stderr as "[mambadna LEVEL] ..." if level is enabled. */
void md_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Message of the last error on this thread ("" if none). */
const char *md_last_error(void);
/** Record an error message and return code (for use by library code). */
int md_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** htslib version string, for --version. */
const char *md_htslib_version(void);

/* ------------------------------------------------------------------ */
/* Tokenizer                                                           */
/* ------------------------------------------------------------------ */

/** Token ids shared with Caduceus and HyenaDNA character tokenizers. */
enum md_token {
    MD_TOK_CLS = 0, MD_TOK_SEP = 1, MD_TOK_BOS = 2, MD_TOK_MASK = 3,
    MD_TOK_PAD = 4, MD_TOK_RESERVED = 5, MD_TOK_UNK = 6,
    MD_TOK_A = 7, MD_TOK_C = 8, MD_TOK_G = 9, MD_TOK_T = 10, MD_TOK_N = 11,
    MD_VOCAB_SIZE = 16 /**< vocabulary padded to a multiple of 8 */
};

/** Identifier of this tokenizer, stored in model files. */
#define MD_TOKENIZER_ID "char-caduceus-v1"

/** Map len bases to token ids: ACGT in either case to their ids, every
 *  other byte (IUPAC codes, N, '-') to MD_TOK_N. ids[len]. */
void md_tokenize(const char *seq, int64_t len, uint8_t *ids);
/** Soft-mask: mask[i] = 1 where seq[i] is lowercase, else 0. */
void md_softmask(const char *seq, int64_t len, uint8_t *mask);
/** Count of MD_TOK_N in ids[len]. */
int64_t md_count_n(const uint8_t *ids, int64_t len);
/** Reverse complement a sequence of bases in place (case kept, IUPAC
 *  codes complemented, unknown bytes kept). */
void md_revcomp_seq(char *seq, int64_t len);
/** Reverse complement token ids in place: A<->T, C<->G, specials and N fixed. */
void md_revcomp_tokens(uint8_t *ids, int64_t len);
/** Complement of one token id. */
int md_complement_token(int id);
/** Printable name of a token id ("A", "[PAD]", ...). */
const char *md_token_name(int id);

/** What happens at the end of a sequence whose length is not covered by
 *  whole strides. */
enum md_last_window {
    MD_LAST_SHIFT = 0, /**< add one full window ending at the sequence end
                            (default: every base covered, all windows full) */
    MD_LAST_PARTIAL,   /**< add one shorter window covering the rest */
    MD_LAST_DROP,      /**< drop the rest */
    MD_LAST_PAD,       /**< as MD_LAST_PARTIAL; the caller pads the shorter
                            window to the window length with MD_TOK_PAD */
};

/** Iterator over fixed-size windows [beg, end) of a sequence of length len.
 *  A sequence shorter than the window gives one window of its own length
 *  (except with MD_LAST_DROP, which gives none). */
typedef struct md_window_iter {
    int64_t len, window, stride; /**< window >= 1, stride >= 1 */
    int last;                    /**< enum md_last_window */
    int64_t next;                /**< start of the next window */
    int done;
} md_window_iter;

int md_window_iter_init(md_window_iter *it, int64_t len, int64_t window,
                        int64_t stride, int last);
/** Next window: 0 and [*beg, *end) set, or MD_EOF. */
int md_window_next(md_window_iter *it, int64_t *beg, int64_t *end);

/* ------------------------------------------------------------------ */
/* Sequence input                                                      */
/* ------------------------------------------------------------------ */

enum md_format {
    MD_FMT_UNKNOWN = 0, MD_FMT_FASTA, MD_FMT_FASTQ, MD_FMT_SAM, MD_FMT_BAM,
    MD_FMT_CRAM
};

/** One sequence record. Buffers are owned by the record and reused across
 *  md_reader_next() calls; free with md_record_free(). */
typedef struct md_record {
    char *name;       /**< record or read name */
    char *comment;    /**< rest of the header line, "" if none */
    char *seq;        /**< bases as read (case kept), NUL-terminated, len bytes */
    int64_t len;
    uint16_t flag;    /**< SAM flag; 0 for FASTA/FASTQ */
    int64_t beg;      /**< 0-based start on the contig for region fetches, else 0 */
    size_t m_name, m_comment, m_seq; /**< capacities */
    struct bam1_t *bam; /**< SAM/BAM/CRAM read with md_reader_opt.keep_records:
                             the record as stored in the file (owned), else NULL */
} md_record;

void md_record_free(md_record *rec);

typedef struct md_reader_opt {
    int restore_orientation; /**< SAM/BAM/CRAM: reverse-complement reads with
                                  flag 0x10 back to read orientation */
    int primary_only;        /**< SAM/BAM/CRAM: skip secondary and
                                  supplementary records (flags 0x100, 0x800) */
    const char *reference;   /**< CRAM reference FASTA, or NULL */
    int threads;             /**< htslib decompression threads (0: none; not
                                  used for BGZF from a pipe, whose end-of-file
                                  marker is checked as the stream ends) */
    int keep_records;        /**< SAM/BAM/CRAM: also keep each record as stored
                                  in md_record.bam (to write copies of them) */
    int allow_no_eof;        /**< read BGZF (BAM, bgzip FASTA/FASTQ/SAM) and
                                  CRAM input that lacks its end-of-file marker
                                  (with a warning) instead of refusing it: such
                                  a file is usually truncated */
    int piece_names;         /**< md_seqsource: a FASTA record named as samtools
                                  faidx names a region ("chr:beg-end", 1-based
                                  inclusive) and holding exactly end-beg+1
                                  bases is that piece of chr: it comes back
                                  named chr, with beg on chr [1] */
} md_reader_opt;

void md_reader_opt_init(md_reader_opt *opt);

typedef struct md_reader md_reader;

/** Open a FASTA/FASTQ (plain, gzip, bgzip) or SAM/BAM/CRAM file; "-" is
 *  stdin. The format is detected from the content. NULL on error. */
md_reader *md_reader_open(const char *path, const md_reader_opt *opt);
int md_reader_format(const md_reader *r);
/** Header of a SAM/BAM/CRAM input (owned by the reader), else NULL. */
const struct sam_hdr_t *md_reader_sam_header(const md_reader *r);
/** Read the next record: 0, MD_EOF, or < -1 on error. Empty records are
 *  returned with len 0. Line ends (LF or CRLF) and blank lines are skipped. */
int md_reader_next(md_reader *r, md_record *rec);
void md_reader_close(md_reader *r);

/** Random access to an indexed FASTA (.fai, and .gzi for bgzip). */
typedef struct md_faidx md_faidx;

/** Load the index of a FASTA; with build != 0 create a missing index
 *  (as samtools faidx does). NULL with a message saying how to index when
 *  the index is missing and build is 0, or the file cannot be indexed
 *  (plain gzip must be recompressed with bgzip). */
md_faidx *md_faidx_open(const char *fasta, int build);
int md_faidx_n_contigs(const md_faidx *fx);
const char *md_faidx_contig_name(const md_faidx *fx, int i);
/** Length of a contig, or < 0 with an error naming it when absent. */
int64_t md_faidx_contig_len(const md_faidx *fx, const char *name);
/** Fetch [beg, end) of a contig into rec (name = contig, beg set). */
int md_faidx_fetch(md_faidx *fx, const char *contig, int64_t beg, int64_t end,
                   md_record *rec);
void md_faidx_close(md_faidx *fx);
/** Create the .fai (and .gzi) index of a FASTA. */
int md_faidx_build(const char *fasta);

/** A genomic interval, 0-based half-open. */
typedef struct md_region {
    char *contig;
    int64_t beg, end; /**< end = INT64_MAX for "to the contig end" */
    char *name;       /**< BED name column or NULL */
    char strand;      /**< '+', '-' or '.' */
} md_region;

/** Parse "chr", "chr:beg", "chr:beg-end" (1-based inclusive, commas allowed,
 *  as htslib). */
int md_region_parse(const char *str, md_region *out);
/** Parse one BED line (0-based half-open; name and strand columns honoured).
 *  Returns 0, 1 for a line to skip (comment, track, browser, blank), or an
 *  error. */
int md_bed_parse_line(const char *line, md_region *out);
/** Read all regions of a BED file ("-" for stdin). *regions is malloc'ed. */
int md_bed_read(const char *path, md_region **regions, size_t *n);
/** Check a region against an index and clamp an open end to the contig
 *  length; an error names the missing contig or out-of-range coordinates. */
int md_region_check(const md_faidx *fx, md_region *reg);
void md_region_free(md_region *reg);
/** Free each of regs[n] and the array itself (as from md_bed_read). */
void md_regions_free(md_region *regs, size_t n);

/** A source of sequences: every record of a file in order, or the given
 *  regions of an indexed FASTA (regions on the '-' strand come back reverse
 *  complemented). */
typedef struct md_seqsource md_seqsource;

/** regions may be NULL (n_regions 0) to stream every record; the regions
 *  are checked against the index up front (clear error on a missing contig
 *  or out-of-range coordinates). The regions array must outlive the source. */
md_seqsource *md_seqsource_open(const char *path, md_region *regions,
                                size_t n_regions, const md_reader_opt *opt);
/** Next sequence into rec (rec->name the record or contig name, rec->beg
 *  its start); *region is the region it came from, or NULL when streaming.
 *  0, MD_EOF or < -1. */
int md_seqsource_next(md_seqsource *src, md_record *rec, const md_region **region);
/** Contig names and lengths when the input is an indexed FASTA (for bigWig
 *  headers); 0 and *n = 0 when no index is available. With piece_names, a
 *  piece "chr:beg-end" counts as contig chr of length end (pieces of one chr
 *  give it once, with the largest end). The names are owned by the source. */
int md_seqsource_contigs(md_seqsource *src, char ***names, int64_t **lengths, int *n);
/** Format of the input (MD_FMT_FASTA for region fetches). */
int md_seqsource_format(const md_seqsource *src);
/** Header of a SAM/BAM/CRAM input (owned by the source), else NULL. */
const struct sam_hdr_t *md_seqsource_sam_header(const md_seqsource *src);
/** Bases the source will give when known in advance: the total length of
 *  the regions, or of every contig of a FASTA streamed with an index beside
 *  it (for progress and ETA); -1 when unknown (reads, unindexed FASTA).
 *  Call it before the first md_seqsource_next. */
int64_t md_seqsource_total_bases(md_seqsource *src);
void md_seqsource_close(md_seqsource *src);

/* ------------------------------------------------------------------ */
/* Output files                                                        */
/* ------------------------------------------------------------------ */

/** An output written under a temporary name in the same directory and
 *  renamed to its final name by md_outfile_commit(). "-" writes to stdout
 *  directly. md_outfile_abort() (and md_outfile_cleanup_all(), which is
 *  async-signal-safe, for SIGINT/SIGTERM handlers) remove the temporary. */
typedef struct md_outfile md_outfile;

md_outfile *md_outfile_open(const char *path);
/** As md_outfile_open, but the bytes are written as they are, also under a
 *  ".gz" name: for writers that compress themselves (htslib's VCF/BCF). */
md_outfile *md_outfile_open_raw(const char *path);
FILE *md_outfile_fp(md_outfile *out);
/** Temporary path being written ("-" for stdout). */
const char *md_outfile_tmp_path(const md_outfile *out);
/** Flush, close, rename: 0 or error (then the temporary is removed). */
int md_outfile_commit(md_outfile *out);
void md_outfile_abort(md_outfile *out);
/** Remove every temporary file still open (async-signal-safe). */
void md_outfile_cleanup_all(void);
/** bedGraph: consecutive equal values on adjacent intervals are merged. */
typedef struct md_bedgraph md_bedgraph;
md_bedgraph *md_bedgraph_open(const char *path, const char *track_line);
int md_bedgraph_add(md_bedgraph *bg, const char *contig, int64_t beg,
                    int64_t end, float value);
int md_bedgraph_close(md_bedgraph *bg, int commit);
/** One interval of a bedGraph track; contig points into the parsed line. */
typedef struct md_bedgraph_interval {
    const char *contig;
    int64_t beg, end; /* 0-based half-open */
    float value;
} md_bedgraph_interval;
/** Parse one bedGraph line in place (its separators become NULs): chrom,
 *  start, end, value, separated by tabs (or, without any tab, by spaces),
 *  0 <= start < end, the value a float ("nan" and "inf" allowed) that reads
 *  back as the one md_bedgraph_add was given. Returns 0, 1 for a line to
 *  skip (track, browser, '#', blank), or MD_ERR_FORMAT. */
int md_bedgraph_parse_line(char *line, md_bedgraph_interval *out);

/** bigWig through libBigWig; contigs must be added in the order given. */
typedef struct md_bigwig md_bigwig;
md_bigwig *md_bigwig_open(const char *path, char *const *contigs,
                          const int64_t *lengths, int n_contigs);
int md_bigwig_add(md_bigwig *bw, const char *contig, int64_t beg, int64_t end,
                  float value);
int md_bigwig_close(md_bigwig *bw, int commit);

/** NPY (format 1.0, C order, little endian) written as a stream of rows of
 *  a fixed row shape; the row count is filled in at the end. */
enum md_dtype { MD_F32 = 0, MD_F16 = 1, MD_BF16 = 2, MD_F64 = 3, MD_I32 = 4,
                MD_I64 = 5, MD_U8 = 6 };
typedef struct md_npy md_npy;
/** row_shape[row_ndim] is the shape of one row (row_ndim 0: scalars). */
md_npy *md_npy_open(const char *path, int dtype, const int64_t *row_shape,
                    int row_ndim);
/** Append n rows given as float32 (converted to the file's dtype). */
int md_npy_append_f32(md_npy *npy, const float *rows, int64_t n);
/** Append n rows given as raw bytes of the file's dtype. */
int md_npy_append_raw(md_npy *npy, const void *rows, int64_t n);
int md_npy_close(md_npy *npy, int commit);

/** BAM copy of a SAM/BAM/CRAM input with a float tag on chosen records,
 *  written through htslib under a temporary name (md_outfile; "-" is
 *  stdout) and renamed by a committing close. */
typedef struct md_bamout md_bamout;
/** 0 when tag is a valid SAM tag name ([A-Za-z][A-Za-z0-9]), else MD_ERR_ARG
 *  with a message. */
int md_bam_tag_check(const char *tag);
/** hdr: the input's header (md_seqsource_sam_header), copied; command_line,
 *  when not NULL, goes into an @PG line added to it. NULL on error. */
md_bamout *md_bamout_open(const char *path, const struct sam_hdr_t *hdr, const char *tag,
                          const char *command_line);
/** Write a copy of rec with the tag set to *score, or without the tag when
 *  score is NULL (a tag of that name already on the record is dropped in
 *  both cases). */
int md_bamout_write(md_bamout *w, const struct bam1_t *rec, const float *score);
/** Finish the file and rename it (commit), or remove it. */
int md_bamout_close(md_bamout *w, int commit);

/* ------------------------------------------------------------------ */
/* Models                                                              */
/* ------------------------------------------------------------------ */

enum md_arch {
    MD_ARCH_MAMBA = 0,       /**< causal Mamba LM (mamba_ssm MambaLMHeadModel) */
    MD_ARCH_CADUCEUS_PH = 1, /**< bidirectional BiMamba; RC by post-hoc averaging */
    MD_ARCH_CADUCEUS_PS = 2, /**< bidirectional BiMamba, RC-equivariant by
                                  parameter sharing; hidden width 2*d_model */
};
enum md_combine { MD_COMBINE_ADD = 0, MD_COMBINE_MUL = 1 };
enum md_pool { MD_POOL_MEAN = 0, MD_POOL_MAX, MD_POOL_FIRST, MD_POOL_LAST };

/** Architecture and sizes of a model. */
typedef struct md_config {
    int arch;             /**< enum md_arch */
    int d_model;          /**< D */
    int n_layer;
    int vocab_size;       /**< V, 16 for the character tokenizer */
    int d_state;          /**< N [16] */
    int d_conv;           /**< K [4] */
    int expand;           /**< E = expand * D [2] */
    int dt_rank;          /**< R [ceil(D / 16)] */
    int combine;          /**< enum md_combine, bidirectional models [add] */
    int rms_norm;         /**< 1 RMSNorm, 0 LayerNorm [1] */
    int residual_in_fp32; /**< kept for the record; the CPU path is fp32 */
    int fused_add_norm;   /**< PS models: Caduceus's fused add+norm convention,
                               under which the two channel halves swap at
                               every block [1] */
    float norm_eps;       /**< [1e-5] */
    int n_classes;        /**< classification head outputs, 0 for none */
    int pool;             /**< enum md_pool for the classification head [mean] */
    int64_t window;       /**< default scoring window (0: none recorded) */
    int64_t stride;       /**< default scoring stride */
} md_config;

/** Defaults for an architecture and width (d_state 16, d_conv 4, expand 2,
 *  dt_rank ceil(d_model/16), RMSNorm, eps 1e-5, vocabulary 16). */
void md_config_init(md_config *cfg, int arch, int d_model, int n_layer);
/** Check sizes and fields: 0 or an error naming the field. */
int md_config_check(const md_config *cfg);
const char *md_arch_name(int arch);
/** "mamba", "caduceus-ph", "caduceus-ps" -> enum md_arch, or -1. */
int md_arch_parse(const char *name);
/** Width of the hidden states a model outputs: D, or 2D for PS models. */
int md_config_hidden_width(const md_config *cfg);

typedef struct md_model md_model;

/** A new model initialised as mamba_ssm does (S4D-real A_log, log-uniform dt
 *  in [1e-3, 1e-1] through the inverse-softplus bias, D = 1, rescaled
 *  out_proj), reproducibly from seed. NULL on error. */
md_model *md_model_init(const md_config *cfg, uint64_t seed);
/** Load a native model file (safetensors with mambadna metadata) or a
 *  Hugging Face style directory (config.json + model.safetensors) of a
 *  Caduceus or mamba_ssm checkpoint. NULL with a message on error. */
md_model *md_model_load(const char *path);
/** Write the native format: dtype MD_F32, MD_BF16 or MD_F16. */
int md_model_save(const md_model *m, const char *path, int dtype);
void md_model_free(md_model *m);
const md_config *md_model_config(const md_model *m);
int64_t md_model_n_params(const md_model *m);
/** Metadata (string key -> string value) carried by the model file. */
const char *md_model_meta(const md_model *m, const char *key);
int md_model_set_meta(md_model *m, const char *key, const char *value);
/** Record the default scoring window and stride (stride 0: window / 4). */
int md_model_set_window(md_model *m, int64_t window, int64_t stride);
int md_model_n_meta(const md_model *m);
const char *md_model_meta_key(const md_model *m, int i);
/** Parameter tensors, in file order: name, shape, element count. */
int md_model_n_tensors(const md_model *m);
const char *md_model_tensor_name(const md_model *m, int i, int *ndim, int64_t shape[4]);

/** Seconds spent per kind of work, accumulated by forward passes that are
 *  given one (for benchmarks). */
typedef struct md_profile {
    double gemm, scan, conv, other;
} md_profile;

/** Arithmetic on a GPU, a setting of each call (md_forward_opt.precision,
 *  md_train_opt.precision):
 *  FP32 the CPU's results within float32 rounding;
 *  TF32 TF32 tensor-core matrix products (~1e-3);
 *  BF16 bf16 tensor-core matrix products with float32 accumulation (~1e-2);
 *       inference also keeps bf16 activations between kernels, training
 *       keeps float32 weights, gradients and moments. */
enum md_precision { MD_PRECISION_FP32 = 0, MD_PRECISION_TF32 = 1, MD_PRECISION_BF16 = 2 };
/** "fp32", "tf32", "bf16" -> enum md_precision, or MD_ERR_ARG (reported)
 *  for another name. */
int md_precision_parse(const char *name);

/** Options of a forward pass. */
typedef struct md_forward_opt {
    int threads;     /**< OpenMP / OpenBLAS threads, 0 for the default */
    int64_t chunk;   /**< process sequences in chunks of this many positions
                          (bounded memory); 0: whole sequences */
    int rc_avg;      /**< PH and causal models: average with the output on the
                          reverse complement, flipped back (post-hoc conjoining) */
    md_profile *profile; /**< accumulate time per kind of work, or NULL */
    int device;      /**< where the forward runs: 0 the CPU (the default of
                          md_forward_opt_init), k >= 1 CUDA device k-1 (see
                          md_device_parse). The GPU gives the CPU's results
                          within float32 rounding; it uploads the parameters
                          at its first call and keeps that copy with the
                          model (uploaded again when the parameters change) */
    int precision;   /**< arithmetic on a GPU (enum md_precision, see
                          md_precision_parse) [MD_PRECISION_FP32]; no effect
                          on the CPU */
} md_forward_opt;

void md_forward_opt_init(md_forward_opt *opt);

/** Number of CUDA devices this process can use: 0 in a build without CUDA
 *  or on a machine without an NVIDIA GPU. */
int md_device_count(void);
/** Parse a device name into md_forward_opt.device: "cpu" -> 0, "cuda" ->
 *  1 (device 0), "cuda:N" -> N + 1. 0, or an error that says why (no CUDA
 *  in this build, no GPU, N out of range, unknown name). */
int md_device_parse(const char *name, int *device);

/** Hidden states after the final norm. tokens[B*L] (row-major B x L);
 *  out[B*L*H] with H = md_config_hidden_width(). For PS models the second
 *  half of each row holds the reverse-complement stream in the reference
 *  layout (flipped over length and channels). */
int md_model_embed(md_model *m, const uint8_t *tokens, int B, int64_t L,
                   const md_forward_opt *opt, float *out);
/** Language-model logits out[B*L*V] (head tied to the embedding). */
int md_model_logits(md_model *m, const uint8_t *tokens, int B, int64_t L,
                    const md_forward_opt *opt, float *out);
/** Classification: class probabilities out[B*C] (softmax), pooling over the
 *  positions whose token is not [PAD]. Needs n_classes > 0. */
int md_model_classify(md_model *m, const uint8_t *tokens, int B, int64_t L,
                      const md_forward_opt *opt, float *out);

/* ------------------------------------------------------------------ */
/* Losses and gradients                                                */
/* ------------------------------------------------------------------ */

enum md_objective {
    MD_OBJ_NEXT_TOKEN = 0, /**< causal LM: targets are the next tokens */
    MD_OBJ_MLM,            /**< masked LM: targets at masked positions */
    MD_OBJ_CLASSIFY,       /**< sequence classification (pooled head) */
};

/** One training batch of B rows of L tokens. */
typedef struct md_batch {
    int B;
    int64_t L;
    const uint8_t *tokens;      /**< (B, L) model inputs */
    const uint8_t *targets;     /**< (B, L) LM targets; [PAD] is not scored */
    const int32_t *labels;      /**< (B) classes, MD_OBJ_CLASSIFY */
    const float *class_weights; /**< (n_classes) loss weights, or NULL */
} md_batch;

/** Mean loss of a batch; with grads != NULL also add its gradient with
 *  respect to every parameter into grads[md_model_n_params()] (the layout of
 *  the model's parameter buffer). Activations are recomputed layer by layer
 *  in the backward, so memory grows with n_layer x B x L x d_model. */
int md_model_loss_grad(md_model *m, int objective, const md_batch *batch, int threads,
                       float *grads, double *loss);

/* ------------------------------------------------------------------ */
/* Labelled data and metrics                                           */
/* ------------------------------------------------------------------ */

/** Labelled sequences for fine-tuning and evaluation. */
typedef struct md_labelled {
    int64_t n;        /**< number of sequences */
    char **names;     /**< [n] record names (or "row<i>" for CSV/TSV) */
    char **seqs;      /**< [n] bases, NUL-terminated */
    int64_t *lens;    /**< [n] */
    int32_t *labels;  /**< [n] class ids 0..n_classes-1 */
    int n_classes;
} md_labelled;

/** Read labelled sequences from one file: CSV or TSV "sequence,label" (the
 *  GUE layout; header optional, detected) or FASTA with "label=K" in the
 *  header line. */
int md_labelled_read(const char *path, md_labelled *out);
/** One FASTA per class: positives get label 1, negatives label 0. */
int md_labelled_read_classes(const char *pos_fasta, const char *neg_fasta, md_labelled *out);
/** BED with a label column (the 5th column, score, holds the class id) and
 *  the indexed genome FASTA the intervals refer to; '-' strand intervals are
 *  reverse complemented. */
int md_labelled_read_bed(const char *bed, const char *genome, md_labelled *out);
void md_labelled_free(md_labelled *d);

/** Binary classification metrics at a probability threshold. */
typedef struct md_metrics {
    int64_t n, tp, fp, tn, fn;
    double accuracy, precision, recall, f1, mcc, auroc, auprc;
} md_metrics;

/** Metrics of scores p_pos[n] (probability of class 1) against labels[n]
 *  (0 or 1); AUROC with ties counted half, AUPRC as average precision. */
int md_metrics_binary(const float *p_pos, const int32_t *labels, int64_t n, double threshold,
                      md_metrics *out);
/*  (Class 1 is predicted where p_pos >= threshold; precision, recall, F1
 *  and MCC are 0 where a denominator is 0; AUROC is NaN when one class is
 *  absent, AUPRC NaN when there are no positives; n >= 1, no NaN scores.) */

/** Base composition of a sequence: the baselines a promoter model must beat. */
typedef struct md_composition {
    int64_t acgt;  /**< bases that are A, C, G or T (either case) */
    double gc;     /**< (C + G) / acgt, 0 when acgt is 0 */
    double cpg_oe; /**< CpG observed/expected: CG dinucleotides x acgt / (C x G),
                        0 when C or G is absent */
} md_composition;

/** Composition of seq[0, len); bases other than ACGT (N, IUPAC codes) count
 *  nowhere, and a CG pair across such a base does not count. */
void md_seq_composition(const char *seq, int64_t len, md_composition *out);

/** Class probabilities of every sequence of d, probs[d->n * C] (C the model's
 *  n_classes) in the order of d. Sequences run in batches of up to batch,
 *  longest first: equal lengths together, and where a batch has to mix
 *  lengths the shorter ones are padded with [PAD] at the end (the pooling
 *  skips [PAD], but the backward direction of bidirectional models sees it:
 *  batch 1 runs every sequence alone). progress, when not NULL, is called
 *  after each batch with the count done. Needs n_classes > 0. */
int md_eval_classify(md_model *m, const md_labelled *d, int batch,
                     const md_forward_opt *opt, float *probs,
                     void (*progress)(int64_t done, int64_t n, void *arg), void *arg);

/* ------------------------------------------------------------------ */
/* Training                                                            */
/* ------------------------------------------------------------------ */

/** Genome sequences held in memory as tokens (1 byte per base), for random
 *  windows. */
typedef struct md_genome md_genome;

/** Load every record of the FASTA files paths[n] (plain or gzip). */
md_genome *md_genome_load(const char *const *paths, int n);
void md_genome_free(md_genome *g);
int md_genome_n_contigs(const md_genome *g);
/** Total bases. */
int64_t md_genome_bases(const md_genome *g);

/** Early-stopping metrics of fine-tuning. */
enum md_train_metric { MD_METRIC_MCC = 0, MD_METRIC_AUROC, MD_METRIC_LOSS, MD_METRIC_ACCURACY };
/** "mcc", "auroc", "loss", "accuracy" -> enum md_train_metric, or -1. */
int md_train_metric_parse(const char *name);
const char *md_train_metric_name(int metric);

/** Options of pretraining and fine-tuning. */
typedef struct md_train_opt {
    int objective;        /**< enum md_objective [MLM; classify for fine-tuning] */
    int64_t steps;        /**< optimizer steps (pretraining) [1000]; fine-tuning:
                               a cap on the steps, 0 for none [0] */
    int epochs;           /**< fine-tuning passes over the training set [10] */
    int batch;            /**< sequences per step [8; 32] */
    int64_t length;       /**< L: window length (pretraining) [1024]; fine-tuning:
                               longer sequences are cut to their central L
                               bases, 0 keeps them whole [0] */
    double lr;            /**< peak learning rate [1e-3] */
    double min_lr_ratio;  /**< cosine floor as a fraction of lr [0.1] */
    int64_t warmup;       /**< linear warm-up steps, -1: 10 % of the steps [-1] */
    double weight_decay;  /**< AdamW decoupled decay [0.1] */
    double beta1, beta2, eps; /**< [0.9, 0.95, 1e-8] */
    double clip;          /**< global gradient-norm clip, 0 for none [1.0] */
    uint64_t seed;        /**< data order, masking, augmentation [1] */
    int threads;          /**< OpenMP / OpenBLAS threads, 0 for the default */
    int device;           /**< where the steps run: 0 the CPU, k >= 1 CUDA
                               device k-1 (md_device_parse) [0]. The GPU runs
                               float32 like the CPU and agrees with it within
                               rounding, but is not bit-reproducible (sums
                               with atomics): bit-exact resume is a CPU
                               property */
    int precision;        /**< arithmetic on a GPU (enum md_precision)
                               [MD_PRECISION_FP32] */
    double mask_prob;     /**< MLM: fraction of bases chosen [0.15] */
    int rc_aug;           /**< reverse-complement inputs with p = 0.5 [0] */
    double max_n_frac;    /**< pretraining: skip windows with more N [0.1] */
    int64_t len_start;    /**< sequence-length warm-up: first length, 0 for none;
                               the length grows linearly (multiples of 8) to L */
    int64_t len_steps;    /**< ... over this many steps */
    int64_t ckpt_every;   /**< checkpoint every N steps, 0: pretraining at the
                               end only, fine-tuning after each evaluation [0] */
    int64_t stop_after;   /**< stop with a checkpoint once this many steps are
                               done (a run in slices: --resume goes on), 0 for
                               none; not part of the schedule [0] */
    int64_t eval_every;   /**< fine-tuning: evaluate on dev every N steps, 0:
                               after each epoch [0] */
    int64_t eval_max;     /**< fine-tuning: evaluate on the first N dev
                               sequences only, 0 for all [0] */
    int eval_batch;       /**< sequences per evaluation batch [64] */
    int metric;           /**< enum md_train_metric for early stopping and the
                               best checkpoint [mcc] */
    int patience;         /**< stop after this many evaluations without
                               improvement, 0 never [3] */
    const float *class_weights; /**< [n_class_weights] classification loss
                               weights, or NULL */
    int n_class_weights;
    int resume;           /**< continue from OUT's checkpoint */
    int progress;         /**< a progress line on stderr (set it when stderr is
                               a terminal) */
    const char *log_path; /**< JSON lines, one object per step and evaluation,
                               or NULL */
    const char *command;  /**< recorded as mambadna.command, or NULL */
    const char *const *data_files; /**< [n_data_files] recorded with their
                               sha256 as mambadna.data */
    int n_data_files;
} md_train_opt;

/** Defaults for an objective (MD_OBJ_CLASSIFY gives fine-tuning defaults). */
void md_train_opt_init(md_train_opt *o, int objective);
/** 0 or MD_ERR_ARG naming the bad option. */
int md_train_opt_check(const md_train_opt *o);

/** Totals of a training run. */
typedef struct md_train_stats {
    int64_t steps;        /**< optimizer steps done in total (resumed runs count
                               from the checkpoint) */
    int64_t tokens;       /**< input tokens of this process's steps */
    double seconds;       /**< wall time of this process's steps */
    double tokens_per_s;
    double first_loss;    /**< mean loss of the first steps run (up to 10) */
    double last_loss;     /**< mean loss of the last steps run (up to 10) */
    int epochs;           /**< fine-tuning: epochs begun */
    int evals;            /**< fine-tuning: evaluations */
    int64_t best_step;    /**< fine-tuning: step of the kept model */
    double best_score;    /**< its value of the chosen metric */
    md_metrics best_dev;  /**< its binary dev metrics (2 classes) */
    double best_dev_loss; /**< its dev loss */
    double best_dev_accuracy;
    int stopped_early;
    int already_done;     /**< resume found a finished run */
    int stopped_at;       /**< stopped by stop_after, to be resumed */
} md_train_stats;

/** Pretrain m (MLM or next-token) on random windows of g. Writes the model
 *  to out_path, the training state to out_path + ".state.safetensors" and
 *  the completion marker out_path + ".done" at every checkpoint and at the
 *  end. With o->resume, m is ignored (may be NULL) and everything is loaded
 *  from out_path's checkpoint; the run continues bit-exactly. */
int md_pretrain(md_model *m, md_genome *g, const md_train_opt *o, const char *out_path,
                md_train_stats *stats);

/** Fine-tune m (which has a classification head with n_classes covering the
 *  labels) on train, choosing the model on dev by o->metric; the best model
 *  is written to out_path, the training state (with the current weights) and
 *  the marker beside it as md_pretrain. With o->resume, m is ignored. */
int md_finetune(md_model *m, const md_labelled *train, const md_labelled *dev,
                const md_train_opt *o, const char *out_path, md_train_stats *stats);

/** A copy of m with a classification head of n_classes (initialised as
 *  md_model_init does from seed, the backbone kept); m's own head is
 *  replaced when its class count differs. NULL on error. */
md_model *md_model_with_head(const md_model *m, int n_classes, uint64_t seed);

/** sha256 of a file as 64 lowercase hex digits into hex[65]. */
int md_sha256_file(const char *path, char hex[65]);

/* ------------------------------------------------------------------ */
/* Embedding sequences                                                 */
/* ------------------------------------------------------------------ */

enum md_embed_pool { MD_EMBED_POOL_NONE = 0, MD_EMBED_POOL_MEAN, MD_EMBED_POOL_BIN };

typedef struct md_embed_opt {
    md_forward_opt fwd; /**< threads, chunk, rc_avg */
    int pool;           /**< enum md_embed_pool [none] */
    int64_t bin;        /**< bases per row with MD_EMBED_POOL_BIN */
    int64_t window;     /**< cut sequences into windows (0: whole sequences) */
    int64_t stride;     /**< window stride [window] */
    int last;           /**< enum md_last_window: the rest that whole strides
                             leave over [MD_LAST_PARTIAL: every base once] */
    int batch;          /**< windows of equal length run together, across
                             sequences (reads of one length share batches) [8] */
    int dtype;          /**< NPY dtype: MD_F32 or MD_F16 */
    int progress;       /**< a progress line on stderr (set it when stderr is a
                             terminal) [0] */
} md_embed_opt;

void md_embed_opt_init(md_embed_opt *opt);
int md_embed_opt_check(const md_embed_opt *opt);

/** Totals of an embedding run. */
typedef struct md_embed_stats {
    int64_t sequences, windows, bases, rows;
    double seconds;     /**< wall time of the run */
} md_embed_stats;

/** Embed every sequence of src: rows of hidden states (after the final norm)
 *  to an NPY file (rows x H) and one sidecar TSV line per block of rows
 *  (first_row, n_rows, name, start, end, strand). Both files are written
 *  atomically. A reader thread reads and tokenizes ahead of the forward
 *  passes; rows come out in input order. Empty sequences give no rows. */
int md_embed_run(md_model *m, md_seqsource *src, const md_embed_opt *opt,
                 const char *npy_path, const char *tsv_path, md_embed_stats *stats);

/* ------------------------------------------------------------------ */
/* Scoring genomes                                                     */
/* ------------------------------------------------------------------ */

enum md_strand_mode { MD_STRANDS_BOTH = 0, MD_STRAND_PLUS, MD_STRAND_MINUS };
enum md_rc_combine { MD_RC_AVG = 0, MD_RC_MAX, MD_RC_NONE };

typedef struct md_score_opt {
    md_forward_opt fwd;  /**< threads */
    int64_t window;      /**< window length (0: the model's recorded window) */
    int64_t stride;      /**< window stride (0: the model's, else window / 4) */
    int strands;         /**< enum md_strand_mode [both] */
    int rc;              /**< enum md_rc_combine: strand scores -> one score [avg] */
    int batch;           /**< windows per forward pass [64] */
    double max_n;        /**< skip windows with a larger N fraction [0.5] */
    int positive_class;  /**< class whose probability is the score [1] */
    int unscored_flags;  /**< reads with any of these SAM flags are handed to
                              the sink without windows (e.g. 0x900 to pass
                              secondary and supplementary records through to a
                              BAM copy unscored) [0] */
    int progress;        /**< a progress line on stderr (set it when stderr is
                              a terminal) [0] */
} md_score_opt;

void md_score_opt_init(md_score_opt *opt);
/** Check options against a model and fill window/stride defaults. */
int md_score_opt_resolve(md_score_opt *opt, const md_model *m);

/** Score of one window. Strand scores are the positive-class probability of
 *  the window as read (plus) and of its reverse complement (minus); for
 *  RC-equivariant (PS) models both are the same. score combines them. */
typedef struct md_window_score {
    int64_t beg, end;    /**< on the sequence, 0-based half-open */
    float plus, minus, score;
} md_window_score;

/** One scored sequence: its windows in order (skipped N-rich windows are
 *  absent). */
typedef struct md_scored_seq {
    const char *name;         /**< record or contig name */
    int64_t beg, len;         /**< offset on the contig (regions) and length */
    uint16_t flag;            /**< SAM flag of reads, else 0 */
    const md_window_score *w; /**< [n] */
    int64_t n;                /**< 0: no score (empty, all N-rich, or a read
                                   with an unscored flag) */
    const struct bam1_t *bam; /**< the input record when the source keeps them
                                   (md_reader_opt.keep_records), else NULL */
} md_scored_seq;

/** Receives every scored sequence, in input order. */
typedef int (*md_score_sink)(void *ctx, const md_scored_seq *seq);

typedef struct md_score_stats {
    int64_t sequences, windows, skipped, bases; /**< records with an unscored
                              flag are not counted */
    double seconds;      /**< wall time of the run */
} md_score_stats;

/** Slide windows over every sequence of src, batch them across sequences,
 *  classify both strands and hand each sequence's windows to sink, in input
 *  order. A reader thread reads and tokenizes ahead of the forward passes;
 *  the results do not depend on it nor on the thread count. The sink runs on
 *  the calling thread. */
int md_score_run(md_model *m, md_seqsource *src, const md_score_opt *opt, md_score_sink sink,
                 void *ctx, md_score_stats *stats);

/** Per-base track of one sequence's windows: each base gets the mean score
 *  of the windows covering it; bases no window covers are left out. Calls
 *  emit(ctx, beg, end, value) on runs of equal value, in order. */
int md_track_from_windows(const md_window_score *w, int64_t n,
                          int (*emit)(void *ctx, int64_t beg, int64_t end, float value),
                          void *ctx);

/** A called region: overlapping or adjacent windows scoring >= threshold. */
typedef struct md_call {
    int64_t beg, end;
    float max_score;
    char strand;         /**< strand of the higher-scoring window at the maximum */
} md_call;

/** Merge windows into calls; *calls is malloc'ed. */
int md_calls_from_windows(const md_window_score *w, int64_t n, double threshold, int equivariant,
                          md_call **calls, int64_t *n_calls);

/* ------------------------------------------------------------------ */
/* Attributions                                                        */
/* ------------------------------------------------------------------ */

enum md_explain_method {
    MD_EXPLAIN_ISM = 0, /**< in-silico saturation mutagenesis */
    MD_EXPLAIN_GRAD,    /**< gradient with respect to the one-hot input */
};

typedef struct md_explain_opt {
    md_score_opt score;  /**< windows, strands, batch, N rule, class, threads:
                              the sequence's score is its best window as
                              md_score_run scores it */
    int method;          /**< enum md_explain_method [ism] */
} md_explain_opt;

void md_explain_opt_init(md_explain_opt *opt);
/** Check the method and resolve the scoring options against the model. */
int md_explain_opt_resolve(md_explain_opt *opt, const md_model *m);

typedef struct md_explain_stats {
    int64_t sequences, bases;
    int64_t windows;     /**< windows run through the model (mutants included;
                              gradients: one per strand row) */
    double seconds;
} md_explain_stats;

/** Attributions of one sequence of tokens ids[len] to values[len * 4]
 *  (columns A, C, G, T) and its score S (the best window) to *score.
 *  ISM: values[i][c] = S(sequence with base c at i) - S, 0 at the reference
 *  base (all four columns are substitutions at an N). Gradient: values[i][c]
 *  = dS/dx[i][c] - dS/dx[i][ref], x the one-hot input, taken through the
 *  best window (0 outside it): the first-order estimate of the ISM value.
 *  A sequence whose every window is N-rich has no score: *score and every
 *  value are NaN. stats (may be NULL) accumulates windows. */
int md_explain_seq(md_model *m, const md_explain_opt *opt, const uint8_t *ids, int64_t len,
                   float *values, float *score, md_explain_stats *stats);

/** One explained sequence, as handed to the sink. */
typedef struct md_attribution {
    const char *name;     /**< record or contig name */
    int64_t beg, len;     /**< start on the contig (regions, else 0) and length */
    char strand;          /**< '-' for regions on the minus strand (the sequence
                               and its values are reverse complemented), else '+' */
    const uint8_t *ids;   /**< [len] tokens of the sequence */
    const float *values;  /**< (len, 4) as md_explain_seq */
    float score;          /**< the sequence's score S */
} md_attribution;

typedef int (*md_explain_sink)(void *ctx, const md_attribution *a);

/** Explain every sequence of src in input order (a reader thread reads and
 *  tokenizes ahead). */
int md_explain_run(md_model *m, md_seqsource *src, const md_explain_opt *opt,
                   md_explain_sink sink, void *ctx, md_explain_stats *stats);

/* ------------------------------------------------------------------ */
/* Variant effects                                                     */
/* ------------------------------------------------------------------ */

/** Why a VCF record is written without MD_* values. */
enum md_variant_skip {
    MD_VSKIP_REF_MISMATCH = 0, /**< REF differs from the reference genome */
    MD_VSKIP_NO_ALT,           /**< ALT is '.' */
    MD_VSKIP_SYMBOLIC,         /**< only symbolic (<DEL>), breakend or non-base ALTs,
                                    or a REF that is not bases */
    MD_VSKIP_STAR,             /**< only '*' ALTs */
    MD_VSKIP_CONTIG,           /**< the contig is not in the reference */
    MD_VSKIP_CONTIG_END,       /**< no window fits between the contig ends */
    MD_VSKIP_TOO_LONG,         /**< REF longer than the window */
    MD_VSKIP_N_RICH,           /**< every window is N-rich */
    MD_VSKIP_MANY_ALTS,        /**< more than MD_VARIANTS_MAX_ALT ALTs */
    MD_VSKIP_KINDS
};
#define MD_VARIANTS_MAX_ALT 64

/** "REF does not match the reference", ... */
const char *md_variant_skip_name(int reason);

typedef struct md_variants_opt {
    md_score_opt score;   /**< window, stride, strands, batch, N rule, class,
                               device, threads, progress: as md_score_run */
    const char *command;  /**< written as a ##mambadna_command header line, or NULL */
} md_variants_opt;

void md_variants_opt_init(md_variants_opt *opt);
/** Resolve the scoring options against the model. */
int md_variants_opt_resolve(md_variants_opt *opt, const md_model *m);

typedef struct md_variants_stats {
    int64_t records;     /**< records read (inside the regions, when given) */
    int64_t outside;     /**< records outside the regions, not written */
    int64_t annotated;   /**< records with MD_* values */
    int64_t alleles;     /**< ALT alleles scored */
    int64_t windows;     /**< windows run through the model */
    int64_t skipped[MD_VSKIP_KINDS]; /**< records written unannotated, by reason */
    double seconds;
} md_variants_stats;

/** Score the variants of a VCF/BCF (in_path, "-" for stdin) against an
 *  indexed reference FASTA and write every record, in order, to out_path
 *  ("-" for stdout; .bcf BCF, .gz/.bgz bgzipped VCF, else VCF), written
 *  under a temporary name and renamed at the end. Records whose alleles can
 *  be scored get INFO MD_REF (Number=1), MD_ALT and MD_DELTA (Number=A,
 *  missing for '*' and symbolic ALTs); the others are written without them
 *  and a warning names each (the first 10 of each kind). VCF contig names
 *  are matched to the reference as they are, else with "chr" removed or
 *  added. With regions (n_regions > 0), only records overlapping one are
 *  read and written. The window rule is described in variants.c and in the
 *  command's documentation. */
int md_variants_run(md_model *m, const char *in_path, const char *reference,
                    const md_region *regions, size_t n_regions, const char *out_path,
                    const md_variants_opt *opt, md_variants_stats *stats);

#ifdef __cplusplus
}
#endif
#endif /* MAMBADNA_H */
