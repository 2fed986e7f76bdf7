/* test_tokenize.c: tokenizer ids, soft-masking, reverse complement and the
 * window iterator. */
#include "testutil.h"

static void test_ids(void **state)
{
    (void)state;
    const char *seq = "ACGTacgtNnRYKM-*\r";
    uint8_t ids[17];
    md_tokenize(seq, 17, ids);
    const uint8_t want[17] = {7, 8, 9, 10, 7, 8, 9, 10, 11, 11, 11, 11, 11, 11, 11, 11, 11};
    assert_memory_equal(ids, want, 17);
    assert_int_equal(md_count_n(ids, 17), 9);
    assert_string_equal(md_token_name(MD_TOK_PAD), "[PAD]");
    assert_string_equal(md_token_name(MD_TOK_G), "G");
}

static void test_softmask(void **state)
{
    (void)state;
    uint8_t mask[6];
    md_softmask("AcGtnN", 6, mask);
    const uint8_t want[6] = {0, 1, 0, 1, 1, 0};
    assert_memory_equal(mask, want, 6);
}

static void test_revcomp(void **state)
{
    (void)state;
    char seq[] = "AACGTtgcaNRYKMx";
    md_revcomp_seq(seq, (int64_t)strlen(seq));
    assert_string_equal(seq, "xKMRYNtgcaACGTT");
    uint8_t ids[7] = {MD_TOK_A, MD_TOK_C, MD_TOK_C, MD_TOK_G, MD_TOK_N, MD_TOK_PAD, MD_TOK_T};
    md_revcomp_tokens(ids, 7);
    const uint8_t want[7] = {MD_TOK_A, MD_TOK_PAD, MD_TOK_N, MD_TOK_C, MD_TOK_G, MD_TOK_G, MD_TOK_T};
    assert_memory_equal(ids, want, 7);
    /* tokenizing the reverse complement equals reverse-complementing tokens */
    char s2[] = "GATTACAGGNCC";
    uint8_t a[12], b[12];
    md_tokenize(s2, 12, a);
    md_revcomp_tokens(a, 12);
    md_revcomp_seq(s2, 12);
    md_tokenize(s2, 12, b);
    assert_memory_equal(a, b, 12);
}

/* Collect all windows of an iterator as "beg-end," text. */
static void windows(int64_t len, int64_t w, int64_t s, int last, char *out, size_t size)
{
    md_window_iter it;
    assert_int_equal(md_window_iter_init(&it, len, w, s, last), 0);
    int64_t b, e;
    out[0] = 0;
    while (md_window_next(&it, &b, &e) == 0)
        snprintf(out + strlen(out), size - strlen(out), "%lld-%lld,", (long long)b, (long long)e);
}

static void test_windows(void **state)
{
    (void)state;
    char buf[512];
    windows(10, 4, 4, MD_LAST_SHIFT, buf, sizeof buf);
    assert_string_equal(buf, "0-4,4-8,6-10,");
    windows(10, 4, 4, MD_LAST_PARTIAL, buf, sizeof buf);
    assert_string_equal(buf, "0-4,4-8,8-10,");
    windows(10, 4, 4, MD_LAST_DROP, buf, sizeof buf);
    assert_string_equal(buf, "0-4,4-8,");
    windows(8, 4, 2, MD_LAST_SHIFT, buf, sizeof buf);
    assert_string_equal(buf, "0-4,2-6,4-8,");
    windows(3, 4, 2, MD_LAST_SHIFT, buf, sizeof buf);
    assert_string_equal(buf, "0-3,");
    windows(3, 4, 2, MD_LAST_DROP, buf, sizeof buf);
    assert_string_equal(buf, "");
    windows(10, 3, 5, MD_LAST_SHIFT, buf, sizeof buf); /* stride > window */
    assert_string_equal(buf, "0-3,5-8,7-10,");
    windows(0, 3, 1, MD_LAST_SHIFT, buf, sizeof buf);
    assert_string_equal(buf, "");
    md_window_iter it;
    assert_true(md_window_iter_init(&it, 10, 0, 1, MD_LAST_SHIFT) < -1);
    assert_true(md_window_iter_init(&it, 10, 5, 0, MD_LAST_SHIFT) < -1);
}

/* Every base is covered by some window under the shift policy, for many
 * lengths, windows and strides. */
static void test_windows_cover(void **state)
{
    (void)state;
    for (int64_t len = 1; len < 60; len++)
        for (int64_t w = 1; w < 12; w++)
            for (int64_t s = 1; s <= w; s++) {
                md_window_iter it;
                md_window_iter_init(&it, len, w, s, MD_LAST_SHIFT);
                char covered[64] = {0};
                int64_t b, e;
                while (md_window_next(&it, &b, &e) == 0) {
                    assert_true(b >= 0 && e <= len && b < e);
                    assert_true(e - b == (len < w ? len : w));
                    for (int64_t i = b; i < e; i++) covered[i] = 1;
                }
                for (int64_t i = 0; i < len; i++) assert_int_equal(covered[i], 1);
            }
}

/* Tokenization throughput on one megabase (printed, never asserted). */
static void test_tokenize_large(void **state)
{
    (void)state;
    const int64_t n = 1 << 20;
    char *seq = malloc(n);
    uint8_t *ids = malloc(n);
    for (int64_t i = 0; i < n; i++) seq[i] = "ACGTacgtN"[(i * 2654435761u) % 9];
    md_tokenize(seq, n, ids);
    for (int64_t i = 0; i < n; i++) assert_true(ids[i] >= MD_TOK_A && ids[i] <= MD_TOK_N);
    free(seq);
    free(ids);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids),     cmocka_unit_test(test_softmask),
        cmocka_unit_test(test_revcomp), cmocka_unit_test(test_windows),
        cmocka_unit_test(test_windows_cover), cmocka_unit_test(test_tokenize_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
