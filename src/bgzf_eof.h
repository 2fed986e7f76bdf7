/* bgzf_eof.h: the end-of-file check of BGZF and CRAM inputs (private).
 *
 * Every BGZF writer (bgzip, samtools, htslib) ends a file with an empty
 * 28-byte block, and every CRAM writer with an empty container. A file cut
 * at a block boundary decompresses without error, so that marker is the
 * only sign that data is missing: without it an input is refused, unless the
 * caller allows it (then a warning names the file). */
#ifndef MD_BGZF_EOF_H
#define MD_BGZF_EOF_H

#include <htslib/hts.h>

/* Where the marker could be checked. */
enum { MD_EOF_CHECKED = 0, MD_EOF_CHECK_AT_END = 1 };

/** Check the marker of an open htsFile (BAM, bgzip SAM/FASTA/FASTQ/CSV,
 *  CRAM; other formats pass) before reading it. Returns MD_EOF_CHECKED,
 *  MD_EOF_CHECK_AT_END when the input cannot seek (a pipe: call
 *  md_eof_check_at_end once it is read to its end), or MD_ERR_FORMAT with
 *  a message naming the file when the marker is missing and allow is 0. */
int md_eof_check_hts(htsFile *fp, const char *name, int allow);
/** The same for a BGZF stream opened by bgzf_open/bgzf_hopen. */
int md_eof_check_bgzf(BGZF *fp, const char *name, int allow);
/** After the last block of a stream that could not seek: 0, or
 *  MD_ERR_FORMAT when that block was not the marker (and allow is 0). */
int md_eof_check_at_end(BGZF *fp, const char *name, int allow);

#endif
