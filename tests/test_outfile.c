/* test_outfile.c: temporary-then-rename outputs, the cleanup registry and
 * its use from a signal handler. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <htslib/bgzf.h>
#include <htslib/kstring.h>

#include "testutil.h"
#include "tmpname.h"

/* A fresh empty directory under the test tmpdir. */
static const char *fresh_dir(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", md_test_tmpdir(), name);
    assert_int_equal(mkdir(buf, 0777), 0);
    return buf;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names in dir, joined by '|', into buf. */
static const char *listing(const char *dir, char *buf, size_t size)
{
    char *names[256];
    int n = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        assert_true(n < 256);
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (i) strncat(buf, "|", size - strlen(buf) - 1);
        strncat(buf, names[i], size - strlen(buf) - 1);
        free(names[i]);
    }
    return buf;
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Whole file into a malloc'ed NUL-terminated buffer. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t m = 1 << 16, n = 0;
    char *buf = malloc(m);
    size_t k;
    while ((k = fread(buf + n, 1, m - n - 1, f)) > 0) {
        n += k;
        if (n + 1 == m) buf = realloc(buf, m *= 2);
    }
    fclose(f);
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

static void test_commit_renames(void **state)
{
    (void)state;
    char dir[512], path[600], ls[4096];
    fresh_dir(dir, sizeof dir, "commit");
    snprintf(path, sizeof path, "%s/out.txt", dir);

    md_outfile *out = md_outfile_open(path);
    assert_non_null(out);
    const char *tmp = md_outfile_tmp_path(out);
    /* The temporary is hidden, in the same directory, and not the final name. */
    char prefix[700];
    snprintf(prefix, sizeof prefix, "%s/.out.txt.mambadna-tmp.", dir);
    assert_memory_equal(tmp, prefix, strlen(prefix));
    assert_true(exists(tmp));
    assert_false(exists(path));

    FILE *fp = md_outfile_fp(out);
    for (int i = 0; i < 100000; i++) fprintf(fp, "line %d\n", i);
    char tmp_copy[700];
    snprintf(tmp_copy, sizeof tmp_copy, "%s", tmp);
    assert_false(exists(path)); /* still nothing under the final name */
    assert_int_equal(md_outfile_commit(out), 0);

    assert_false(exists(tmp_copy));
    assert_string_equal(listing(dir, ls, sizeof ls), "out.txt");
    size_t len;
    char *text = slurp(path, &len);
    assert_int_equal(strncmp(text, "line 0\nline 1\n", 14), 0);
    const char *last = "line 99999\n";
    assert_true(len > strlen(last));
    assert_string_equal(text + len - strlen(last), last);
    size_t lines = 0;
    for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
    assert_int_equal(lines, 100000);
    free(text);

    /* Committing over an existing file replaces it. */
    out = md_outfile_open(path);
    assert_non_null(out);
    fputs("new\n", md_outfile_fp(out));
    assert_int_equal(md_outfile_commit(out), 0);
    text = slurp(path, NULL);
    assert_string_equal(text, "new\n");
    free(text);
    assert_string_equal(listing(dir, ls, sizeof ls), "out.txt");
}

static void test_relative_path(void **state)
{
    (void)state;
    char dir[512], cwd[4096], ls[4096];
    fresh_dir(dir, sizeof dir, "relative");
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(dir), 0);
    md_outfile *out = md_outfile_open("plain.txt");
    assert_non_null(out);
    assert_memory_equal(md_outfile_tmp_path(out), ".plain.txt.mambadna-tmp.", 24);
    fputs("x\n", md_outfile_fp(out));
    assert_int_equal(md_outfile_commit(out), 0);
    assert_int_equal(chdir(cwd), 0);
    assert_string_equal(listing(dir, ls, sizeof ls), "plain.txt");
}

/* A ".gz" output is BGZF, end-of-file block included, and is renamed like
 * any other; aborted, it leaves nothing. */
static void test_bgzf_output(void **state)
{
    (void)state;
    char dir[512], path[600], names[4096];
    fresh_dir(dir, sizeof dir, "bgzf");
    snprintf(path, sizeof path, "%s/calls.bed.gz", dir);
    md_outfile *out = md_outfile_open(path);
    assert_non_null(out);
    FILE *fp = md_outfile_fp(out);
    for (int i = 0; i < 20000; i++) fprintf(fp, "chr1\t%d\t%d\n", i, i + 1);
    assert_int_equal(fseek(fp, 0, SEEK_SET), -1); /* a stream, not a file */
    assert_int_equal(md_outfile_commit(out), 0);
    assert_string_equal(listing(dir, names, sizeof names), "calls.bed.gz");
    BGZF *bz = bgzf_open(path, "r");
    assert_non_null(bz);
    assert_int_equal(bgzf_compression(bz), 2); /* bgzf, not plain gzip */
    assert_int_equal(bgzf_check_EOF(bz), 1);
    kstring_t line = {0, 0, NULL};
    int n = 0;
    while (bgzf_getline(bz, '\n', &line) >= 0) {
        char want[64];
        snprintf(want, sizeof want, "chr1\t%d\t%d", n, n + 1);
        assert_string_equal(line.s, want);
        n++;
    }
    assert_int_equal(n, 20000);
    free(line.s);
    bgzf_close(bz);

    char path2[600];
    snprintf(path2, sizeof path2, "%s/aborted.tsv.gz", dir);
    out = md_outfile_open(path2);
    assert_non_null(out);
    fputs("partial\n", md_outfile_fp(out));
    md_outfile_abort(out);
    assert_string_equal(listing(dir, names, sizeof names), "calls.bed.gz");
}

static void test_abort_leaves_nothing(void **state)
{
    (void)state;
    char dir[512], path[600], before[4096], after[4096];
    fresh_dir(dir, sizeof dir, "abort");
    snprintf(path, sizeof path, "%s/keep.txt", dir);
    FILE *f = fopen(path, "w");
    fputs("old\n", f);
    fclose(f);
    listing(dir, before, sizeof before);

    /* A new output aborted. */
    char path2[600];
    snprintf(path2, sizeof path2, "%s/new.txt", dir);
    md_outfile *out = md_outfile_open(path2);
    assert_non_null(out);
    fputs("partial\n", md_outfile_fp(out));
    md_outfile_abort(out);
    assert_string_equal(listing(dir, after, sizeof after), before);

    /* Overwriting an existing output, aborted: the old content stays. */
    out = md_outfile_open(path);
    assert_non_null(out);
    fputs("partial\n", md_outfile_fp(out));
    md_outfile_abort(out);
    assert_string_equal(listing(dir, after, sizeof after), before);
    char *text = slurp(path, NULL);
    assert_string_equal(text, "old\n");
    free(text);

    md_outfile_abort(NULL); /* harmless */
}

static void test_open_errors(void **state)
{
    (void)state;
    char dir[512], path[700];
    fresh_dir(dir, sizeof dir, "openerr");
    snprintf(path, sizeof path, "%s/no/such/dir/out.txt", dir);
    assert_null(md_outfile_open(path));
    assert_non_null(strstr(md_last_error(), path));
    assert_non_null(strstr(md_last_error(), "directory"));

    /* A directory as the output. */
    assert_null(md_outfile_open(dir));
    assert_non_null(strstr(md_last_error(), dir));
    snprintf(path, sizeof path, "%s/", dir);
    assert_null(md_outfile_open(path));
    assert_null(md_outfile_open(""));

    /* A read-only directory (root ignores permissions: skip that part). */
    if (geteuid() != 0) {
        char ro[600];
        snprintf(ro, sizeof ro, "%s/ro", dir);
        assert_int_equal(mkdir(ro, 0555), 0);
        snprintf(path, sizeof path, "%s/out.txt", ro);
        assert_null(md_outfile_open(path));
        assert_non_null(strstr(md_last_error(), path));
    }
}

/* A write that fails part way (the file size limit stands in for a full
 * disk): the commit reports it naming the file, and leaves nothing. */
static void test_write_failure(void **state)
{
    (void)state;
    char dir[512], path[600], ls[4096];
    fresh_dir(dir, sizeof dir, "writefail");
    snprintf(path, sizeof path, "%s/big.txt", dir);

    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    md_outfile *out = md_outfile_open(path);
    assert_non_null(out);
    lim = old;
    lim.rlim_cur = 10000;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    FILE *fp = md_outfile_fp(out);
    for (int i = 0; i < 10000; i++) fprintf(fp, "%08d\n", i); /* 90000 bytes */
    int rc = md_outfile_commit(out);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, old_handler);

    assert_true(rc < -1);
    assert_non_null(strstr(md_last_error(), path));
    assert_string_equal(listing(dir, ls, sizeof ls), "");
}

/* An error flagged on the stream earlier (here: reading a write-only
 * stream) fails the commit even when the final flush succeeds. */
static void test_earlier_stream_error(void **state)
{
    (void)state;
    char dir[512], path[600], ls[4096];
    fresh_dir(dir, sizeof dir, "streamerr");
    snprintf(path, sizeof path, "%s/x.txt", dir);
    md_outfile *out = md_outfile_open(path);
    assert_non_null(out);
    FILE *fp = md_outfile_fp(out);
    fputs("data\n", fp);
    assert_int_equal(fgetc(fp), EOF);
    assert_true(ferror(fp));
    assert_true(md_outfile_commit(out) < -1);
    assert_non_null(strstr(md_last_error(), path));
    assert_string_equal(listing(dir, ls, sizeof ls), "");
}

/* Two outputs to the same path at once get distinct temporaries; the last
 * commit wins and the file is whole. */
static void test_same_path_twice(void **state)
{
    (void)state;
    char dir[512], path[600], ls[4096];
    fresh_dir(dir, sizeof dir, "twice");
    snprintf(path, sizeof path, "%s/x.txt", dir);
    md_outfile *a = md_outfile_open(path), *b = md_outfile_open(path);
    assert_non_null(a);
    assert_non_null(b);
    assert_string_not_equal(md_outfile_tmp_path(a), md_outfile_tmp_path(b));
    fputs("first\n", md_outfile_fp(a));
    fputs("second\n", md_outfile_fp(b));
    assert_int_equal(md_outfile_commit(a), 0);
    assert_int_equal(md_outfile_commit(b), 0);
    char *text = slurp(path, NULL);
    assert_string_equal(text, "second\n");
    free(text);
    assert_string_equal(listing(dir, ls, sizeof ls), "x.txt");
}

/* An existing non-regular file is written directly, never renamed over:
 * /dev/full reports the full disk at commit, /dev/null stays a device. */
static void test_special_files(void **state)
{
    (void)state;
    struct stat st;
    if (stat("/dev/full", &st) == 0 && S_ISCHR(st.st_mode)) {
        md_outfile *out = md_outfile_open("/dev/full");
        assert_non_null(out);
        fputs("x\n", md_outfile_fp(out));
        assert_true(md_outfile_commit(out) < -1);
        assert_non_null(strstr(md_last_error(), "/dev/full"));
    }
    if (stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode)) {
        md_outfile *out = md_outfile_open("/dev/null");
        assert_non_null(out);
        assert_string_equal(md_outfile_tmp_path(out), "/dev/null");
        fputs("x\n", md_outfile_fp(out));
        assert_int_equal(md_outfile_commit(out), 0);
        assert_int_equal(stat("/dev/null", &st), 0);
        assert_true(S_ISCHR(st.st_mode));
    }
}

static void test_stdout(void **state)
{
    (void)state;
    md_outfile *out = md_outfile_open("-");
    assert_non_null(out);
    assert_ptr_equal(md_outfile_fp(out), stdout);
    assert_string_equal(md_outfile_tmp_path(out), "-");
    assert_int_equal(md_outfile_commit(out), 0);
    out = md_outfile_open("-");
    md_outfile_abort(out); /* must not close stdout */
    assert_int_not_equal(fflush(stdout), EOF);
    assert_null(md_tmpname_reserve("-"));
}

/* A symlink to a regular file stays a symlink; its target is replaced. */
static void test_symlink(void **state)
{
    (void)state;
    char dir[512], target[600], link[600], ls[4096];
    fresh_dir(dir, sizeof dir, "symlink");
    snprintf(target, sizeof target, "%s/target.txt", dir);
    snprintf(link, sizeof link, "%s/link.txt", dir);
    FILE *f = fopen(target, "w");
    fputs("old\n", f);
    fclose(f);
    assert_int_equal(symlink("target.txt", link), 0);

    md_outfile *out = md_outfile_open(link);
    assert_non_null(out);
    fputs("new\n", md_outfile_fp(out));
    assert_int_equal(md_outfile_commit(out), 0);
    struct stat st;
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    char *text = slurp(target, NULL);
    assert_string_equal(text, "new\n");
    free(text);
    assert_string_equal(listing(dir, ls, sizeof ls), "link.txt|target.txt");
}

static void test_cleanup_all(void **state)
{
    (void)state;
    char dir[512], p1[600], p2[600], p3[600], ls[4096];
    fresh_dir(dir, sizeof dir, "cleanup");
    snprintf(p1, sizeof p1, "%s/a.txt", dir);
    snprintf(p2, sizeof p2, "%s/b.txt", dir);
    snprintf(p3, sizeof p3, "%s/c.bw", dir);

    md_outfile *a = md_outfile_open(p1), *b = md_outfile_open(p2);
    assert_non_null(a);
    assert_non_null(b);
    fputs("a\n", md_outfile_fp(a));
    fputs("b\n", md_outfile_fp(b));
    fflush(md_outfile_fp(a));
    char *t = md_tmpname_reserve(p3);
    assert_non_null(t);
    assert_true(exists(t));
    assert_non_null(strstr(t, "/.c.bw.mambadna-tmp."));
    /* A committed output is no longer registered: cleanup keeps it. */
    char p4[600];
    snprintf(p4, sizeof p4, "%s/done.txt", dir);
    md_outfile *d = md_outfile_open(p4);
    assert_int_equal(md_outfile_commit(d), 0);

    assert_string_not_equal(listing(dir, ls, sizeof ls), "done.txt");
    md_outfile_cleanup_all();
    assert_string_equal(listing(dir, ls, sizeof ls), "done.txt");

    /* Commit after the cleanup fails cleanly; aborting is harmless. */
    assert_true(md_outfile_commit(a) < -1);
    md_outfile_abort(b);
    md_tmpname_abort(t);
    assert_string_equal(listing(dir, ls, sizeof ls), "done.txt");
    md_outfile_cleanup_all(); /* nothing registered: nothing removed */
    assert_string_equal(listing(dir, ls, sizeof ls), "done.txt");
}

static void test_tmpname(void **state)
{
    (void)state;
    char dir[512], path[600], ls[4096];
    fresh_dir(dir, sizeof dir, "tmpname");
    snprintf(path, sizeof path, "%s/out.bin", dir);

    char *t = md_tmpname_reserve(path);
    assert_non_null(t);
    FILE *f = fopen(t, "w"); /* as a library that opens files itself would */
    fputs("payload", f);
    fclose(f);
    assert_false(exists(path));
    assert_int_equal(md_tmpname_commit(t, path), 0); /* frees t */
    char *text = slurp(path, NULL);
    assert_string_equal(text, "payload");
    free(text);
    assert_string_equal(listing(dir, ls, sizeof ls), "out.bin");

    t = md_tmpname_reserve(path);
    assert_non_null(t);
    md_tmpname_abort(t);
    assert_string_equal(listing(dir, ls, sizeof ls), "out.bin");

    /* The temporary vanished (e.g. removed by the cleanup): an error, and
     * the old output is untouched. */
    t = md_tmpname_reserve(path);
    unlink(t);
    assert_true(md_tmpname_commit(t, path) < -1);
    assert_non_null(strstr(md_last_error(), path));
    assert_string_equal(listing(dir, ls, sizeof ls), "out.bin");

    snprintf(path, sizeof path, "%s/missing/out.bin", dir);
    assert_null(md_tmpname_reserve(path));
    assert_non_null(strstr(md_last_error(), path));
    assert_null(md_tmpname_reserve("/dev/null"));
}

/* More live outputs than the registry holds: a clear error, no leak. */
static void test_registry_full(void **state)
{
    (void)state;
    char dir[512], path[600], ls[4096];
    fresh_dir(dir, sizeof dir, "full");
    md_outfile *outs[2000];
    int n = 0;
    for (; n < 2000; n++) {
        snprintf(path, sizeof path, "%s/f%d", dir, n);
        outs[n] = md_outfile_open(path);
        if (!outs[n]) break;
    }
    assert_true(n > 16 && n < 2000);
    assert_non_null(strstr(md_last_error(), "at once"));
    for (int i = 0; i < n; i++) md_outfile_abort(outs[i]);
    assert_string_equal(listing(dir, ls, sizeof ls), "");
    /* Slots are reusable. */
    snprintf(path, sizeof path, "%s/again", dir);
    md_outfile *out = md_outfile_open(path);
    assert_non_null(out);
    assert_int_equal(md_outfile_commit(out), 0);
}

struct thread_arg {
    const char *dir;
    int id, failures;
};

static void *thread_main(void *p)
{
    struct thread_arg *a = p;
    char path[600];
    for (int i = 0; i < 50; i++) {
        snprintf(path, sizeof path, "%s/t%d_%d.txt", a->dir, a->id, i);
        md_outfile *out = md_outfile_open(path);
        if (!out) {
            a->failures++;
            continue;
        }
        fprintf(md_outfile_fp(out), "%d %d\n", a->id, i);
        if (i % 5 == 4)
            md_outfile_abort(out);
        else if (md_outfile_commit(out) != 0)
            a->failures++;
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    char dir[512];
    fresh_dir(dir, sizeof dir, "threads");
    pthread_t th[8];
    struct thread_arg args[8];
    for (int t = 0; t < 8; t++) {
        args[t] = (struct thread_arg){dir, t, 0};
        assert_int_equal(pthread_create(&th[t], NULL, thread_main, &args[t]), 0);
    }
    for (int t = 0; t < 8; t++) {
        pthread_join(th[t], NULL);
        assert_int_equal(args[t].failures, 0);
    }
    int files = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') {
            assert_true(!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."));
            continue;
        }
        files++;
        int t, i;
        assert_int_equal(sscanf(e->d_name, "t%d_%d.txt", &t, &i), 2);
        assert_int_not_equal(i % 5, 4);
        char path[1200], want[32];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        snprintf(want, sizeof want, "%d %d\n", t, i);
        char *text = slurp(path, NULL);
        assert_string_equal(text, want);
        free(text);
    }
    closedir(d);
    assert_int_equal(files, 8 * 40);
}

static void on_term(int sig)
{
    (void)sig;
    md_outfile_cleanup_all();
    _exit(1);
}

/* A child writing an output is killed with SIGTERM; its handler runs the
 * cleanup: neither the final name nor a temporary is left. */
static void test_signal_cleanup(void **state)
{
    (void)state;
    char dir[512], path[600], path2[600], ls[4096];
    fresh_dir(dir, sizeof dir, "signal");
    snprintf(path, sizeof path, "%s/result.tsv", dir);
    snprintf(path2, sizeof path2, "%s/result2.bw", dir);
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pipefd[0]);
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_term;
        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGTERM, &sa, NULL) != 0) _exit(3);
        md_outfile *out = md_outfile_open(path);
        char *t = md_tmpname_reserve(path2);
        if (!out || !t) _exit(4);
        FILE *fp = md_outfile_fp(out);
        for (int i = 0; i < 1000; i++) fprintf(fp, "row\t%d\n", i);
        fflush(fp);
        char msg[1400];
        int n = snprintf(msg, sizeof msg, "%s\n%s\n", md_outfile_tmp_path(out), t);
        if (write(pipefd[1], msg, (size_t)n) != n) _exit(5);
        for (int i = 0; i < 100000; i++) { /* keep writing until killed */
            fprintf(fp, "row\t%d\n", i);
            usleep(100);
        }
        _exit(0); /* not reached unless the parent failed to kill us */
    }
    close(pipefd[1]);
    char msg[1400] = {0};
    size_t got = 0;
    ssize_t k;
    while (got < sizeof msg - 1 && (k = read(pipefd[0], msg + got, sizeof msg - 1 - got)) > 0) {
        got += (size_t)k;
        if (strchr(msg, '\n') && strchr(strchr(msg, '\n') + 1, '\n')) break;
    }
    close(pipefd[0]);
    char *nl = strchr(msg, '\n');
    assert_non_null(nl);
    *nl = '\0';
    char *tmp2 = nl + 1;
    nl = strchr(tmp2, '\n');
    assert_non_null(nl);
    *nl = '\0';
    assert_true(exists(msg));  /* the child's temporaries are there */
    assert_true(exists(tmp2));
    assert_false(exists(path));

    assert_int_equal(kill(pid, SIGTERM), 0);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1); /* through the handler */
    assert_false(exists(msg));
    assert_false(exists(tmp2));
    assert_false(exists(path));
    assert_false(exists(path2));
    assert_string_equal(listing(dir, ls, sizeof ls), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commit_renames),
        cmocka_unit_test(test_relative_path),
        cmocka_unit_test(test_abort_leaves_nothing),
        cmocka_unit_test(test_bgzf_output),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_write_failure),
        cmocka_unit_test(test_earlier_stream_error),
        cmocka_unit_test(test_same_path_twice),
        cmocka_unit_test(test_special_files),
        cmocka_unit_test(test_stdout),
        cmocka_unit_test(test_symlink),
        cmocka_unit_test(test_cleanup_all),
        cmocka_unit_test(test_tmpname),
        cmocka_unit_test(test_registry_full),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_signal_cleanup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
