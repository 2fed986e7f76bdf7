/* util.c: helpers shared by the command files. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
