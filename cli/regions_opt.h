/* regions_opt.h: the -r/-R region options shared by commands. */
#ifndef MD_CLI_REGIONS_OPT_H
#define MD_CLI_REGIONS_OPT_H

#include <stddef.h>
#include <stdint.h>

#include "mambadna.h"

typedef struct cli_regions {
    md_region *items; /* [n] */
    size_t n, cap;
} cli_regions;

/* Add "-r chr:beg-end" (1-based inclusive). 0 or error. */
int cli_regions_add_string(cli_regions *r, const char *str);
/* Add every region of "-R file.bed". 0 or error. */
int cli_regions_add_bed(cli_regions *r, const char *path);
void cli_regions_free(cli_regions *r);

/* The input options every sequence command shares: -r, -R, -w, -s.
 * Returns 1 when c was one of them and applied, 0 when c is another option,
 * CLI_OPT_BAD_VALUE for an invalid value, CLI_OPT_REFUSED for a value the
 * library refused, such as an unparsable -r (a usage error), and
 * CLI_OPT_ERROR when -R could not be read (md_last_error() says why). */
enum { CLI_OPT_BAD_VALUE = -1, CLI_OPT_REFUSED = -2, CLI_OPT_ERROR = -3 };
int cli_input_option(int c, const char *arg, cli_regions *r, int64_t *window, int64_t *stride);
/* Put the regions in the order of the contigs in the index of fasta, then
 * by start, as a bigWig needs them; overlapping regions (which would score
 * a base twice) are an error. 0, or MD_ERR_ARG (md_last_error() says why).
 * A missing index or contig is left to the opening of the input. */
int cli_regions_sort(cli_regions *r, const char *fasta);

/* The valid values of the shared options -w and -s, else NULL. */
const char *cli_input_expected(int c);

#endif
