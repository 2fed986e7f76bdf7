/* train_args.h: the options that pretrain and finetune share. */
#ifndef MD_CLI_TRAIN_ARGS_H
#define MD_CLI_TRAIN_ARGS_H

#include <getopt.h>
#include <stdio.h>

#include "mambadna.h"

/* What the shared options set besides md_train_opt. */
typedef struct cli_train_args {
    const char *out, *model;
    int arch, d_model, n_layer, d_state, d_conv, expand; /* a new model (arch >= 0) */
    int no_progress;
} cli_train_args;

/* The shared long options (no terminator); commands append their own. */
extern const struct option cli_train_longopts[];
extern const int cli_train_n_longopts;

void cli_train_args_init(cli_train_args *a);
/* CLI defaults of md_train_opt beyond the library's: the GPU when there is one. */
void cli_train_opt_defaults(md_train_opt *o);
/* Apply one shared option: 1 handled, 0 not a shared option, -1 bad value,
 * -2 bad value with the library's message (md_last_error). */
int cli_train_option(int c, const char *arg, md_train_opt *o, cli_train_args *a);
/* The valid values of a shared option, for usage errors; NULL for another. */
const char *cli_train_expected(int c);
void cli_train_usage(FILE *fp, const md_train_opt *o);
void cli_train_model_usage(FILE *fp);
/* The command line as one string (malloc'ed), for model provenance. */
char *cli_command_line(int argc, char **argv);
/* The model to train: loaded with -m, or new from --arch. */
md_model *cli_train_model(const cli_train_args *a, int n_classes, uint64_t seed);

#endif
