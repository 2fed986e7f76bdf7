/* tmpname.h: temporary names for writers that open their
 * files themselves (private; outfile.c). */
#ifndef MD_TMPNAME_H
#define MD_TMPNAME_H

/** Reserve a temporary name for a writer that opens files itself (libBigWig,
 *  htslib): returns a malloc'ed "DIR/.NAME.tmpXXXXXX"-style path registered
 *  for cleanup; commit with md_tmpname_commit (rename) or md_tmpname_abort. */
char *md_tmpname_reserve(const char *final_path);
int md_tmpname_commit(char *tmp_path, const char *final_path);
void md_tmpname_abort(char *tmp_path);

#endif
