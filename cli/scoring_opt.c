/* scoring_opt.c: the options shared by the commands that score windows. */
#include <stdlib.h>
#include <unistd.h>

#include "cli.h"
#include "regions_opt.h"
#include "scoring_opt.h"

void cli_scoring_init(cli_scoring *s, md_score_opt *score, int gpu_batch)
{
    s->score = score;
    s->gpu_batch = gpu_batch;
    s->batch_given = s->no_progress = 0;
    score->fwd.device = md_device_count() > 0 ? 1 : 0;
}

int cli_scoring_option(cli_scoring *s, int c, const char *arg)
{
    md_score_opt *o = s->score;
    int64_t v;
    char *end;
    switch (c) {
    case CLI_OPT_MAX_N:
        o->max_n = strtod(arg, &end);
        return *end || end == arg || !(o->max_n >= 0 && o->max_n <= 1) ? CLI_OPT_BAD_VALUE : 1;
    case CLI_OPT_BATCH:
        if (cli_parse_size(arg, &v) < 0 || v < 1 || v > 65536) return CLI_OPT_BAD_VALUE;
        o->batch = (int)v;
        s->batch_given = 1;
        return 1;
    case CLI_OPT_DEVICE:
        return md_device_parse(arg, &o->fwd.device) < 0 ? CLI_OPT_REFUSED : 1;
    case CLI_OPT_PRECISION:
        return (o->fwd.precision = md_precision_parse(arg)) < 0 ? CLI_OPT_REFUSED : 1;
    case 't':
        if (cli_parse_size(arg, &v) < 0 || v < 1 || v > 4096) return CLI_OPT_BAD_VALUE;
        o->fwd.threads = (int)v;
        return 1;
    case CLI_OPT_NO_PROGRESS:
        s->no_progress = 1;
        return 1;
    default: return 0;
    }
}

void cli_scoring_finish(cli_scoring *s)
{
    if (!s->batch_given && s->score->fwd.device > 0) s->score->batch = s->gpu_batch;
    s->score->progress = !s->no_progress && isatty(STDERR_FILENO);
}

const char *cli_scoring_expected(int c)
{
    switch (c) {
    case CLI_OPT_MAX_N: return "a fraction from 0 to 1";
    case CLI_OPT_BATCH: return "an integer from 1 to 65536";
    case 't': return "an integer from 1 to 4096";
    default: return cli_input_expected(c);
    }
}
