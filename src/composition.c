/* composition.c: base composition of a sequence, the trivial baselines that
 * every promoter model is compared with: GC content and the CpG
 * observed/expected ratio (Gardiner-Garden and Frommer, 1987). */
#include <stdint.h>

#include "mambadna.h"

void md_seq_composition(const char *seq, int64_t len, md_composition *out)
{
    int64_t acgt = 0, c = 0, g = 0, cpg = 0;
    char prev = 0;
    for (int64_t i = 0; i < len; i++) {
        char b = seq[i] & ~0x20; /* upper case */
        switch (b) {
        case 'A':
        case 'T': acgt++; break;
        case 'C': acgt++, c++; break;
        case 'G':
            acgt++, g++;
            cpg += prev == 'C';
            break;
        default: break;
        }
        prev = b;
    }
    out->acgt = acgt;
    out->gc = acgt ? (double)(c + g) / (double)acgt : 0.0;
    out->cpg_oe = c && g ? (double)cpg * (double)acgt / ((double)c * (double)g) : 0.0;
}
