/* seqsource.c: one loop over either all records of a file or a list of
 * regions of an indexed FASTA; FASTA records that are pieces of a
 * chromosome ("chr:beg-end", as samtools faidx writes them) come back with
 * coordinates on the chromosome. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mambadna.h"

struct md_seqsource {
    char *path;
    md_reader *reader;  /* streaming mode */
    md_faidx *fx;       /* region mode, or for contig lengths */
    md_region *regions; /* [n_regions], not owned */
    size_t n_regions, next_region;
    int piece_names;    /* md_reader_opt.piece_names */
    char **contig_names; /* [n_contig_names] owned, from md_seqsource_contigs */
    int n_contig_names;
};

/* Whether name is "chr:beg-end" (1-based inclusive, digits only) for a piece
 * of len bases: then *chr_len is the length of chr before the colon and *beg
 * the 0-based start. */
static int piece_of(const char *name, int64_t len, size_t *chr_len, int64_t *beg)
{
    const char *colon = strrchr(name, ':');
    if (!colon || colon == name || !isdigit((unsigned char)colon[1])) return 0;
    char *dash, *end;
    errno = 0;
    long long b = strtoll(colon + 1, &dash, 10);
    if (errno || *dash != '-' || !isdigit((unsigned char)dash[1])) return 0;
    long long e = strtoll(dash + 1, &end, 10);
    if (errno || *end || b < 1 || e < b || e - b + 1 != len) return 0;
    *chr_len = (size_t)(colon - name);
    *beg = b - 1;
    return 1;
}

/* Name a record that is a piece of a chromosome after the chromosome, with
 * its start on it; piece_len is the length of the whole record. */
static void name_piece(md_record *rec, int64_t piece_len)
{
    size_t chr_len;
    int64_t beg;
    if (!piece_of(rec->name, piece_len, &chr_len, &beg)) return;
    rec->name[chr_len] = '\0';
    rec->beg += beg;
}

md_seqsource *md_seqsource_open(const char *path, md_region *regions,
                                size_t n_regions, const md_reader_opt *opt)
{
    md_seqsource *src = calloc(1, sizeof *src);
    if (!src || !(src->path = strdup(path))) {
        free(src);
        md_error(MD_ERR_NOMEM, "out of memory");
        return NULL;
    }
    src->regions = regions;
    src->n_regions = n_regions;
    md_reader_opt defaults;
    md_reader_opt_init(&defaults);
    src->piece_names = (opt ? opt : &defaults)->piece_names;
    if (n_regions > 0) {
        if (!(src->fx = md_faidx_open(path, 0))) goto fail;
        for (size_t i = 0; i < n_regions; i++)
            if (md_region_check(src->fx, &regions[i]) < 0) goto fail;
    } else if (!(src->reader = md_reader_open(path, opt))) {
        goto fail;
    }
    return src;
fail:
    md_seqsource_close(src);
    return NULL;
}

int md_seqsource_next(md_seqsource *src, md_record *rec, const md_region **region)
{
    *region = NULL;
    if (src->reader) {
        int ret = md_reader_next(src->reader, rec);
        if (ret == 0 && src->piece_names && md_reader_format(src->reader) == MD_FMT_FASTA)
            name_piece(rec, rec->len);
        return ret;
    }
    if (src->next_region >= src->n_regions) return MD_EOF;
    const md_region *reg = &src->regions[src->next_region++];
    int ret = md_faidx_fetch(src->fx, reg->contig, reg->beg, reg->end, rec);
    if (ret < 0) return ret;
    if (reg->strand == '-') md_revcomp_seq(rec->seq, rec->len);
    if (src->piece_names) name_piece(rec, md_faidx_contig_len(src->fx, reg->contig));
    *region = reg;
    return 0;
}

static void free_contig_names(md_seqsource *src)
{
    for (int i = 0; i < src->n_contig_names; i++) free(src->contig_names[i]);
    free(src->contig_names);
    src->contig_names = NULL;
    src->n_contig_names = 0;
}

int md_seqsource_contigs(md_seqsource *src, char ***names, int64_t **lengths, int *n)
{
    *names = NULL;
    *lengths = NULL;
    *n = 0;
    if (!src->fx && !(src->fx = md_faidx_open(src->path, 0))) return 0;
    int k = md_faidx_n_contigs(src->fx);
    char **nm = calloc((size_t)k + 1, sizeof *nm);
    int64_t *len = calloc((size_t)k + 1, sizeof *len);
    if (!nm || !len) {
        free(nm);
        free(len);
        return md_error(MD_ERR_NOMEM, "out of memory");
    }
    free_contig_names(src);
    src->contig_names = nm;
    int out = 0;
    for (int i = 0; i < k; i++) {
        const char *name = md_faidx_contig_name(src->fx, i);
        int64_t l = md_faidx_contig_len(src->fx, name), beg;
        size_t chr_len = strlen(name);
        if (src->piece_names && piece_of(name, l, &chr_len, &beg)) l += beg; /* chr up to its end */
        int j = 0;
        while (j < out && (strlen(nm[j]) != chr_len || strncmp(nm[j], name, chr_len) != 0)) j++;
        if (j == out) {
            if (!(nm[out] = strndup(name, chr_len))) {
                src->n_contig_names = out;
                free_contig_names(src);
                free(len);
                return md_error(MD_ERR_NOMEM, "out of memory");
            }
            len[out++] = l;
        } else if (l > len[j]) {
            len[j] = l;
        }
    }
    src->n_contig_names = out;
    char **copy = malloc(((size_t)out + 1) * sizeof *copy); /* the caller frees the array */
    if (!copy) {
        free(len);
        return md_error(MD_ERR_NOMEM, "out of memory");
    }
    memcpy(copy, nm, (size_t)out * sizeof *copy);
    *names = copy;
    *lengths = len;
    *n = out;
    return 0;
}

int md_seqsource_format(const md_seqsource *src)
{
    return src->reader ? md_reader_format(src->reader) : MD_FMT_FASTA;
}

const struct sam_hdr_t *md_seqsource_sam_header(const md_seqsource *src)
{
    return src->reader ? md_reader_sam_header(src->reader) : NULL;
}

int64_t md_seqsource_total_bases(md_seqsource *src)
{
    int64_t total = 0;
    if (src->n_regions > 0) { /* checked and clamped when the source opened */
        for (size_t i = 0; i < src->n_regions; i++)
            total += src->regions[i].end - src->regions[i].beg;
        return total;
    }
    if (md_reader_format(src->reader) != MD_FMT_FASTA) return -1;
    if (!src->fx) { /* an index beside a streamed FASTA, when there is one */
        size_t n = strlen(src->path) + 5;
        char *fai = malloc(n);
        if (!fai) return -1;
        snprintf(fai, n, "%s.fai", src->path);
        int have = access(fai, R_OK) == 0;
        free(fai);
        if (!have || !(src->fx = md_faidx_open(src->path, 0))) return -1;
    }
    for (int i = 0; i < md_faidx_n_contigs(src->fx); i++) {
        int64_t len = md_faidx_contig_len(src->fx, md_faidx_contig_name(src->fx, i));
        if (len < 0) return -1;
        total += len;
    }
    return total;
}

void md_seqsource_close(md_seqsource *src)
{
    if (!src) return;
    if (src->reader) md_reader_close(src->reader);
    if (src->fx) md_faidx_close(src->fx);
    free_contig_names(src);
    free(src->path);
    free(src);
}
