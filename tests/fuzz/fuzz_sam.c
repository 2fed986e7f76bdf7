/* fuzz_sam.c: SAM and BAM records through md_reader. The first byte picks
 * the container: even, the rest is SAM text; odd, the rest follows the BAM
 * magic ("BAM\1") and is wrapped here into BGZF blocks with the end-of-file
 * block, so that the fuzzer mutates headers and records rather than deflate
 * streams. The second byte picks the reader options. A record's bases must
 * match its BAM record, in read orientation when asked; nothing may crash or
 * leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <htslib/hts.h>
#include <htslib/sam.h>
#include <zlib.h>

#include "data_url.h"
#include "mambadna.h"

#define BLOCK 0xff00 /* uncompressed bytes per BGZF block */

static const uint8_t eof_block[28] = {0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 0xff, 6, 0, 'B', 'C',
                                      2, 0, 0x1b, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0};

/* BGZF of raw[n] into out (capacity enough for n + 64 per block + 28). */
static size_t bgzf_wrap(const uint8_t *raw, size_t n, uint8_t *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += BLOCK) {
        size_t k = n - i < BLOCK ? n - i : BLOCK;
        z_stream z;
        memset(&z, 0, sizeof z);
        if (deflateInit2(&z, 1, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) abort();
        static const uint8_t hdr[16] = {0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 0xff, 6, 0, 'B', 'C', 2, 0};
        memcpy(out + o, hdr, 16);
        z.next_in = (uint8_t *)raw + i;
        z.avail_in = (uInt)k;
        z.next_out = out + o + 18;
        z.avail_out = (uInt)(k + 64);
        if (deflate(&z, Z_FINISH) != Z_STREAM_END) abort();
        size_t clen = z.total_out, bsize = 18 + clen + 8;
        deflateEnd(&z);
        out[o + 16] = (uint8_t)((bsize - 1) & 0xff);
        out[o + 17] = (uint8_t)((bsize - 1) >> 8);
        uint32_t crc = (uint32_t)crc32(0, raw + i, (uInt)k), isize = (uint32_t)k;
        for (int b = 0; b < 4; b++) {
            out[o + 18 + clen + b] = (uint8_t)(crc >> (8 * b));
            out[o + 22 + clen + b] = (uint8_t)(isize >> (8 * b));
        }
        o += bsize;
    }
    memcpy(out + o, eof_block, sizeof eof_block);
    return o + sizeof eof_block;
}

/* The little-endian uint32 at data[at], or 0 beyond the input. */
static size_t u32_at(const uint8_t *data, size_t size, size_t at)
{
    if (at > size || size - at < 4) return 0;
    return (size_t)data[at] | (size_t)data[at + 1] << 8 | (size_t)data[at + 2] << 16 |
           (size_t)data[at + 3] << 24;
}

/* Whether a BAM body (after the magic) claims a header text or a contig
 * count beyond the input, or a contig name or record longer than MAX_CLAIM:
 * htslib allocates what is claimed before reading it (and a million contigs
 * one by one), which under ASan takes most of the fuzzing time and finds
 * nothing of the library's. */
#define MAX_CLAIM ((size_t)1 << 20)
static int claims_too_much(const uint8_t *data, size_t size)
{
    size_t at = 0, n = u32_at(data, size, at);
    if (n > size) return 1;
    at += 4 + n;
    size_t n_ref = u32_at(data, size, at);
    if (n_ref > size) return 1;
    at += 4;
    for (size_t i = 0; i < n_ref && at < size; i++) {
        if ((n = u32_at(data, size, at)) > MAX_CLAIM) return 1;
        at += 8 + n;
    }
    for (; at < size; at += 4 + n)
        if ((n = u32_at(data, size, at)) > MAX_CLAIM) return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        hts_set_log_level(HTS_LOG_OFF);
        md_set_log_level(MD_LOG_ERROR);
        init = 1;
    }
    if (size < 2) return 0;
    int bam = data[0] & 1;
    md_reader_opt opt;
    md_reader_opt_init(&opt);
    opt.restore_orientation = data[1] & 1;
    opt.primary_only = (data[1] >> 1) & 1;
    opt.keep_records = (data[1] >> 2) & 1;
    data += 2;
    size -= 2;
    char *url;
    if (bam && claims_too_much(data, size)) return 0;
    if (bam) {
        size_t n = size + 4;
        uint8_t *raw = malloc(n), *z = malloc(n + (n / BLOCK + 1) * 64 + 28);
        if (!raw || !z) {
            free(raw);
            free(z);
            return 0;
        }
        memcpy(raw, "BAM\1", 4);
        memcpy(raw + 4, data, size);
        url = data_url(z, bgzf_wrap(raw, n, z));
        free(raw);
        free(z);
    } else {
        url = data_url(data, size);
    }
    if (!url) return 0;
    md_reader *r = md_reader_open(url, &opt);
    free(url);
    if (!r) return 0;
    int fmt = md_reader_format(r);
    if (fmt != MD_FMT_SAM && fmt != MD_FMT_BAM) { /* text that is not SAM */
        md_reader_close(r);
        return 0;
    }
    if (!md_reader_sam_header(r)) abort();
    md_record rec = {0};
    int ret, n = 0;
    while ((ret = md_reader_next(r, &rec)) == 0 && n++ < 100000) {
        if (!rec.name || !rec.comment || !rec.seq || rec.len < 0) abort();
        if (rec.seq[rec.len] != '\0' || (int64_t)strlen(rec.seq) != rec.len) abort();
        if (opt.primary_only && (rec.flag & (BAM_FSECONDARY | BAM_FSUPPLEMENTARY))) abort();
        if (opt.keep_records != (rec.bam != NULL)) abort();
        if (rec.bam) {
            const bam1_t *b = rec.bam;
            if (b->core.flag != rec.flag || (b->core.l_qseq > 0 ? b->core.l_qseq : 0) != rec.len)
                abort();
            const uint8_t *s = bam_get_seq(b);
            int rev = opt.restore_orientation && (b->core.flag & BAM_FREVERSE);
            if (rec.len && !rev && seq_nt16_str[bam_seqi(s, 0)] != rec.seq[0]) abort();
        }
    }
    if (ret != 0 && ret != MD_EOF && (ret > -2 || !*md_last_error())) abort();
    md_record_free(&rec);
    md_reader_close(r);
    return 0;
}
