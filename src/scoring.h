/* scoring.h: window scoring shared by `score`, `variants` and `explain`
 * (private: not installed). */
#ifndef MD_SCORING_H
#define MD_SCORING_H

#include "mambadna.h"

/* Strand scores of n windows of L tokens each, exactly as md_score_run
 * scores its windows (o resolved by md_score_opt_resolve). rows (2n, L):
 * the windows as read in the first n rows, the rest scratch for their
 * reverse complements (rows are modified); prob (2n, C) scratch, C the
 * model's classes. out[n] gets plus, minus and score (beg, end untouched). */
int md_classify_windows(md_model *m, const md_score_opt *o, uint8_t *rows, int n, int64_t L,
                        float *prob, md_window_score *out);

#endif
