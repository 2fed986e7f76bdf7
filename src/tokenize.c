/* tokenize.c: nucleotides -> token ids, reverse complement, windows. */
#include <string.h>

#include "mambadna.h"

/* Byte -> token id: ACGT (either case) to their ids, anything else to N. */
static const uint8_t *token_table(void)
{
    static uint8_t table[256];
    static int ready;
    if (!ready) {
        memset(table, MD_TOK_N, sizeof table);
        table['A'] = table['a'] = MD_TOK_A;
        table['C'] = table['c'] = MD_TOK_C;
        table['G'] = table['g'] = MD_TOK_G;
        table['T'] = table['t'] = MD_TOK_T;
        ready = 1; /* idempotent: racing threads write the same bytes */
    }
    return table;
}

void md_tokenize(const char *seq, int64_t len, uint8_t *ids)
{
    const uint8_t *table = token_table();
    const unsigned char *s = (const unsigned char *)seq;
    for (int64_t i = 0; i < len; i++) ids[i] = table[s[i]];
}

void md_softmask(const char *seq, int64_t len, uint8_t *mask)
{
    for (int64_t i = 0; i < len; i++)
        mask[i] = seq[i] >= 'a' && seq[i] <= 'z';
}

int64_t md_count_n(const uint8_t *ids, int64_t len)
{
    int64_t n = 0;
    for (int64_t i = 0; i < len; i++) n += ids[i] == MD_TOK_N;
    return n;
}

static char complement_base(char c)
{
    static const char from[] = "ACGTUMRWSYKVHDBNacgtumrwsykvhdbn";
    static const char to[]   = "TGCAAKYWSRMBDHVNtgcaakywsrmbdhvn";
    const char *p = c ? strchr(from, c) : NULL;
    return p ? to[p - from] : c;
}

void md_revcomp_seq(char *seq, int64_t len)
{
    for (int64_t i = 0, j = len - 1; i <= j; i++, j--) {
        char a = complement_base(seq[i]), b = complement_base(seq[j]);
        seq[i] = b;
        seq[j] = a;
    }
}

int md_complement_token(int id)
{
    switch (id) {
    case MD_TOK_A: return MD_TOK_T;
    case MD_TOK_T: return MD_TOK_A;
    case MD_TOK_C: return MD_TOK_G;
    case MD_TOK_G: return MD_TOK_C;
    default: return id;
    }
}

void md_revcomp_tokens(uint8_t *ids, int64_t len)
{
    for (int64_t i = 0, j = len - 1; i <= j; i++, j--) {
        uint8_t a = (uint8_t)md_complement_token(ids[i]);
        uint8_t b = (uint8_t)md_complement_token(ids[j]);
        ids[i] = b;
        ids[j] = a;
    }
}

const char *md_token_name(int id)
{
    static const char *names[MD_VOCAB_SIZE] = {
        "[CLS]", "[SEP]", "[BOS]", "[MASK]", "[PAD]", "[RESERVED]", "[UNK]",
        "A", "C", "G", "T", "N", "[UNUSED12]", "[UNUSED13]", "[UNUSED14]",
        "[UNUSED15]"};
    return id >= 0 && id < MD_VOCAB_SIZE ? names[id] : "?";
}

int md_window_iter_init(md_window_iter *it, int64_t len, int64_t window,
                        int64_t stride, int last)
{
    if (len < 0 || window < 1 || stride < 1)
        return md_error(MD_ERR_ARG, "window %lld and stride %lld must be >= 1",
                        (long long)window, (long long)stride);
    if (last < MD_LAST_SHIFT || last > MD_LAST_PAD)
        return md_error(MD_ERR_ARG, "unknown last-window policy %d", last);
    it->len = len;
    it->window = window;
    it->stride = stride;
    it->last = last;
    it->next = 0;
    it->done = len == 0;
    return 0;
}

int md_window_next(md_window_iter *it, int64_t *beg, int64_t *end)
{
    if (it->done) return MD_EOF;
    if (it->len <= it->window) { /* the whole sequence is one window */
        it->done = 1;
        if (it->len < it->window && it->last == MD_LAST_DROP) return MD_EOF;
        *beg = 0;
        *end = it->len;
        return 0;
    }
    int64_t b = it->next;
    if (b + it->window <= it->len) { /* a full window */
        *beg = b;
        *end = b + it->window;
        it->next = b + it->stride;
        if (*end == it->len) it->done = 1;
        return 0;
    }
    /* the rest [b, len) is shorter than a window, or empty when the
     * stride is longer than the window */
    it->done = 1;
    if (b >= it->len && (it->last != MD_LAST_SHIFT || b - it->stride + it->window >= it->len))
        return MD_EOF;
    switch (it->last) {
    case MD_LAST_SHIFT:
        *beg = it->len - it->window;
        *end = it->len;
        return 0;
    case MD_LAST_PARTIAL:
    case MD_LAST_PAD:
        *beg = b;
        *end = it->len;
        return 0;
    default:
        return MD_EOF;
    }
}
