/* regions_opt.c: collect -r and -R regions into one list. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "regions_opt.h"

static int push(cli_regions *r, const md_region *reg)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 16;
        md_region *p = realloc(r->items, cap * sizeof *p);
        if (!p) return md_error(MD_ERR_NOMEM, "out of memory");
        r->items = p;
        r->cap = cap;
    }
    r->items[r->n++] = *reg;
    return 0;
}

int cli_regions_add_string(cli_regions *r, const char *str)
{
    md_region reg;
    int ret = md_region_parse(str, &reg);
    if (ret < 0) return ret;
    if ((ret = push(r, &reg)) < 0) md_region_free(&reg);
    return ret;
}

int cli_regions_add_bed(cli_regions *r, const char *path)
{
    md_region *regs;
    size_t n;
    int ret = md_bed_read(path, &regs, &n);
    if (ret < 0) return ret;
    for (size_t i = 0; i < n; i++) {
        if ((ret = push(r, &regs[i])) < 0) {
            for (size_t j = i; j < n; j++) md_region_free(&regs[j]);
            free(regs);
            return ret;
        }
    }
    free(regs);
    return 0;
}

void cli_regions_free(cli_regions *r)
{
    md_regions_free(r->items, r->n);
    memset(r, 0, sizeof *r);
}

typedef struct ranked_region {
    int contig; /* index in the FASTA index */
    md_region reg;
} ranked_region;

static int by_position(const void *a, const void *b)
{
    const ranked_region *x = a, *y = b;
    if (x->contig != y->contig) return x->contig < y->contig ? -1 : 1;
    return x->reg.beg < y->reg.beg ? -1 : x->reg.beg > y->reg.beg;
}

int cli_regions_sort(cli_regions *r, const char *fasta)
{
    if (r->n < 2) return 0;
    md_faidx *fx = md_faidx_open(fasta, 0);
    if (!fx) return 0; /* opening the input says why, as for any region */
    ranked_region *rr = malloc(r->n * sizeof *rr);
    int ret = rr ? 0 : md_error(MD_ERR_NOMEM, "out of memory");
    int n_contigs = md_faidx_n_contigs(fx);
    for (size_t i = 0; ret == 0 && i < r->n; i++) {
        rr[i].reg = r->items[i];
        rr[i].contig = n_contigs; /* a missing contig: reported when the input is opened */
        for (int c = 0; c < n_contigs && rr[i].contig == n_contigs; c++)
            if (!strcmp(md_faidx_contig_name(fx, c), r->items[i].contig)) rr[i].contig = c;
    }
    if (ret == 0) {
        qsort(rr, r->n, sizeof *rr, by_position);
        for (size_t i = 0; i < r->n; i++) r->items[i] = rr[i].reg;
        for (size_t i = 1; ret == 0 && i < r->n; i++) {
            const md_region *a = &r->items[i - 1], *b = &r->items[i];
            if (!strcmp(a->contig, b->contig) && b->beg < a->end)
                ret = md_error(MD_ERR_ARG, "regions %s:%lld-%lld and %s:%lld-%lld overlap: a track "
                               "gives each base one value; merge them (bedtools merge)",
                               a->contig, (long long)a->beg + 1, (long long)a->end, b->contig,
                               (long long)b->beg + 1, (long long)b->end);
        }
    }
    free(rr);
    md_faidx_close(fx);
    return ret;
}

const char *cli_input_expected(int c)
{
    return c == 'w' || c == 's' ? "an integer >= 1 (suffixes k, M, G allowed)" : NULL;
}

int cli_input_option(int c, const char *arg, cli_regions *r, int64_t *window, int64_t *stride)
{
    switch (c) {
    case 'r': return cli_regions_add_string(r, arg) < 0 ? CLI_OPT_REFUSED : 1;
    case 'R': return cli_regions_add_bed(r, arg) < 0 ? CLI_OPT_ERROR : 1;
    case 'w': return cli_parse_size(arg, window) < 0 || *window < 1 ? CLI_OPT_BAD_VALUE : 1;
    case 's': return cli_parse_size(arg, stride) < 0 || *stride < 1 ? CLI_OPT_BAD_VALUE : 1;
    default: return 0;
    }
}
