/* util.c: helpers shared by the command files. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

void cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "mambadna %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void cli_usage_hint(const char *cmd)
{
    fprintf(stderr, "Run `mambadna help %s` for the options.\n", cmd);
}

void cli_bad_value(const char *cmd, const struct option *longopts, int c, const char *value,
                   const char *expected)
{
    const char *name = NULL;
    for (const struct option *o = longopts; o->name; o++)
        if (o->val == c && !o->flag) {
            name = o->name;
            break;
        }
    char shortname[8] = "";
    if (c > ' ' && c < 127) snprintf(shortname, sizeof shortname, " (-%c)", c);
    cli_error(cmd, "invalid value '%s' for --%s%s: expected %s", value, name ? name : "?",
              shortname, expected);
    cli_usage_hint(cmd);
}

int cli_fail(const char *cmd)
{
    const char *msg = md_last_error();
    cli_error(cmd, "%s", msg && *msg ? msg : "failed");
    return EXIT_ERROR;
}

static void on_fatal_signal(int sig)
{
    md_outfile_cleanup_all();
    signal(sig, SIG_DFL);
    raise(sig);
}

void cli_install_signal_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

int cli_parse_size(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || v < 0) return -1;
    double mult = 1;
    switch (*end) {
    case 'k': case 'K': mult = 1e3; end++; break;
    case 'm': case 'M': mult = 1e6; end++; break;
    case 'g': case 'G': mult = 1e9; end++; break;
    default: break;
    }
    if (*end || v * mult > 9.2e18) return -1;
    double r = v * mult;
    if (r != (double)(int64_t)r) return -1; /* no fractional counts */
    *out = (int64_t)r;
    return 0;
}

int cli_close_stdout(const char *cmd)
{
    if (fflush(stdout) != 0 || ferror(stdout) || fclose(stdout) != 0) {
        cli_error(cmd, "error writing to standard output: %s", strerror(errno));
        return EXIT_ERROR;
    }
    return EXIT_OK;
}

int cli_parse_last(const char *s)
{
    if (!strcmp(s, "shift")) return MD_LAST_SHIFT;
    if (!strcmp(s, "short") || !strcmp(s, "partial")) return MD_LAST_PARTIAL;
    if (!strcmp(s, "pad")) return MD_LAST_PAD;
    if (!strcmp(s, "drop")) return MD_LAST_DROP;
    return -1;
}

int cli_parse_dtype(const char *s)
{
    if (!strcmp(s, "f32")) return MD_F32;
    if (!strcmp(s, "bf16")) return MD_BF16;
    if (!strcmp(s, "f16")) return MD_F16;
    return -1;
}

const char *cli_bundled_model(const char *file)
{
    static char path[8192];
    const char *env = getenv("MAMBADNA_MODELS");
    if (env && *env) {
        snprintf(path, sizeof path, "%s/%s", env, file);
        return path;
    }
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) *slash = 0;
        snprintf(path, sizeof path, "%s/data/models/%s", exe, file);
        if (access(path, R_OK) == 0) return path;
        snprintf(path, sizeof path, "%s/../share/mambadna/models/%s", exe, file);
        if (access(path, R_OK) == 0) return path;
    }
    snprintf(path, sizeof path, "data/models/%s", file);
    return path;
}

/* What names a file: device and inode when it exists, else its path with
 * the directory resolved (malloc'ed). */
typedef struct file_key {
    int exists;
    dev_t dev;
    ino_t ino;
    char *norm;
} file_key;

static void file_key_of(const char *path, file_key *k)
{
    struct stat st;
    memset(k, 0, sizeof *k);
    if (stat(path, &st) == 0) {
        k->exists = 1;
        k->dev = st.st_dev;
        k->ino = st.st_ino;
        return;
    }
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, (size_t)(slash - path + (slash == path))) : strdup(".");
    char *real = dir ? realpath(dir, NULL) : NULL;
    const char *base = slash ? slash + 1 : path;
    if (real && asprintf(&k->norm, "%s/%s", real, base) < 0) k->norm = NULL;
    if (!k->norm) k->norm = strdup(path);
    free(real);
    free(dir);
}

static int same_file(const file_key *a, const file_key *b)
{
    if (a->exists || b->exists)
        return a->exists && b->exists && a->dev == b->dev && a->ino == b->ino;
    return a->norm && b->norm && strcmp(a->norm, b->norm) == 0;
}

int cli_check_paths(const char *cmd, const cli_path *outputs, int n_out, const cli_path *inputs,
                    int n_in)
{
    int n = n_out + n_in, status = 0;
    file_key *keys = calloc((size_t)(n > 0 ? n : 1), sizeof *keys);
    if (!keys) {
        cli_error(cmd, "out of memory");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        const cli_path *p = i < n_out ? &outputs[i] : &inputs[i - n_out];
        if (p->path && strcmp(p->path, "-") != 0) file_key_of(p->path, &keys[i]);
    }
    for (int i = 0; i < n_out && !status; i++) {
        const cli_path *a = &outputs[i];
        if (!a->path) continue;
        for (int j = i + 1; j < n && !status; j++) {
            const cli_path *b = j < n_out ? &outputs[j] : &inputs[j - n_out];
            if (!b->path) continue;
            int stdio = !strcmp(a->path, "-") || !strcmp(b->path, "-");
            if (stdio ? strcmp(a->path, b->path) != 0 || j >= n_out : !same_file(&keys[i], &keys[j]))
                continue;
            if (j < n_out)
                cli_error(cmd, "%s and %s both write %s: give each output its own file", a->what,
                          b->what, stdio ? "standard output" : a->path);
            else
                cli_error(cmd, "%s %s is also %s: it would be overwritten; write the output "
                          "elsewhere", a->what, a->path, b->what);
            status = -1;
        }
    }
    for (int i = 0; i < n; i++) free(keys[i].norm);
    free(keys);
    return status;
}
