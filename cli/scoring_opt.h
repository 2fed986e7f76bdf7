/* scoring_opt.h: the options every command that scores windows shares
 * (score, variants, explain): --max-n, --batch, --device, --precision,
 * -t/--threads and --no-progress, into an md_score_opt. */
#ifndef MD_CLI_SCORING_OPT_H
#define MD_CLI_SCORING_OPT_H

#include <getopt.h>

#include "mambadna.h"

/* Their getopt codes (above every character), and their long options, for
 * a command's option table. */
enum {
    CLI_OPT_MAX_N = 0x100,
    CLI_OPT_BATCH,
    CLI_OPT_DEVICE,
    CLI_OPT_PRECISION,
    CLI_OPT_NO_PROGRESS,
};
#define CLI_SCORING_LONGOPTS                                                                  \
    {"max-n", required_argument, 0, CLI_OPT_MAX_N},                                          \
        {"batch", required_argument, 0, CLI_OPT_BATCH},                                      \
        {"device", required_argument, 0, CLI_OPT_DEVICE},                                    \
        {"precision", required_argument, 0, CLI_OPT_PRECISION},                              \
        {"threads", required_argument, 0, 't'}, {"no-progress", no_argument, 0, CLI_OPT_NO_PROGRESS}

typedef struct cli_scoring {
    md_score_opt *score; /* where the values go */
    int gpu_batch;       /* windows per pass on a GPU when --batch is not given */
    int batch_given, no_progress;
} cli_scoring;

/* Start with the defaults: the first GPU when there is one. */
void cli_scoring_init(cli_scoring *s, md_score_opt *score, int gpu_batch);

/* Apply option c if it is one of the shared ones: 1 when it was, 0 when c
 * is another option, CLI_OPT_BAD_VALUE (regions_opt.h) for an invalid value
 * and CLI_OPT_REFUSED for a device or precision the library refused (a
 * usage error; md_last_error() says why). */
int cli_scoring_option(cli_scoring *s, int c, const char *arg);

/* After the options: the GPU's batch when none was given, the progress line
 * when stderr is a terminal. */
void cli_scoring_finish(cli_scoring *s);

/* The valid values of a shared option (these and -w, -s), else NULL. */
const char *cli_scoring_expected(int c);

#endif
