/* bench/io.c: reading + tokenizing FASTA, next to `zcat FILE > /dev/null`
 * (the peer: decompressing the file on one core of this machine) and to
 * the tokenizer alone.
 *   build/bench/io [-t THREADS[,THREADS...]] FILE...
 * Every file is read once per thread count (decompression threads: BGZF
 * files only; others get one row at 0). A row is the median of 5 runs, each
 * run of the reader followed by one of zcat so that both meet the same load.
 * The tokens are written over the sequence, as `score` and `embed` do. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>

#include <htslib/hfile.h>
#include <htslib/hts.h>

#include "mambadna.h"

#define RUNS 5
#define TARGET_RATIO 0.5 /* read + tokenize within half of zcat's time */

static double now(void) { return omp_get_wtime(); }

static double median(double *t, int n)
{
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (t[j] < t[i]) { double x = t[i]; t[i] = t[j]; t[j] = x; }
    return t[n / 2];
}

/* Read and tokenize every record of path: seconds; *bases gets the count. */
static double run_reader(const char *path, int threads, int64_t *bases)
{
    double t = now();
    md_reader_opt opt;
    md_reader_opt_init(&opt);
    opt.threads = threads;
    md_reader *r = md_reader_open(path, &opt);
    if (!r) { fprintf(stderr, "%s\n", md_last_error()); exit(1); }
    md_record rec = {0};
    int64_t n = 0;
    int ret;
    while ((ret = md_reader_next(r, &rec)) == 0) {
        md_tokenize(rec.seq, rec.len, (uint8_t *)rec.seq);
        n += rec.len;
    }
    if (ret != MD_EOF) { fprintf(stderr, "%s\n", md_last_error()); exit(1); }
    md_reader_close(r);
    md_record_free(&rec);
    *bases = n;
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

static int is_bgzf(const char *path)
{
    hFILE *hf = hopen(path, "r");
    htsFormat fmt;
    int yes = hf && hts_detect_format2(hf, path, &fmt) == 0 && fmt.compression == bgzf;
    if (hf) hclose_abruptly(hf);
    return yes;
}

static void loadavg(char *buf, size_t n)
{
    FILE *f = fopen("/proc/loadavg", "r");
    if (!f || !fgets(buf, (int)n, f)) snprintf(buf, n, "?\n");
    if (f) fclose(f);
}

static void tokenizer_alone(void)
{
    const int64_t n = 256 << 20;
    char *seq = malloc((size_t)n);
    uint8_t *ids = malloc((size_t)n);
    if (!seq || !ids) { fprintf(stderr, "out of memory\n"); exit(1); }
    for (int64_t i = 0; i < n; i++) seq[i] = "ACGTacgtN"[(i * 2654435761u >> 9) % 9];
    md_tokenize(seq, n, ids);
    double best = 1e30;
    for (int r = 0; r < RUNS; r++) {
        double t = now();
        md_tokenize(seq, n, ids);
        t = now() - t;
        if (t < best) best = t;
    }
    printf("tokenizer alone, 256 MB in memory, one core: %.2f GB/s\n\n", n / best / 1e9);
    free(seq);
    free(ids);
}

int main(int argc, char **argv)
{
    int threads[16] = {0}, n_threads = 1, first = 1;
    if (argc > 2 && strcmp(argv[1], "-t") == 0) {
        n_threads = 0;
        for (char *s = argv[2], *end; *s && n_threads < 16; s = *end ? end + 1 : end) {
            long v = strtol(s, &end, 10);
            if (end == s || v < 0 || v > 64 || (*end && *end != ',')) {
                fprintf(stderr, "io: -t takes thread counts 0-64 separated by commas\n");
                return 2;
            }
            threads[n_threads++] = (int)v;
        }
        first = 3;
    }
    if (first >= argc) {
        fprintf(stderr, "usage: %s [-t THREADS[,THREADS...]] FASTA...\n", argv[0]);
        return 2;
    }
    char load[128];
    loadavg(load, sizeof load);
    printf("load average at the start: %s", load);
    tokenizer_alone();
    printf("| file | decompression threads | bases | mambadna read + tokenize s | MB/s "
           "| zcat >/dev/null s | ratio | target <= %.2f |\n", TARGET_RATIO);
    printf("|---|---|---|---|---|---|---|---|\n");
    for (int i = first; i < argc; i++) {
        int blocked = is_bgzf(argv[i]);
        for (int k = 0; k < n_threads; k++) {
            if (!blocked && threads[k] > 0) continue;
            double tr[RUNS], tz[RUNS];
            int64_t bases = 0;
            for (int r = 0; r < RUNS; r++) {
                tr[r] = run_reader(argv[i], threads[k], &bases);
                tz[r] = run_zcat(argv[i]);
            }
            double mr = median(tr, RUNS), mz = median(tz, RUNS);
            printf("| %s | %d | %lld | %.3f | %.0f | %.3f | %.2f | %s |\n", argv[i], threads[k],
                   (long long)bases, mr, bases / mr / 1e6, mz, mr / mz,
                   mr / mz <= TARGET_RATIO ? "met" : "not met");
            fflush(stdout);
        }
    }
    loadavg(load, sizeof load);
    printf("\nload average at the end: %s", load);
    return 0;
}
