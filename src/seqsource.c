/* seqsource.c: one loop over either all records of a file or a list of
 * regions of an indexed FASTA. */
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
};

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
    if (src->reader) return md_reader_next(src->reader, rec);
    if (src->next_region >= src->n_regions) return MD_EOF;
    const md_region *reg = &src->regions[src->next_region++];
    int ret = md_faidx_fetch(src->fx, reg->contig, reg->beg, reg->end, rec);
    if (ret < 0) return ret;
    if (reg->strand == '-') md_revcomp_seq(rec->seq, rec->len);
    *region = reg;
    return 0;
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
    for (int i = 0; i < k; i++) {
        nm[i] = (char *)md_faidx_contig_name(src->fx, i);
        len[i] = md_faidx_contig_len(src->fx, nm[i]);
    }
    *names = nm;
    *lengths = len;
    *n = k;
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
    free(src->path);
    free(src);
}
