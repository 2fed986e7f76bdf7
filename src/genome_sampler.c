/* genome_sampler.c: genome sequences held in memory as tokens (one byte per
 * base: the whole of human chr20, 63 Mb, takes 63 MB) and random windows of
 * them for pretraining. Every random choice comes from the caller's md_rng,
 * whose state goes into the training state, so a resumed run draws the same
 * windows as an uninterrupted one. */
#include <stdlib.h>
#include <string.h>

#include "genome_sampler.h"
#include "mambadna.h"

struct md_genome {
    uint8_t *tok;      /* [n_bases] tokens of every contig, back to back */
    int64_t n_bases, m_bases;
    int64_t *off;      /* [n_contigs] start of each contig in tok */
    int64_t *len;      /* [n_contigs] */
    int n_contigs;
    int64_t m_off, m_len; /* capacities */
    double max_n;      /* skip windows with a larger N fraction */
    /* cumulative window counts for the length of the last call */
    int64_t cum_L;
    int64_t *cum;      /* [n_contigs] windows of contigs [0, i] */
};

static int grow(void **p, int64_t *cap, int64_t need, size_t elem)
{
    if (need <= *cap) return 0;
    int64_t c = *cap ? *cap : 1024;
    while (c < need) c += c / 2 + 1;
    void *q = realloc(*p, (size_t)c * elem);
    if (!q) return md_error(MD_ERR_NOMEM, "out of memory loading genome sequences (%lld bases)",
                            (long long)need);
    *p = q;
    *cap = c;
    return 0;
}

md_genome *md_genome_load(const char *const *paths, int n)
{
    md_genome *g = calloc(1, sizeof *g);
    md_record rec = {0};
    md_reader *rd = NULL;
    if (!g) {
        md_error(MD_ERR_NOMEM, "out of memory");
        return NULL;
    }
    g->max_n = 0.1;
    if (n < 1) {
        md_error(MD_ERR_ARG, "no genome files given");
        goto fail;
    }
    for (int f = 0; f < n; f++) {
        md_reader_opt ropt;
        md_reader_opt_init(&ropt);
        if (!(rd = md_reader_open(paths[f], &ropt))) goto fail;
        int fmt = md_reader_format(rd);
        if (fmt != MD_FMT_FASTA && fmt != MD_FMT_FASTQ) {
            md_error(MD_ERR_FORMAT, "%s: not a FASTA file (genomes for pretraining are FASTA, "
                     "plain or gzip)", paths[f]);
            goto fail;
        }
        int ret, before = g->n_contigs;
        while ((ret = md_reader_next(rd, &rec)) == 0) {
            if (rec.len == 0) continue;
            if (g->n_contigs == 2000000000) {
                md_error(MD_ERR_FORMAT, "%s: too many sequences", paths[f]);
                goto fail;
            }
            if (grow((void **)&g->off, &g->m_off, g->n_contigs + 1, sizeof *g->off) < 0 ||
                grow((void **)&g->len, &g->m_len, g->n_contigs + 1, sizeof *g->len) < 0)
                goto fail;
            if (grow((void **)&g->tok, &g->m_bases, g->n_bases + rec.len, 1) < 0) goto fail;
            md_tokenize(rec.seq, rec.len, g->tok + g->n_bases);
            g->off[g->n_contigs] = g->n_bases;
            g->len[g->n_contigs] = rec.len;
            g->n_contigs++;
            g->n_bases += rec.len;
        }
        if (ret < MD_EOF) {
            md_error(MD_ERR_FORMAT, "%s: %s", paths[f], md_last_error());
            goto fail;
        }
        if (g->n_contigs == before) {
            md_error(MD_ERR_FORMAT, "%s: no sequences", paths[f]);
            goto fail;
        }
        md_reader_close(rd);
        rd = NULL;
    }
    /* give back the slack of the last growth */
    uint8_t *t = realloc(g->tok, (size_t)g->n_bases);
    if (t) g->tok = t;
    md_record_free(&rec);
    return g;
fail:
    md_reader_close(rd);
    md_record_free(&rec);
    md_genome_free(g);
    return NULL;
}

void md_genome_free(md_genome *g)
{
    if (!g) return;
    free(g->tok);
    free(g->off);
    free(g->len);
    free(g->cum);
    free(g);
}

int md_genome_n_contigs(const md_genome *g) { return g->n_contigs; }
int64_t md_genome_bases(const md_genome *g) { return g->n_bases; }
void md_genome_set_max_n(md_genome *g, double max_n_frac) { g->max_n = max_n_frac; }

static int prepare(md_genome *g, int64_t L)
{
    if (g->cum && g->cum_L == L) return 0;
    if (!g->cum && !(g->cum = malloc((size_t)g->n_contigs * sizeof *g->cum)))
        return md_error(MD_ERR_NOMEM, "out of memory");
    int64_t acc = 0;
    for (int i = 0; i < g->n_contigs; i++) {
        if (g->len[i] >= L) acc += g->len[i] - L + 1;
        g->cum[i] = acc;
    }
    g->cum_L = L;
    if (acc == 0)
        return md_error(MD_ERR_ARG, "no genome sequence is %lld bases long (the longest of %d "
                        "has fewer): use a shorter length", (long long)L, g->n_contigs);
    return 0;
}

int md_genome_sample(md_genome *g, md_rng *r, int64_t L, int rc, uint8_t *out, int64_t *n_skipped)
{
    if (L < 1) return md_error(MD_ERR_ARG, "window length must be positive");
    int ret = prepare(g, L);
    if (ret < 0) return ret;
    int64_t total = g->cum[g->n_contigs - 1], max_n = (int64_t)(g->max_n * (double)L);
    for (int tries = 0; tries < 10000; tries++) {
        int64_t u = (int64_t)md_rng_below(r, (uint64_t)total);
        int lo = 0, hi = g->n_contigs - 1; /* first contig with cum > u */
        while (lo < hi) {
            int mid = lo + (hi - lo) / 2;
            if (g->cum[mid] > u) hi = mid;
            else lo = mid + 1;
        }
        int64_t start = u - (lo ? g->cum[lo - 1] : 0);
        const uint8_t *w = g->tok + g->off[lo] + start;
        if (md_count_n(w, L) > max_n) {
            if (n_skipped) (*n_skipped)++;
            continue;
        }
        memcpy(out, w, (size_t)L);
        if (rc && md_rng_uniform(r) < 0.5) md_revcomp_tokens(out, L);
        return 0;
    }
    return md_error(MD_ERR_FORMAT, "10000 windows of %lld bases in a row had more than %g%% N: "
                    "the genome is mostly N (raise the N limit or check the files)",
                    (long long)L, 100 * g->max_n);
}
