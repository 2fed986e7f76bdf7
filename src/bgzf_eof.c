/* bgzf_eof.c: refuse BGZF and CRAM inputs without their end-of-file marker
 * (see bgzf_eof.h). */
#include <htslib/bgzf.h>
#include <htslib/cram.h>

#include "bgzf_eof.h"
#include "mambadna.h"

static int missing(const char *name, int allow)
{
    if (allow) {
        md_log(MD_LOG_WARN, "%s has no end-of-file marker: it may be truncated; read as it is",
               name);
        return MD_EOF_CHECKED;
    }
    return md_error(MD_ERR_FORMAT,
                    "%s has no end-of-file marker: the file is truncated (cut at a block "
                    "boundary, records are missing) or its writer left the marker out; "
                    "recreate it (bgzip, samtools), or read what is there with --allow-no-eof",
                    name);
}

/* has: 1 present, 0 absent, 2 cannot seek, < 0 read error. */
static int verdict(int has, const char *name, int allow)
{
    if (has == 1) return MD_EOF_CHECKED;
    if (has == 2) return MD_EOF_CHECK_AT_END;
    if (has == 0) return missing(name, allow);
    return md_error(MD_ERR_IO, "%s: cannot read the end of the file to check its end-of-file "
                    "marker", name);
}

int md_eof_check_bgzf(BGZF *fp, const char *name, int allow)
{
    if (!fp->is_compressed || fp->is_gzip) return MD_EOF_CHECKED; /* plain or plain gzip */
    return verdict(bgzf_check_EOF(fp), name, allow);
}

int md_eof_check_hts(htsFile *fp, const char *name, int allow)
{
    const htsFormat *fmt = hts_get_format(fp);
    if (fmt->format == cram) { /* a CRAM stream from a pipe is not checked */
        int has = cram_check_EOF(fp->fp.cram);
        return has == 2 ? MD_EOF_CHECKED : verdict(has, name, allow);
    }
    if (fmt->compression != bgzf || !fp->is_bgzf) return MD_EOF_CHECKED;
    return md_eof_check_bgzf(fp->fp.bgzf, name, allow);
}

int md_eof_check_at_end(BGZF *fp, const char *name, int allow)
{
    return fp->last_block_eof ? 0 : (missing(name, allow) < 0 ? MD_ERR_FORMAT : 0);
}
