/* Stub of htslib/hts.h for building src/log.c into the CUDA dev harnesses on
 * machines without htslib (the GPU machine). Not used by the library build. */
#ifndef MD_STUB_HTS_H
#define MD_STUB_HTS_H
static inline const char *hts_version(void) { return "none (harness stub)"; }
#endif
