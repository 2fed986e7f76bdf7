/* test_writers.c: bedGraph, bigWig (read back through libBigWig), NPY
 * (loaded back by numpy) and the half-precision conversions. */
#include <dirent.h>
#include <float.h>
#include <math.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <bigWig.h>

#include "half.h"
#include "testutil.h"

static const char *fresh_dir(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", md_test_tmpdir(), name);
    assert_int_equal(mkdir(buf, 0777), 0);
    return buf;
}

/* Number of entries in dir besides . and .. */
static int n_entries(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    buf[n] = '\0';
    if (len) *len = (size_t)n;
    return buf;
}

static float f32_of(uint32_t u)
{
    float x;
    memcpy(&x, &u, 4);
    return x;
}

static uint32_t bits_of(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}

/* ------------------------------------------------------------------ */
/* bedGraph                                                            */
/* ------------------------------------------------------------------ */

static void test_bedgraph_text(void **state)
{
    (void)state;
    char dir[512], path[600];
    fresh_dir(dir, sizeof dir, "bedgraph");
    snprintf(path, sizeof path, "%s/out.bedGraph", dir);

    md_bedgraph *bg = md_bedgraph_open(path, "track type=bedGraph name=\"p\"\n");
    assert_non_null(bg);
    assert_int_equal(md_bedgraph_add(bg, "chr1", 0, 10, 1.5f), 0);
    assert_int_equal(md_bedgraph_add(bg, "chr1", 10, 20, 1.5f), 0);  /* merged */
    assert_int_equal(md_bedgraph_add(bg, "chr1", 20, 25, 1.5f), 0);  /* merged */
    assert_int_equal(md_bedgraph_add(bg, "chr1", 25, 30, 2.0f), 0);  /* new value */
    assert_int_equal(md_bedgraph_add(bg, "chr1", 35, 40, 2.0f), 0);  /* gap: not merged */
    assert_int_equal(md_bedgraph_add(bg, "chr1", 40, 41, 0.1f), 0);
    assert_int_equal(md_bedgraph_add(bg, "chr1", 41, 42, 1.0f / 3.0f), 0);
    assert_int_equal(md_bedgraph_add(bg, "chr1", 42, 43, 0.0f), 0);
    assert_int_equal(md_bedgraph_add(bg, "chr1", 43, 44, -0.0f), 0); /* -0 stays apart */
    assert_int_equal(md_bedgraph_add(bg, "chr1", 44, 45, 16777216.0f), 0);
    assert_int_equal(md_bedgraph_add(bg, "chr1", 45, 46, 1e-30f), 0);
    assert_int_equal(md_bedgraph_add(bg, "chr2", 46, 50, 1e-30f), 0); /* other contig */
    assert_int_equal(md_bedgraph_add(bg, "chr2", 50, 60, 1e-30f), 0);
    assert_int_equal(md_bedgraph_add(bg, "chr2", 60, 61, -7.25f), 0);
    assert_int_equal(md_bedgraph_add(bg, "chr10", 0, 3000000000LL, 3.0f), 0);
    assert_int_equal(md_bedgraph_close(bg, 1), 0);

    char *text = slurp(path, NULL);
    assert_string_equal(text,
                        "track type=bedGraph name=\"p\"\n"
                        "chr1\t0\t25\t1.5\n"
                        "chr1\t25\t30\t2\n"
                        "chr1\t35\t40\t2\n"
                        "chr1\t40\t41\t0.1\n"
                        "chr1\t41\t42\t0.33333334\n"
                        "chr1\t42\t43\t0\n"
                        "chr1\t43\t44\t-0\n"
                        "chr1\t44\t45\t16777216\n"
                        "chr1\t45\t46\t1e-30\n"
                        "chr2\t46\t60\t1e-30\n"
                        "chr2\t60\t61\t-7.25\n"
                        "chr10\t0\t3000000000\t3\n");
    free(text);
    assert_int_equal(n_entries(dir), 1);
}

/* Every printed value reads back as the same float32. */
static void test_bedgraph_roundtrip_values(void **state)
{
    (void)state;
    char dir[512], path[600];
    fresh_dir(dir, sizeof dir, "bedgraph_rt");
    snprintf(path, sizeof path, "%s/rt.bedGraph", dir);
    md_bedgraph *bg = md_bedgraph_open(path, NULL);
    assert_non_null(bg);
    enum { N = 20000 };
    float *vals = malloc((N + 1) * sizeof *vals);
    uint32_t x = 12345;
    for (int i = 0; i < N; i++) {
        x = x * 1664525u + 1013904223u;
        float v = f32_of((x & 0x807fffffu) | ((100u + (x >> 24) % 56u) << 23));
        vals[i] = v;
        assert_int_equal(md_bedgraph_add(bg, "chrR", i, i + 1, v), 0);
    }
    vals[N] = INFINITY;
    assert_int_equal(md_bedgraph_add(bg, "chrR", N, N + 1, INFINITY), 0);
    assert_int_equal(md_bedgraph_close(bg, 1), 0);

    FILE *f = fopen(path, "r");
    char line[256];
    int i = 0;
    while (fgets(line, sizeof line, f)) {
        char contig[16], val[64];
        long long b, e;
        assert_int_equal(sscanf(line, "%15s\t%lld\t%lld\t%63s", contig, &b, &e, val), 4);
        int k = (int)b;
        assert_true(k >= i);
        float back = strtof(val, NULL);
        assert_int_equal(bits_of(back), bits_of(vals[k]));
        assert_true(strlen(val) <= 15); /* %.9g at most */
        i = (int)e;
    }
    fclose(f);
    assert_int_equal(i, N + 1);
    free(vals);
}

static void test_bedgraph_errors(void **state)
{
    (void)state;
    char dir[512], path[600];
    fresh_dir(dir, sizeof dir, "bedgraph_err");
    snprintf(path, sizeof path, "%s/bad.bedGraph", dir);
    md_bedgraph *bg = md_bedgraph_open(path, NULL);
    assert_non_null(bg);
    assert_int_equal(md_bedgraph_add(bg, "chr1", 100, 200, 1.0f), 0);
    /* Overlap with the previous interval. */
    assert_true(md_bedgraph_add(bg, "chr1", 150, 250, 1.0f) < -1);
    assert_non_null(strstr(md_last_error(), path));
    assert_non_null(strstr(md_last_error(), "chr1:150-250"));
    /* Before it. */
    assert_true(md_bedgraph_add(bg, "chr1", 0, 10, 2.0f) < -1);
    /* Overlap after a merge: the merged end counts. */
    assert_int_equal(md_bedgraph_add(bg, "chr1", 200, 300, 1.0f), 0);
    assert_true(md_bedgraph_add(bg, "chr1", 250, 260, 3.0f) < -1);
    /* Empty and negative intervals. */
    assert_true(md_bedgraph_add(bg, "chr1", 400, 400, 1.0f) < -1);
    assert_true(md_bedgraph_add(bg, "chr1", -1, 5, 1.0f) < -1);
    assert_true(md_bedgraph_add(bg, "chr 1", 0, 5, 1.0f) < -1);
    /* Adjacent after the errors still merges. */
    assert_int_equal(md_bedgraph_add(bg, "chr1", 300, 310, 1.0f), 0);
    assert_int_equal(md_bedgraph_close(bg, 1), 0);
    char *text = slurp(path, NULL);
    assert_string_equal(text, "chr1\t100\t310\t1\n");
    free(text);

    /* Closed without commit: nothing is left, not even over an old file. */
    bg = md_bedgraph_open(path, "track type=bedGraph");
    assert_int_equal(md_bedgraph_add(bg, "chr1", 0, 10, 5.0f), 0);
    assert_int_equal(md_bedgraph_close(bg, 0), 0);
    text = slurp(path, NULL);
    assert_string_equal(text, "chr1\t100\t310\t1\n");
    free(text);
    assert_int_equal(n_entries(dir), 1);

    snprintf(path, sizeof path, "%s/nodir/x.bedGraph", dir);
    assert_null(md_bedgraph_open(path, NULL));
    assert_non_null(strstr(md_last_error(), path));
}

/* ------------------------------------------------------------------ */
/* bigWig                                                              */
/* ------------------------------------------------------------------ */

static void test_bigwig_roundtrip(void **state)
{
    (void)state;
    char dir[512], path[600];
    fresh_dir(dir, sizeof dir, "bigwig");
    snprintf(path, sizeof path, "%s/out.bw", dir);

    /* Not in name order: the order given must be kept. */
    char *contigs[] = {"chr2", "chrM", "chr1", "chrUn_x"};
    int64_t lengths[] = {50000, 16569, 1000, 77};
    md_bigwig *w = md_bigwig_open(path, contigs, lengths, 4);
    assert_non_null(w);
    /* chr2: a long run with changing values and merges inside it. */
    for (int i = 0; i < 40000; i += 4) {
        float v = (float)((i / 8) % 7) * 0.25f - 0.5f; /* pairs of equal values */
        assert_int_equal(md_bigwig_add(w, "chr2", i, i + 4, v), 0);
    }
    assert_int_equal(md_bigwig_add(w, "chr2", 49990, 50000, 1e-3f), 0);
    /* chrM: no intervals. chr1: */
    assert_int_equal(md_bigwig_add(w, "chr1", 5, 10, 1.0f), 0);
    assert_int_equal(md_bigwig_add(w, "chr1", 10, 20, 1.0f), 0); /* merged */
    assert_int_equal(md_bigwig_add(w, "chr1", 20, 30, 2.5f), 0);
    assert_int_equal(md_bigwig_add(w, "chr1", 100, 200, -3.0f), 0);
    assert_int_equal(md_bigwig_add(w, "chr1", 999, 1000, 0.1f), 0);
    assert_int_equal(md_bigwig_add(w, "chrUn_x", 0, 77, 42.0f), 0);
    assert_int_equal(md_bigwig_close(w, 1), 0);
    assert_int_equal(n_entries(dir), 1);

    assert_int_equal(bwInit(1 << 17), 0);
    assert_true(bwIsBigWig(path, NULL));
    bigWigFile_t *bw = bwOpen(path, NULL, "r");
    assert_non_null(bw);
    assert_int_equal(bw->cl->nKeys, 4);
    for (int i = 0; i < 4; i++) {
        assert_string_equal(bw->cl->chrom[i], contigs[i]);
        assert_int_equal(bw->cl->len[i], lengths[i]);
    }

    bwOverlappingIntervals_t *o = bwGetOverlappingIntervals(bw, "chr1", 0, 1000);
    assert_non_null(o);
    assert_int_equal(o->l, 4);
    uint32_t want_s[] = {5, 20, 100, 999}, want_e[] = {20, 30, 200, 1000};
    float want_v[] = {1.0f, 2.5f, -3.0f, 0.1f};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(o->start[i], want_s[i]);
        assert_int_equal(o->end[i], want_e[i]);
        assert_int_equal(bits_of(o->value[i]), bits_of(want_v[i]));
    }
    bwDestroyOverlappingIntervals(o);

    o = bwGetValues(bw, "chr1", 0, 40, 1);
    assert_non_null(o);
    assert_int_equal(o->l, 40);
    for (int i = 0; i < 40; i++) {
        if (i < 5 || i >= 30)
            assert_true(isnan(o->value[i]));
        else
            assert_true(o->value[i] == (i < 20 ? 1.0f : 2.5f));
    }
    bwDestroyOverlappingIntervals(o);

    /* chr2: 40000 bases in runs of 8 with one value each, then the tail. */
    o = bwGetOverlappingIntervals(bw, "chr2", 0, 50000);
    assert_non_null(o);
    assert_int_equal(o->l, 5000 + 1);
    for (uint32_t i = 0; i < 5000; i++) {
        assert_int_equal(o->start[i], 8 * i);
        assert_int_equal(o->end[i], 8 * i + 8);
        assert_true(o->value[i] == (float)(i % 7) * 0.25f - 0.5f);
    }
    assert_int_equal(o->start[5000], 49990);
    assert_true(o->value[5000] == 1e-3f);
    bwDestroyOverlappingIntervals(o);

    o = bwGetOverlappingIntervals(bw, "chrM", 0, 16569);
    assert_true(!o || o->l == 0);
    if (o) bwDestroyOverlappingIntervals(o);
    o = bwGetOverlappingIntervals(bw, "chrUn_x", 0, 77);
    assert_non_null(o);
    assert_int_equal(o->l, 1);
    assert_true(o->value[0] == 42.0f);
    bwDestroyOverlappingIntervals(o);
    bwClose(bw);
}

static void test_bigwig_errors(void **state)
{
    (void)state;
    char dir[512], path[600];
    fresh_dir(dir, sizeof dir, "bigwig_err");
    snprintf(path, sizeof path, "%s/bad.bw", dir);
    char *contigs[] = {"chrA", "chrB"};
    int64_t lengths[] = {100, 200};

    md_bigwig *w = md_bigwig_open(path, contigs, lengths, 2);
    assert_non_null(w);
    assert_true(md_bigwig_add(w, "chrZ", 0, 10, 1.0f) < -1);
    assert_non_null(strstr(md_last_error(), "chrZ"));
    assert_true(md_bigwig_add(w, "chrA", 90, 101, 1.0f) < -1); /* past the end */
    assert_true(md_bigwig_add(w, "chrA", 10, 10, 1.0f) < -1);
    assert_int_equal(md_bigwig_add(w, "chrA", 10, 20, 1.0f), 0);
    assert_true(md_bigwig_add(w, "chrA", 15, 30, 1.0f) < -1); /* overlap */
    assert_non_null(strstr(md_last_error(), path));
    assert_int_equal(md_bigwig_add(w, "chrB", 0, 20, 1.0f), 0);
    assert_true(md_bigwig_add(w, "chrA", 50, 60, 1.0f) < -1); /* contig order */
    assert_non_null(strstr(md_last_error(), "order"));
    assert_int_equal(md_bigwig_close(w, 0), 0); /* abort */
    assert_int_equal(n_entries(dir), 0);

    /* No intervals: refused, nothing left. */
    w = md_bigwig_open(path, contigs, lengths, 2);
    assert_non_null(w);
    assert_true(md_bigwig_close(w, 1) < -1);
    assert_non_null(strstr(md_last_error(), path));
    assert_int_equal(n_entries(dir), 0);

    int64_t bad_len[] = {100, 0};
    assert_null(md_bigwig_open(path, contigs, bad_len, 2));
    char *dup[] = {"chrA", "chrA"};
    assert_null(md_bigwig_open(path, dup, lengths, 2));
    assert_null(md_bigwig_open("-", contigs, lengths, 2));
    snprintf(path, sizeof path, "%s/nodir/x.bw", dir);
    assert_null(md_bigwig_open(path, contigs, lengths, 2));
    assert_non_null(strstr(md_last_error(), path));
    assert_int_equal(n_entries(dir), 0);
}

/* ------------------------------------------------------------------ */
/* NPY                                                                 */
/* ------------------------------------------------------------------ */

/* Run tests/npy_check.py on path; its exit status. */
static int npy_check_q(const char *path, const char *dtype, const char *shape, const char *values,
                       const char *sum, int quiet)
{
    const char *py = getenv("PYTHON");
    if (!py || !*py) py = "/usr/bin/python3";
    char script[1024], cmd[8192];
    /* Next to the test data directory (tests/data -> tests/npy_check.py). */
    snprintf(script, sizeof script, "%s", md_test_data_dir());
    char *slash = strrchr(script, '/');
    if (slash)
        snprintf(slash + 1, sizeof script - (size_t)(slash + 1 - script), "npy_check.py");
    if (!slash || access(script, R_OK) != 0) snprintf(script, sizeof script, "tests/npy_check.py");
    snprintf(cmd, sizeof cmd, "'%s' '%s' '%s' '%s' '%s' '%s'%s%s%s", py, script, path, dtype,
             shape, values, sum ? " --sum " : "", sum ? sum : "", quiet ? " 2>/dev/null" : "");
    int st = system(cmd);
    assert_true(st != -1 && WIFEXITED(st));
    return WEXITSTATUS(st);
}

static int npy_check(const char *path, const char *dtype, const char *shape, const char *values,
                     const char *sum)
{
    return npy_check_q(path, dtype, shape, values, sum, 0);
}

/* Bytes before the data, checked: a multiple of 64 ending in '\n'. */
static size_t npy_header_size(const char *path, char *dict, size_t size)
{
    size_t len;
    char *raw = slurp(path, &len);
    assert_true(len >= 64);
    assert_memory_equal(raw, "\x93NUMPY\x01\x00", 8);
    size_t hlen = (unsigned char)raw[8] | (size_t)(unsigned char)raw[9] << 8;
    size_t total = 10 + hlen;
    assert_int_equal(total % 64, 0);
    assert_true(total <= len);
    assert_int_equal(raw[total - 1], '\n');
    snprintf(dict, size, "%.*s", (int)hlen, raw + 10);
    free(raw);
    return total;
}

static void test_npy_f32(void **state)
{
    (void)state;
    char dir[512], path[600], dict[1024];
    fresh_dir(dir, sizeof dir, "npy_f32");
    snprintf(path, sizeof path, "%s/x.npy", dir);
    int64_t row[] = {3};
    md_npy *npy = md_npy_open(path, MD_F32, row, 1);
    assert_non_null(npy);
    float a[] = {1.0f, -2.5f, 0.1f, 1e-40f, 3.0f, 4.0f};
    float b[] = {5.0f, 6.0f, 7.0f, 8.0f, 9.0f, -0.0f, 1e30f, 0.5f, 0.25f};
    assert_int_equal(md_npy_append_f32(npy, a, 2), 0);
    assert_int_equal(md_npy_append_f32(npy, b, 3), 0);
    assert_int_equal(md_npy_append_f32(npy, b, 0), 0);
    assert_int_equal(md_npy_close(npy, 1), 0);
    assert_int_equal(n_entries(dir), 1);

    size_t hs = npy_header_size(path, dict, sizeof dict);
    /* The dict exactly as numpy writes it, then padding. */
    const char *want = "{'descr': '<f4', 'fortran_order': False, 'shape': (5, 3), }";
    assert_memory_equal(dict, want, strlen(want));
    for (size_t i = strlen(want); i < hs - 11; i++) assert_int_equal(dict[i], ' ');
    struct stat st;
    stat(path, &st);
    assert_int_equal((size_t)st.st_size, hs + 5 * 3 * 4);

    assert_int_equal(npy_check(path, "<f4", "5,3",
                               "1,-2.5,0.1,1e-40,3,4,5,6,7,8,9,-0,1e30,0.5,0.25", NULL),
                     0);
    /* The checker does catch a wrong value, dtype or shape. */
    assert_int_not_equal(npy_check_q(path, "<f4", "5,3", "1,-2.5,0.2", NULL, 1), 0);
    assert_int_not_equal(npy_check_q(path, "<f8", "5,3", "", NULL, 1), 0);
    assert_int_not_equal(npy_check_q(path, "<f4", "4,3", "", NULL, 1), 0);
}

static void test_npy_f16(void **state)
{
    (void)state;
    char dir[512], path[600], dict[1024];
    fresh_dir(dir, sizeof dir, "npy_f16");
    snprintf(path, sizeof path, "%s/h.npy", dir);
    md_npy *npy = md_npy_open(path, MD_F16, NULL, 0); /* scalar rows: shape (N,) */
    assert_non_null(npy);
    enum { N = 10000 };
    float *v = malloc(N * sizeof *v);
    double sum = 0;
    for (int i = 0; i < N; i++) {
        v[i] = (float)i * 0.37f - 1000.0f;
        sum += md_f16_to_f32(md_f32_to_f16(v[i]));
    }
    /* Two appends, the second one longer than one conversion chunk. */
    assert_int_equal(md_npy_append_f32(npy, v, 5), 0);
    assert_int_equal(md_npy_append_f32(npy, v + 5, N - 5), 0);
    assert_int_equal(md_npy_close(npy, 1), 0);

    npy_header_size(path, dict, sizeof dict);
    const char *want = "{'descr': '<f2', 'fortran_order': False, 'shape': (10000,), }";
    assert_memory_equal(dict, want, strlen(want));
    /* The first values exactly as numpy rounds them to float16 (%.17g gives
     * numpy the float32 value itself), and the sum of all of them. */
    char vals[8192], sums[64];
    int n = 0;
    for (int i = 0; i < 300; i++)
        n += snprintf(vals + n, sizeof vals - (size_t)n, "%s%.17g", i ? "," : "", v[i]);
    snprintf(sums, sizeof sums, "%.17g", sum);
    assert_int_equal(npy_check(path, "<f2", "10000", vals, sums), 0);
    free(v);

    /* Special values. */
    snprintf(path, sizeof path, "%s/s.npy", dir);
    int64_t row[] = {2};
    npy = md_npy_open(path, MD_F16, row, 1);
    float sp[] = {0.1f, 65504.0f, 1e-7f, 70000.0f, NAN, -0.0f, -INFINITY, 65520.0f};
    assert_int_equal(md_npy_append_f32(npy, sp, 4), 0);
    assert_int_equal(md_npy_close(npy, 1), 0);
    assert_int_equal(npy_check(path, "<f2", "4,2", "0.1,65504,1e-7,inf,nan,-0,-inf,inf", NULL), 0);
}

static void test_npy_i64_and_raw(void **state)
{
    (void)state;
    char dir[512], path[600];
    fresh_dir(dir, sizeof dir, "npy_i64");
    snprintf(path, sizeof path, "%s/i.npy", dir);
    int64_t row[] = {2, 2};
    md_npy *npy = md_npy_open(path, MD_I64, row, 2);
    assert_non_null(npy);
    int64_t raw[] = {INT64_MAX, INT64_MIN, (1LL << 40) + 1, -5, 0, 1, 2, 3};
    assert_int_equal(md_npy_append_raw(npy, raw, 2), 0);
    float f[] = {2.0f, -3.0f, 2.5f /* -> 2, ties to even */, 1e6f};
    assert_int_equal(md_npy_append_f32(npy, f, 1), 0);
    /* Values that do not fit are refused (in the first chunk: the file is
     * still good). */
    float nan_row[] = {1.0f, NAN, 0.0f, 0.0f};
    assert_true(md_npy_append_f32(npy, nan_row, 1) < -1);
    assert_non_null(strstr(md_last_error(), path));
    assert_int_equal(md_npy_close(npy, 1), 0);
    assert_int_equal(npy_check(path, "<i8", "3,2,2",
                               "9223372036854775807,-9223372036854775808,1099511627777,-5,0,1,2,"
                               "3,2,-3,2,1000000",
                               NULL),
                     0);
}

static void test_npy_other_dtypes(void **state)
{
    (void)state;
    char dir[512], path[600];
    fresh_dir(dir, sizeof dir, "npy_dtypes");
    /* Integer dtypes round to nearest, ties to even. */
    float v[] = {0.0f, 1.0f, 255.0f, 3.4f, 2.5f, 0.5f, 3.5f, 254.6f};
    struct {
        int dtype;
        const char *descr, *values;
    } cases[] = {
        {MD_F64, "<f8", "0,1,255,3.4000000953674316,2.5,0.5,3.5,254.60000610351562"},
        {MD_I32, "<i4", "0,1,255,3,2,0,4,255"},
        {MD_U8, "|u1", "0,1,255,3,2,0,4,255"},
        {MD_F32, "<f4", "0,1,255,3.4000000953674316,2.5,0.5,3.5,254.60000610351562"},
    };
    for (int c = 0; c < 4; c++) {
        snprintf(path, sizeof path, "%s/d%d.npy", dir, c);
        int64_t row[] = {4};
        md_npy *npy = md_npy_open(path, cases[c].dtype, row, 1);
        assert_non_null(npy);
        assert_int_equal(md_npy_append_f32(npy, v, 2), 0);
        assert_int_equal(md_npy_close(npy, 1), 0);
        assert_int_equal(npy_check(path, cases[c].descr, "2,4", cases[c].values, NULL), 0);
    }
    /* i32: -2.5 -> -2, and out of range refused. */
    snprintf(path, sizeof path, "%s/i32.npy", dir);
    md_npy *npy = md_npy_open(path, MD_I32, NULL, 0);
    float w[] = {-2.5f, -1.5f, 2147483520.0f, -2147483648.0f};
    assert_int_equal(md_npy_append_f32(npy, w, 4), 0);
    float too_big = 2147483648.0f;
    assert_true(md_npy_append_f32(npy, &too_big, 1) < -1);
    assert_int_equal(md_npy_close(npy, 1), 0);
    assert_int_equal(npy_check(path, "<i4", "4", "-2,-2,2147483520,-2147483648", NULL), 0);
    /* u8 refuses 256 and -1. */
    snprintf(path, sizeof path, "%s/u8bad.npy", dir);
    npy = md_npy_open(path, MD_U8, NULL, 0);
    float big = 256.0f, neg = -1.0f;
    assert_true(md_npy_append_f32(npy, &big, 1) < -1);
    assert_true(md_npy_append_f32(npy, &neg, 1) < -1);
    assert_int_equal(md_npy_close(npy, 0), 0);
    assert_int_equal(n_entries(dir), 5);
}

static void test_npy_zero_rows(void **state)
{
    (void)state;
    char dir[512], path[600], dict[1024];
    fresh_dir(dir, sizeof dir, "npy_zero");
    snprintf(path, sizeof path, "%s/z.npy", dir);
    int64_t row[] = {4, 16};
    md_npy *npy = md_npy_open(path, MD_F32, row, 2);
    assert_non_null(npy);
    assert_int_equal(md_npy_close(npy, 1), 0);
    size_t hs = npy_header_size(path, dict, sizeof dict);
    struct stat st;
    stat(path, &st);
    assert_int_equal((size_t)st.st_size, hs);
    assert_int_equal(npy_check(path, "<f4", "0,4,16", "", NULL), 0);

    /* Many row shapes: each header keeps room for a 20-digit row count
     * (at least 19 spaces of padding after "0"), whatever the dict length. */
    for (int nd = 0; nd <= 24; nd++) {
        for (int64_t d = 1; d <= 100000; d *= 10) {
            int64_t shape[24];
            char shape_s[256];
            int n = snprintf(shape_s, sizeof shape_s, "0");
            for (int i = 0; i < nd; i++) {
                shape[i] = i == 0 ? d : 1 + 10 * (i == 5);
                n += snprintf(shape_s + n, sizeof shape_s - (size_t)n, ",%lld", (long long)shape[i]);
            }
            snprintf(path, sizeof path, "%s/z_%d_%lld.npy", dir, nd, (long long)d);
            npy = md_npy_open(path, MD_I32, shape, nd);
            if (!npy) print_error("%s\n", md_last_error());
            assert_non_null(npy);
            assert_int_equal(md_npy_close(npy, 1), 0);
            hs = npy_header_size(path, dict, sizeof dict);
            size_t used = strlen(dict);
            while (used > 0 && (dict[used - 1] == ' ' || dict[used - 1] == '\n')) used--;
            assert_true(hs - 10 - 1 - used >= 19);
            assert_true(hs - 10 - 1 - used < 19 + 64);
            if (d == 100000 && nd % 8 == 0)
                assert_int_equal(npy_check(path, "<i4", shape_s, "", NULL), 0);
        }
    }
}

/* A large row count (more digits than at open) keeps the header length. */
static void test_npy_many_rows(void **state)
{
    (void)state;
    char dir[512], path[600], dict[1024];
    fresh_dir(dir, sizeof dir, "npy_many");
    snprintf(path, sizeof path, "%s/m.npy", dir);
    md_npy *npy = md_npy_open(path, MD_U8, NULL, 0);
    assert_non_null(npy);
    enum { N = 1234567 };
    unsigned char *buf = malloc(N);
    long long sum = 0;
    for (int i = 0; i < N; i++) {
        buf[i] = (unsigned char)(i * 7);
        sum += buf[i];
    }
    assert_int_equal(md_npy_append_raw(npy, buf, N), 0);
    assert_int_equal(md_npy_close(npy, 1), 0);
    free(buf);
    size_t hs = npy_header_size(path, dict, sizeof dict);
    assert_int_equal(hs, 128); /* the dict with 20 digits of room: 60 + 20 + 10 > 64 */
    char sums[32], vals[64];
    snprintf(sums, sizeof sums, "%lld", sum);
    snprintf(vals, sizeof vals, "0,7,14,21,28,35,42,49,56,63,70,77,84,91,98,105");
    assert_int_equal(npy_check(path, "|u1", "1234567", vals, sums), 0);
}

static void test_npy_errors(void **state)
{
    (void)state;
    char dir[512], path[600];
    fresh_dir(dir, sizeof dir, "npy_err");
    snprintf(path, sizeof path, "%s/e.npy", dir);
    int64_t row[] = {3};
    assert_null(md_npy_open(path, MD_BF16, row, 1));
    assert_non_null(strstr(md_last_error(), "bfloat16"));
    assert_null(md_npy_open(path, 99, row, 1));
    assert_null(md_npy_open("-", MD_F32, row, 1));
    assert_non_null(strstr(md_last_error(), "standard output"));
    int64_t neg[] = {-1};
    assert_null(md_npy_open(path, MD_F32, neg, 1));
    assert_null(md_npy_open(path, MD_F32, row, -1));
    assert_int_equal(n_entries(dir), 0);

    /* Closed without commit: nothing left. */
    md_npy *npy = md_npy_open(path, MD_F32, row, 1);
    float v[3] = {1, 2, 3};
    assert_int_equal(md_npy_append_f32(npy, v, 1), 0);
    assert_int_equal(md_npy_close(npy, 0), 0);
    assert_int_equal(n_entries(dir), 0);
}

/* ------------------------------------------------------------------ */
/* Half precision                                                      */
/* ------------------------------------------------------------------ */

static void test_f16_exhaustive_roundtrip(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = md_f16_to_f32((uint16_t)h);
        int is_nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
        if (is_nan) {
            assert_true(isnan(f));
            assert_true(isnan(md_f16_to_f32(md_f32_to_f16(f))));
        } else {
            assert_false(isnan(f));
        }
        assert_int_equal(md_f32_to_f16(f), h); /* exact, NaN payloads too */
        assert_int_equal(signbit(f) != 0, (h & 0x8000) != 0);
    }
    /* Values: every finite float16 equals sign * m * 2^(e-25) computed here. */
    for (uint32_t h = 0; h < 0x7c00; h++) {
        uint32_t e = h >> 10, m = h & 0x3ff;
        double want = e ? ldexp(1024 + m, (int)e - 25) : ldexp(m, -24);
        assert_true(md_f16_to_f32((uint16_t)h) == (float)want);
        assert_true(md_f16_to_f32((uint16_t)(h | 0x8000)) == (float)-want);
    }
}

static void test_f16_known_values(void **state)
{
    (void)state;
    assert_int_equal(md_f32_to_f16(0.0f), 0x0000);
    assert_int_equal(md_f32_to_f16(-0.0f), 0x8000);
    assert_int_equal(md_f32_to_f16(1.0f), 0x3c00);
    assert_int_equal(md_f32_to_f16(-2.0f), 0xc000);
    assert_int_equal(md_f32_to_f16(0.1f), 0x2e66);
    assert_int_equal(md_f32_to_f16(65504.0f), 0x7bff);
    assert_int_equal(md_f32_to_f16(65519.996f), 0x7bff); /* below the midpoint */
    assert_int_equal(md_f32_to_f16(65520.0f), 0x7c00);   /* midpoint: ties to even = inf */
    assert_int_equal(md_f32_to_f16(1e10f), 0x7c00);
    assert_int_equal(md_f32_to_f16(-1e10f), 0xfc00);
    assert_int_equal(md_f32_to_f16(INFINITY), 0x7c00);
    assert_int_equal(md_f32_to_f16(-INFINITY), 0xfc00);
    assert_true(isnan(md_f16_to_f32(md_f32_to_f16(NAN))));
    assert_true(isnan(md_f16_to_f32(md_f32_to_f16(f32_of(0x7f800001u))))); /* low payload */
    assert_true(isnan(md_f16_to_f32(md_f32_to_f16(f32_of(0xff800001u)))));
    assert_true(md_f16_to_f32(0x7c00) == INFINITY);
    assert_true(md_f16_to_f32(0xfc00) == -INFINITY);
    assert_true(md_f16_to_f32(0x7bff) == 65504.0f);

    /* The subnormal boundary: 2^-14 = 6.1035156e-5 is the smallest normal. */
    assert_int_equal(md_f32_to_f16(6.1035156e-5f), 0x0400);
    assert_true(md_f16_to_f32(0x0400) == ldexpf(1.0f, -14));
    assert_int_equal(md_f32_to_f16(6.0975552e-5f), 0x03ff); /* largest subnormal */
    assert_true(md_f16_to_f32(0x03ff) == ldexpf(1023.0f, -24));
    assert_int_equal(md_f32_to_f16(6.1e-5f), 0x03ff);         /* rounds to it */
    assert_int_equal(md_f32_to_f16(ldexpf(1023.5f, -24)), 0x0400); /* tie: to even */
    assert_int_equal(md_f32_to_f16(ldexpf(1.0f, -24)), 0x0001); /* smallest subnormal */
    assert_int_equal(md_f32_to_f16(ldexpf(1.0f, -25)), 0x0000); /* tie: to even = 0 */
    assert_int_equal(md_f32_to_f16(nextafterf(ldexpf(1.0f, -25), 1.0f)), 0x0001);
    assert_int_equal(md_f32_to_f16(ldexpf(3.0f, -25)), 0x0002); /* 1.5 ulp: to even */
    assert_int_equal(md_f32_to_f16(ldexpf(5.0f, -25)), 0x0002); /* 2.5 ulp: to even */
    assert_int_equal(md_f32_to_f16(-ldexpf(5.0f, -25)), 0x8002);
    assert_int_equal(md_f32_to_f16(ldexpf(1.0f, -26)), 0x0000);
    assert_int_equal(md_f32_to_f16(-ldexpf(1.0f, -26)), 0x8000);
    assert_int_equal(md_f32_to_f16(FLT_TRUE_MIN), 0x0000);

    /* Normal ties: 1 + 2^-11 is halfway between 1 and 1 + 2^-10. */
    assert_int_equal(md_f32_to_f16(1.0f + ldexpf(1.0f, -11)), 0x3c00);
    assert_int_equal(md_f32_to_f16(1.0f + 3 * ldexpf(1.0f, -11)), 0x3c02);
    assert_int_equal(md_f32_to_f16(nextafterf(1.0f + ldexpf(1.0f, -11), 2.0f)), 0x3c01);
    assert_int_equal(md_f32_to_f16(nextafterf(1.0f + 3 * ldexpf(1.0f, -11), 0.0f)), 0x3c01);
    /* A carry into the exponent: 2 - 2^-11 rounds up to 2. */
    assert_int_equal(md_f32_to_f16(2.0f - ldexpf(1.0f, -11)), 0x4000);
}

/* Every midpoint between neighbouring float16 values, and the floats just
 * around it, against the exact rule. */
static void test_f16_all_midpoints(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < 0x7bff; h++) {
        float lo = md_f16_to_f32((uint16_t)h), hi = md_f16_to_f32((uint16_t)(h + 1));
        float mid = (float)(((double)lo + (double)hi) / 2); /* exact in float32 */
        uint16_t even = (h & 1) ? (uint16_t)(h + 1) : (uint16_t)h;
        assert_int_equal(md_f32_to_f16(mid), even);
        assert_int_equal(md_f32_to_f16(nextafterf(mid, 0.0f)), h);
        assert_int_equal(md_f32_to_f16(nextafterf(mid, INFINITY)), h + 1);
        assert_int_equal(md_f32_to_f16(-mid), even | 0x8000);
    }
#ifdef __FLT16_MAX__
    /* And a broad sample of float32 against the compiler's _Float16. */
    uint32_t x = 1;
    for (int i = 0; i < 4000000; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        float f = f32_of(x);
        if (isnan(f)) continue;
        _Float16 r = (_Float16)f;
        uint16_t want;
        memcpy(&want, &r, 2);
        assert_int_equal(md_f32_to_f16(f), want);
    }
#endif
}

static void test_bf16(void **state)
{
    (void)state;
    assert_int_equal(md_f32_to_bf16(1.0f), 0x3f80);
    assert_int_equal(md_f32_to_bf16(-2.0f), 0xc000);
    assert_int_equal(md_f32_to_bf16(0.0f), 0x0000);
    assert_int_equal(md_f32_to_bf16(-0.0f), 0x8000);
    assert_int_equal(md_f32_to_bf16(1.0f + ldexpf(1.0f, -8)), 0x3f80);     /* tie: even */
    assert_int_equal(md_f32_to_bf16(1.0f + 3 * ldexpf(1.0f, -8)), 0x3f82); /* tie: even */
    assert_int_equal(md_f32_to_bf16(nextafterf(1.0f + ldexpf(1.0f, -8), 2.0f)), 0x3f81);
    assert_int_equal(md_f32_to_bf16(0.1f), 0x3dcd);
    assert_int_equal(md_f32_to_bf16(FLT_MAX), 0x7f80); /* rounds up to inf */
    assert_int_equal(md_f32_to_bf16(f32_of(0x7f7f7fffu)), 0x7f7f);
    assert_int_equal(md_f32_to_bf16(INFINITY), 0x7f80);
    assert_int_equal(md_f32_to_bf16(-INFINITY), 0xff80);
    assert_int_equal(md_f32_to_bf16(f32_of(0x00008000u)), 0x0000); /* subnormal tie */
    assert_int_equal(md_f32_to_bf16(f32_of(0x00018000u)), 0x0002);
    assert_int_equal(md_f32_to_bf16(f32_of(0x00018001u)), 0x0002);
    assert_int_equal(md_f32_to_bf16(f32_of(0x00008001u)), 0x0001);
    /* NaN stays NaN, even with only low payload bits; inf stays inf. */
    assert_true(isnan(md_bf16_to_f32(md_f32_to_bf16(NAN))));
    assert_true(isnan(md_bf16_to_f32(md_f32_to_bf16(f32_of(0x7f800001u)))));
    assert_true(isnan(md_bf16_to_f32(md_f32_to_bf16(f32_of(0xffffffffu)))));
    assert_true(md_bf16_to_f32(0x7f80) == INFINITY);
    /* Every bf16 survives the round trip; finite ones exactly. */
    for (uint32_t h = 0; h < 65536; h++) {
        float f = md_bf16_to_f32((uint16_t)h);
        assert_int_equal(bits_of(f), h << 16);
        uint16_t back = md_f32_to_bf16(f);
        if (isnan(f))
            assert_true(isnan(md_bf16_to_f32(back)));
        else
            assert_int_equal(back, h);
    }
    /* Against the rule on a sample: the nearer neighbour, ties to even. */
    uint32_t x = 7;
    for (int i = 0; i < 1000000; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        float f = f32_of(x);
        if (!isfinite(f)) continue;
        uint32_t lo = x & 0xffff0000u;
        uint32_t rem = x & 0xffffu;
        uint32_t want = (lo >> 16) + (rem > 0x8000u || (rem == 0x8000u && ((lo >> 16) & 1)));
        assert_int_equal(md_f32_to_bf16(f), (uint16_t)want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bedgraph_text),
        cmocka_unit_test(test_bedgraph_roundtrip_values),
        cmocka_unit_test(test_bedgraph_errors),
        cmocka_unit_test(test_bigwig_roundtrip),
        cmocka_unit_test(test_bigwig_errors),
        cmocka_unit_test(test_npy_f32),
        cmocka_unit_test(test_npy_f16),
        cmocka_unit_test(test_npy_i64_and_raw),
        cmocka_unit_test(test_npy_other_dtypes),
        cmocka_unit_test(test_npy_zero_rows),
        cmocka_unit_test(test_npy_many_rows),
        cmocka_unit_test(test_npy_errors),
        cmocka_unit_test(test_f16_exhaustive_roundtrip),
        cmocka_unit_test(test_f16_known_values),
        cmocka_unit_test(test_f16_all_midpoints),
        cmocka_unit_test(test_bf16),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
