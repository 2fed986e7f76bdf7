/* bench/io.c: reading + tokenizing FASTA, next to `zcat FILE > /dev/null`
 * (the floor of decompressing a gzip file on this machine) and to the
 * tokenizer alone.
 *   build/bench/io FILE...      (see bench/get-data.sh for human chr20) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <omp.h>

#include "mambadna.h"

static double now(void) { return omp_get_wtime(); }

/* Median of 5 runs of fn. */
static double median5(double (*fn)(const char *), const char *path)
{
    double t[5];
    for (int i = 0; i < 5; i++) t[i] = fn(path);
    for (int i = 0; i < 5; i++)
        for (int j = i + 1; j < 5; j++)
            if (t[j] < t[i]) { double x = t[i]; t[i] = t[j]; t[j] = x; }
    return t[2];
}

static int64_t bases;

static double run_reader(const char *path)
{
    double t = now();
    md_reader *r = md_reader_open(path, NULL);
    if (!r) { fprintf(stderr, "%s\n", md_last_error()); exit(1); }
    md_record rec = {0};
    uint8_t *ids = NULL;
    int64_t cap = 0, n = 0;
    while (md_reader_next(r, &rec) == 0) {
        if (rec.len > cap) { ids = realloc(ids, (size_t)rec.len); cap = rec.len; }
        md_tokenize(rec.seq, rec.len, ids);
        n += rec.len;
    }
    md_reader_close(r);
    md_record_free(&rec);
    free(ids);
    bases = n;
    return now() - t;
}

static double run_zcat(const char *path)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "zcat -f '%s' > /dev/null", path);
    double t = now();
    if (system(cmd) != 0) { fprintf(stderr, "zcat failed\n"); exit(1); }
    return now() - t;
}

int main(int argc, char **argv)
{
    if (argc < 2) { fprintf(stderr, "usage: %s FASTA...\n", argv[0]); return 2; }
    /* the tokenizer alone, on 256 MB in memory */
    const int64_t n = 256 << 20;
    char *seq = malloc((size_t)n);
    uint8_t *ids = malloc((size_t)n);
    for (int64_t i = 0; i < n; i++) seq[i] = "ACGTacgtN"[(i * 2654435761u >> 9) % 9];
    md_tokenize(seq, n, ids);
    double best = 1e30;
    for (int r = 0; r < 5; r++) {
        double t = now();
        md_tokenize(seq, n, ids);
        t = now() - t;
        if (t < best) best = t;
    }
    printf("tokenizer alone, one core: %.2f GB/s\n\n", n / best / 1e9);
    free(seq);
    free(ids);
    printf("| file | bases | mambadna read+tokenize s | MB/s | zcat >/dev/null s | ratio |\n");
    printf("|---|---|---|---|---|---|\n");
    for (int i = 1; i < argc; i++) {
        double tr = median5(run_reader, argv[i]), tz = median5(run_zcat, argv[i]);
        printf("| %s | %lld | %.3f | %.0f | %.3f | %.2f |\n", argv[i], (long long)bases, tr,
               bases / tr / 1e6, tz, tr / tz);
    }
    return 0;
}
