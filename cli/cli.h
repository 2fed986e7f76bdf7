/* cli.h: what the command files of the mambadna program share. */
#ifndef MD_CLI_H
#define MD_CLI_H

#include <getopt.h>
#include <stdint.h>

#include "mambadna.h"

/* Exit codes of every command. */
enum { EXIT_OK = 0, EXIT_ERROR = 1, EXIT_USAGE = 2 };

/* One subcommand: main(argc, argv) with argv[0] the command name, and the
 * usage printer (to stdout for --help, to stderr on a usage error). */
typedef struct cli_command {
    const char *name;
    const char *summary;
    int (*main)(int argc, char **argv);
    void (*usage)(FILE *fp);
} cli_command;

/* Print "mambadna CMD: message" on stderr. */
void cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A usage error's last line: where the options are described. */
void cli_usage_hint(const char *cmd);
/* "invalid value 'VALUE' for --NAME (-C): expected EXPECTED" for the option
 * whose getopt code is c in longopts, then the hint. */
void cli_bad_value(const char *cmd, const struct option *longopts, int c, const char *value,
                   const char *expected);
/* Report the library's last error for cmd and return EXIT_ERROR. */
int cli_fail(const char *cmd);
/* Install SIGINT/SIGTERM/SIGHUP handlers that remove temporary outputs. */
void cli_install_signal_handlers(void);
/* Parse a non-negative integer with an optional k/M/G suffix (1000-based). */
int cli_parse_size(const char *s, int64_t *out);
/* Close stdout and report a write error (for commands writing to stdout). */
int cli_close_stdout(const char *cmd);

/* Refuse, before any work, two outputs that are one file, or an output that
 * is one of the inputs (files compared by device and inode where they exist,
 * by normalised path otherwise; two "-" outputs are both stdout). NULL
 * entries are skipped. 0, or -1 after a message naming the option(s). */
typedef struct cli_path {
    const char *what; /* the option or argument, e.g. "-o", "--calls", "IN" */
    const char *path;
} cli_path;
int cli_check_paths(const char *cmd, const cli_path *outputs, int n_out, const cli_path *inputs,
                    int n_in);

/* --last: "shift", "short" (or "partial"), "pad", "drop" -> enum
 * md_last_window, or -1. */
int cli_parse_last(const char *s);

/* "f32", "bf16", "f16" -> enum md_dtype, or -1. */
int cli_parse_dtype(const char *s);

#define CLI_COMMAND_DECL(fn) \
    int fn##_main(int argc, char **argv); \
    void fn##_usage(FILE *fp)

CLI_COMMAND_DECL(tokenize);
CLI_COMMAND_DECL(faidx);
CLI_COMMAND_DECL(info);
CLI_COMMAND_DECL(init);
CLI_COMMAND_DECL(convert);
CLI_COMMAND_DECL(embed);
CLI_COMMAND_DECL(eval);
CLI_COMMAND_DECL(score);
CLI_COMMAND_DECL(pretrain);
CLI_COMMAND_DECL(finetune);
CLI_COMMAND_DECL(variants);
CLI_COMMAND_DECL(explain);
CLI_COMMAND_DECL(bigwig);

/* Path of a bundled model ("promoter-human.safetensors"): in $MAMBADNA_MODELS,
 * else data/models/ beside the program (a source checkout), else
 * ../share/mambadna/models/ beside it (an installation). Static buffer. */
const char *cli_bundled_model(const char *file);
/* The bundled model zoo: a small promoter model for CPUs, a larger one that
 * `score` takes by default on a GPU, and the pretrained bases they came from. */
#define MD_DEFAULT_PROMOTER_MODEL "promoter-human.safetensors"
#define MD_LARGE_PROMOTER_MODEL "promoter-human-large.safetensors"
#define MD_DEFAULT_BASE_MODEL "base.safetensors"
/* Model metadata key of the calibrated default threshold for calls. */
#define MD_META_THRESHOLD "mambadna.threshold"

#endif
