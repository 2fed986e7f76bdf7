/* regions_opt.h: the -r/-R region options shared by commands. */
#ifndef MD_CLI_REGIONS_OPT_H
#define MD_CLI_REGIONS_OPT_H

#include <stddef.h>

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

#endif
