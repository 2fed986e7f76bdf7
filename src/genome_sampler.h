/* genome_sampler.h: random windows of genomes held in memory, for
 * pretraining (private). */
#ifndef MD_GENOME_SAMPLER_H
#define MD_GENOME_SAMPLER_H

#include <stdint.h>

#include "optim.h"

/** Windows with more than this fraction of N are skipped [0.1]. */
void md_genome_set_max_n(md_genome *g, double max_n_frac);
/** One window of L tokens into out[L]: a contig drawn with probability
 *  proportional to its number of windows (len - L + 1: every start of the
 *  genome equally likely), a uniform start, skipped and drawn again while
 *  its N fraction is above the limit; reverse complemented with probability
 *  0.5 when rc != 0. Everything drawn from r. *n_skipped (may be NULL) gets
 *  the count of N-rich windows skipped. Error when no contig holds L bases
 *  or 10000 draws in a row are N-rich. */
int md_genome_sample(md_genome *g, md_rng *r, int64_t L, int rc, uint8_t *out,
                     int64_t *n_skipped);

#endif
