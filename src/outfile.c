/* outfile.c: outputs written under a temporary name and renamed on commit.
 *
 * An output "DIR/NAME" is written as "DIR/.NAME.mambadna-tmp.PID.N" (hidden,
 * and never looking like a complete output) and renamed to DIR/NAME only
 * after fflush, fsync and fclose have all succeeded; on any error the
 * temporary is removed and the final name is left as it was. "-" is stdout.
 * An existing final path that is not a regular file (/dev/null, a FIFO,
 * /dev/stdout) is written directly: renaming over it would replace it. A
 * symlink to a regular file is kept, and its target replaced.
 * A final name ending in ".gz" is compressed with BGZF (as bgzip, end-of-file
 * block included) through a stdio stream that cannot seek; stdout never is.
 *
 * Every live temporary is listed in a registry of fixed-size slots so that
 * md_outfile_cleanup_all() can unlink them from a SIGINT/SIGTERM handler.
 * Adding and removing take a mutex; the cleanup takes no lock and only
 * reads: each slot has an atomic state counter, odd while the slot is live,
 * bumped on every change, so the cleanup copies a path and unlinks it only
 * when the counter did not move meanwhile (a seqlock). The path of a slot is
 * written only while the slot is not live. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <htslib/bgzf.h>

#include "mambadna.h"
#include "tmpname.h"

#define REG_SLOTS 256     /* live temporaries at once */
#define REG_PATH_MAX 4096 /* bytes per path, NUL included */
#define TMP_BASE_MAX 200  /* bytes of the final basename kept in a temp name */

_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "the cleanup needs lock-free atomics");

static char reg_path[REG_SLOTS][REG_PATH_MAX];
static atomic_uint reg_state[REG_SLOTS]; /* odd: live */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_uint tmp_counter;

/* Register path; the slot index, or < 0 when full. */
static int reg_add(const char *path)
{
    size_t len = strlen(path);
    int slot = -1;
    if (len >= REG_PATH_MAX) return -1;
    pthread_mutex_lock(&reg_lock);
    for (int i = 0; i < REG_SLOTS; i++) {
        unsigned s = atomic_load_explicit(&reg_state[i], memory_order_relaxed);
        if (s & 1u) continue;
        memcpy(reg_path[i], path, len + 1);
        atomic_store_explicit(&reg_state[i], s + 1, memory_order_release);
        slot = i;
        break;
    }
    pthread_mutex_unlock(&reg_lock);
    return slot;
}

static void reg_remove(int slot)
{
    if (slot < 0 || slot >= REG_SLOTS) return;
    pthread_mutex_lock(&reg_lock);
    unsigned s = atomic_load_explicit(&reg_state[slot], memory_order_relaxed);
    if (s & 1u) atomic_store_explicit(&reg_state[slot], s + 1, memory_order_release);
    pthread_mutex_unlock(&reg_lock);
}

/* Registry slot of a live path, or -1. */
static int reg_find(const char *path)
{
    int slot = -1;
    pthread_mutex_lock(&reg_lock);
    for (int i = 0; i < REG_SLOTS; i++) {
        unsigned s = atomic_load_explicit(&reg_state[i], memory_order_relaxed);
        if ((s & 1u) && strcmp(reg_path[i], path) == 0) {
            slot = i;
            break;
        }
    }
    pthread_mutex_unlock(&reg_lock);
    return slot;
}

/* Async-signal-safe: lock-free atomic loads, a byte copy and unlink(). */
void md_outfile_cleanup_all(void)
{
    int saved_errno = errno;
    char buf[REG_PATH_MAX];
    for (int i = 0; i < REG_SLOTS; i++) {
        unsigned s1 = atomic_load_explicit(&reg_state[i], memory_order_acquire);
        if (!(s1 & 1u)) continue;
        size_t k = 0;
        while (k < REG_PATH_MAX - 1 && reg_path[i][k]) {
            buf[k] = reg_path[i][k];
            k++;
        }
        buf[k] = '\0';
        atomic_thread_fence(memory_order_acquire);
        unsigned s2 = atomic_load_explicit(&reg_state[i], memory_order_relaxed);
        if (s1 == s2 && k > 0) unlink(buf);
    }
    errno = saved_errno;
}

/* ------------------------------------------------------------------ */

enum { OUT_TMP, OUT_STDOUT, OUT_DIRECT };

struct md_outfile {
    FILE *fp;
    char *path;   /* the final path as given, for messages */
    char *target; /* what the temporary is renamed to (symlinks resolved) */
    char *tmp;    /* the temporary (OUT_TMP), else NULL */
    int slot;     /* registry slot, -1 if none */
    int kind;
    int fd;       /* a ".gz" output: the file under the BGZF stream, else -1 */
    BGZF *bgzf;   /* a ".gz" output: what fp writes into, else NULL */
};

static int is_gz(const char *path)
{
    size_t n = strlen(path);
    return n > 3 && !strcasecmp(path + n - 3, ".gz");
}

static ssize_t bgzf_cookie_write(void *cookie, const char *buf, size_t n)
{
    md_outfile *out = cookie;
    return bgzf_write(out->bgzf, buf, n) < 0 ? -1 : (ssize_t)n;
}

/* fclose of a ".gz" stream: the last block and the end-of-file block. */
static int bgzf_cookie_close(void *cookie)
{
    md_outfile *out = cookie;
    int rc = bgzf_close(out->bgzf);
    out->bgzf = NULL;
    return rc < 0 ? -1 : 0;
}

/* Open out->fp as a BGZF stream into fd (kept open in out->fd, for fsync). */
static int open_bgzf(md_outfile *out, int fd)
{
    static const cookie_io_functions_t io = {NULL, bgzf_cookie_write, NULL, bgzf_cookie_close};
    int dup_fd = dup(fd);
    out->fd = fd;
    if (dup_fd < 0 || !(out->bgzf = bgzf_dopen(dup_fd, "w"))) {
        if (dup_fd >= 0) close(dup_fd);
        return md_error(MD_ERR_IO, "cannot open %s for BGZF compression: %s", out->path,
                        strerror(errno));
    }
    if (!(out->fp = fopencookie(out, "w", io))) {
        bgzf_close(out->bgzf);
        out->bgzf = NULL;
        return md_error(MD_ERR_NOMEM, "out of memory opening %s", out->path);
    }
    return 0;
}

/* Decide how path is written: *direct = 1 for an existing non-regular file,
 * else *target = the malloc'ed path the temporary is renamed to. */
static int resolve_target(const char *path, char **target, int *direct)
{
    struct stat st;
    *target = NULL;
    *direct = 0;
    if (!path || !*path) return md_error(MD_ERR_ARG, "empty output path");
    size_t len = strlen(path);
    if (path[len - 1] == '/')
        return md_error(MD_ERR_ARG, "output path %s names a directory: give a file name", path);
    if (lstat(path, &st) == 0) {
        if (S_ISLNK(st.st_mode) && stat(path, &st) == 0) {
            if (S_ISREG(st.st_mode)) {
                *target = realpath(path, NULL);
                if (!*target)
                    return md_error(MD_ERR_IO, "cannot resolve the symlink %s: %s", path,
                                    strerror(errno));
                return 0;
            }
        }
        if (S_ISDIR(st.st_mode))
            return md_error(MD_ERR_ARG, "output path %s is a directory: give a file name", path);
        if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) {
            *direct = 1;
            return 0;
        }
    }
    *target = strdup(path);
    return *target ? 0 : md_error(MD_ERR_NOMEM, "out of memory opening %s", path);
}

/* Create and register a fresh temporary next to final: *fd open for writing. */
static int create_tmp(const char *final, char **tmp_out, int *slot_out, int *fd_out)
{
    const char *slash = strrchr(final, '/');
    size_t dirlen = slash ? (size_t)(slash - final) + 1 : 0;
    const char *base = final + dirlen;
    int blen = (int)strnlen(base, TMP_BASE_MAX);
    *tmp_out = NULL;
    *slot_out = -1;
    *fd_out = -1;
    for (int attempt = 0; attempt < 100; attempt++) {
        unsigned n = atomic_fetch_add(&tmp_counter, 1u);
        size_t size = dirlen + (size_t)blen + 64;
        char *tmp = malloc(size);
        if (!tmp) return md_error(MD_ERR_NOMEM, "out of memory opening %s", final);
        snprintf(tmp, size, "%.*s.%.*s.mambadna-tmp.%ld.%u", (int)dirlen, final, blen, base,
                 (long)getpid(), n);
        int slot = reg_add(tmp);
        if (slot < 0) {
            free(tmp);
            if (strlen(final) + 64 >= REG_PATH_MAX)
                return md_error(MD_ERR_ARG, "output path %s is too long", final);
            return md_error(MD_ERR_IO,
                            "cannot open %s: more than %d outputs are being written at once",
                            final, REG_SLOTS);
        }
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) {
            *tmp_out = tmp;
            *slot_out = slot;
            *fd_out = fd;
            return 0;
        }
        int e = errno;
        reg_remove(slot);
        free(tmp);
        if (e != EEXIST)
            return md_error(MD_ERR_IO,
                            "cannot create %s (as a temporary %.*s.%.*s.mambadna-tmp.*): %s; "
                            "check that the directory exists and is writable",
                            final, (int)dirlen, final, blen, base, strerror(e));
    }
    return md_error(MD_ERR_IO, "cannot find a free temporary name next to %s", final);
}

static void outfile_free(md_outfile *out)
{
    free(out->path);
    free(out->target);
    free(out->tmp);
    free(out);
}

static md_outfile *outfile_open(const char *path, int compress)
{
    md_outfile *out = calloc(1, sizeof *out);
    if (!out) {
        md_error(MD_ERR_NOMEM, "out of memory opening %s", path ? path : "(null)");
        return NULL;
    }
    out->slot = -1;
    out->fd = -1;
    if (!path || !*path) {
        md_error(MD_ERR_ARG, "empty output path");
        goto fail;
    }
    out->path = strdup(path);
    if (!out->path) {
        md_error(MD_ERR_NOMEM, "out of memory opening %s", path);
        goto fail;
    }
    if (strcmp(path, "-") == 0) {
        out->kind = OUT_STDOUT;
        out->fp = stdout;
        return out;
    }
    int direct, fd;
    if (resolve_target(path, &out->target, &direct) < 0) goto fail;
    if (direct) {
        out->kind = OUT_DIRECT;
        if (compress) {
            fd = open(path, O_WRONLY | O_CLOEXEC);
            if (fd < 0) {
                md_error(MD_ERR_IO, "cannot open %s for writing: %s", path, strerror(errno));
                goto fail;
            }
            if (open_bgzf(out, fd) < 0) goto fail;
            return out;
        }
        out->fp = fopen(path, "we");
        if (!out->fp) {
            md_error(MD_ERR_IO, "cannot open %s for writing: %s", path, strerror(errno));
            goto fail;
        }
        return out;
    }
    out->kind = OUT_TMP;
    if (create_tmp(out->target, &out->tmp, &out->slot, &fd) < 0) goto fail;
    if (compress) {
        if (open_bgzf(out, fd) == 0) return out;
    } else if ((out->fp = fdopen(fd, "w"))) {
        return out;
    } else {
        md_error(MD_ERR_IO, "cannot open %s for writing: %s", path, strerror(errno));
        close(fd);
    }
    unlink(out->tmp);
    reg_remove(out->slot);

fail:
    if (out->fd >= 0) close(out->fd);
    outfile_free(out);
    return NULL;
}

md_outfile *md_outfile_open(const char *path)
{
    return outfile_open(path, path && is_gz(path));
}

md_outfile *md_outfile_open_raw(const char *path)
{
    return outfile_open(path, 0);
}

FILE *md_outfile_fp(md_outfile *out) { return out ? out->fp : NULL; }

const char *md_outfile_tmp_path(const md_outfile *out)
{
    if (!out) return NULL;
    return out->tmp ? out->tmp : out->path;
}

static const char *err_text(int err)
{
    return err > 0 ? strerror(err) : "a write failed";
}

int md_outfile_commit(md_outfile *out)
{
    int err = 0, rc = 0;
    if (!out) return md_error(MD_ERR_ARG, "md_outfile_commit: no output");

    if (out->kind == OUT_STDOUT) {
        errno = 0;
        if (fflush(stdout) != 0) err = errno ? errno : -1;
        else if (ferror(stdout)) err = -1;
        if (err) rc = md_error(MD_ERR_IO, "cannot write to standard output: %s", err_text(err));
        outfile_free(out);
        return rc;
    }

    errno = 0;
    if (fflush(out->fp) != 0) err = errno ? errno : -1;
    if (!err && ferror(out->fp)) err = -1; /* an earlier write failed */
    if (!err && out->kind == OUT_TMP && out->fd < 0 && fsync(fileno(out->fp)) != 0) err = errno;
    errno = 0;
    if (fclose(out->fp) != 0 && !err) err = errno ? errno : -1;
    out->fp = NULL;
    if (out->fd >= 0) { /* the BGZF stream is closed: its file is whole */
        if (!err && out->kind == OUT_TMP && fsync(out->fd) != 0) err = errno;
        if (close(out->fd) != 0 && !err) err = errno;
        out->fd = -1;
    }

    if (err) {
        rc = md_error(MD_ERR_IO,
                      "cannot write %s: %s; check the free space and permissions of its "
                      "directory%s",
                      out->path, err_text(err),
                      out->kind == OUT_TMP ? " (the partial output was removed)" : "");
    } else if (out->kind == OUT_TMP && rename(out->tmp, out->target) != 0) {
        rc = md_error(MD_ERR_IO, "cannot rename %s to %s: %s", out->tmp, out->target,
                      strerror(errno));
    }
    if (out->kind == OUT_TMP) {
        if (rc < 0) unlink(out->tmp);
        reg_remove(out->slot); /* after the rename: a signal in between is harmless */
    }
    outfile_free(out);
    return rc;
}

void md_outfile_abort(md_outfile *out)
{
    if (!out) return;
    if (out->kind == OUT_TMP) {
        if (out->fp) fclose(out->fp);
        unlink(out->tmp);
        reg_remove(out->slot);
    } else if (out->kind == OUT_DIRECT) {
        if (out->fp) fclose(out->fp);
    }
    if (out->fd >= 0) close(out->fd);
    outfile_free(out);
}

/* ------------------------------------------------------------------ */
/* Temporary names for writers that open files themselves. tmp_path is
 * consumed (freed) by md_tmpname_commit and md_tmpname_abort. */

char *md_tmpname_reserve(const char *final_path)
{
    char *target = NULL, *tmp = NULL;
    int direct, slot, fd;
    if (final_path && strcmp(final_path, "-") == 0) {
        md_error(MD_ERR_ARG, "this output cannot be written to standard output: give a file name");
        return NULL;
    }
    if (resolve_target(final_path, &target, &direct) < 0) return NULL;
    if (direct) {
        md_error(MD_ERR_ARG, "output %s is not a regular file: this format needs one", final_path);
        return NULL;
    }
    int rc = create_tmp(target, &tmp, &slot, &fd);
    free(target);
    if (rc < 0) return NULL;
    close(fd); /* the name stays reserved: the writer reopens it */
    return tmp;
}

int md_tmpname_commit(char *tmp_path, const char *final_path)
{
    int rc = 0, direct;
    char *target = NULL;
    if (!tmp_path) return md_error(MD_ERR_ARG, "md_tmpname_commit: no temporary");
    int fd = open(tmp_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = md_error(MD_ERR_IO, "cannot write %s: the temporary %s is gone: %s", final_path,
                      tmp_path, strerror(errno));
    } else {
        if (fsync(fd) != 0)
            rc = md_error(MD_ERR_IO, "cannot write %s: %s; check the free space of its directory",
                          final_path, strerror(errno));
        close(fd);
    }
    if (rc == 0) {
        rc = resolve_target(final_path, &target, &direct);
        if (rc == 0 && direct)
            rc = md_error(MD_ERR_ARG, "output %s is not a regular file", final_path);
    }
    if (rc == 0 && rename(tmp_path, target) != 0)
        rc = md_error(MD_ERR_IO, "cannot rename %s to %s: %s", tmp_path, target, strerror(errno));
    if (rc < 0) unlink(tmp_path);
    reg_remove(reg_find(tmp_path));
    free(target);
    free(tmp_path);
    return rc;
}

void md_tmpname_abort(char *tmp_path)
{
    if (!tmp_path) return;
    unlink(tmp_path);
    reg_remove(reg_find(tmp_path));
    free(tmp_path);
}
