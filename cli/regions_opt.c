/* regions_opt.c: collect -r and -R regions into one list. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "regions_opt.h"

static int push(cli_regions *r, const md_region *reg)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 16;
        md_region *p = realloc(r->items, cap * sizeof *p);
        if (!p) return md_error(MD_ERR_NOMEM, "out of memory");
        r->items = p;
        r->cap = cap;
    }
    r->items[r->n++] = *reg;
    return 0;
}

int cli_regions_add_string(cli_regions *r, const char *str)
{
    md_region reg;
    int ret = md_region_parse(str, &reg);
    if (ret < 0) return ret;
    if ((ret = push(r, &reg)) < 0) md_region_free(&reg);
    return ret;
}

int cli_regions_add_bed(cli_regions *r, const char *path)
{
    md_region *regs;
    size_t n;
    int ret = md_bed_read(path, &regs, &n);
    if (ret < 0) return ret;
    for (size_t i = 0; i < n; i++) {
        if ((ret = push(r, &regs[i])) < 0) {
            for (size_t j = i; j < n; j++) md_region_free(&regs[j]);
            free(regs);
            return ret;
        }
    }
    free(regs);
    return 0;
}

void cli_regions_free(cli_regions *r)
{
    md_regions_free(r->items, r->n);
    memset(r, 0, sizeof *r);
}

int cli_input_option(int c, const char *arg, cli_regions *r, int64_t *window, int64_t *stride)
{
    switch (c) {
    case 'r': return cli_regions_add_string(r, arg) < 0 ? CLI_OPT_BAD_REGION : 1;
    case 'R': return cli_regions_add_bed(r, arg) < 0 ? CLI_OPT_ERROR : 1;
    case 'w': return cli_parse_size(arg, window) < 0 || *window < 1 ? CLI_OPT_BAD_VALUE : 1;
    case 's': return cli_parse_size(arg, stride) < 0 || *stride < 1 ? CLI_OPT_BAD_VALUE : 1;
    default: return 0;
    }
}
