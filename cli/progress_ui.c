/* progress_ui.c - how far a long command is (backup, restore, check,
 * prune), drawn from the engine's work_hooks (engine/core/progress.h):
 * on a terminal one line on stderr, redrawn; with --json progress events as
 * JSON lines on stdout; else nothing (the output scripts and tests compare
 * stays as it was).  Ctrl-C sets the flag the engine polls, so the command
 * ends cleanly and says what was kept; a second Ctrl-C kills at once. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cli_count(uint64_t n, char *out, size_t cap)
{
    char digits[32];
    const int len = snprintf(digits, sizeof digits, "%" PRIu64, n);
    size_t o = 0;
    for (int i = 0; i < len && o + 2 < cap; i++) {
        if (i > 0 && (len - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = '\0';
}

static void json_event(cli_progress *p, const work_progress *w)
{
    const double t = now_sec() - p->start;
    FILE *const out = p->json_stderr ? stderr : stdout;
    fprintf(out,
            "{\"type\":\"progress\",\"phase\":\"%s\",\"unit\":\"%s\",\"seconds\":%.1f,"
            "\"files_done\":%" PRIu64 ",\"files_total\":%" PRIu64 ",\"bytes_done\":%" PRIu64
            ",\"bytes_total\":%" PRIu64,
            w->phase, w->unit ? w->unit : "files", t, w->files_done, w->files_total, w->bytes_done,
            w->bytes_total);
    if (w->bytes_total)
        fprintf(out, ",\"percent\":%.1f", 100.0 * (double)w->bytes_done / (double)w->bytes_total);
    fprintf(out, "}\n");
    fflush(out);
}

static void draw(cli_progress *p, const work_progress *w)
{
    char line[256], a[32], b[32], rate[32], n1[32], n2[32];
    const double t = now_sec() - p->start;
    const double bps = t > 0 ? (double)w->bytes_done / t : 0;
    size_t len = 0;
    const char *const unit = w->unit ? w->unit : "files";
    cli_count(w->files_done, n1, sizeof n1);
    cli_human(w->bytes_done, a, sizeof a);
    if (w->files_total) {
        cli_count(w->files_total, n2, sizeof n2);
        len += (size_t)snprintf(line + len, sizeof line - len, "%s: %s of %s %s", w->phase, n1, n2,
                                unit);
    } else {
        len += (size_t)snprintf(line + len, sizeof line - len, "%s: %s %s", w->phase, n1, unit);
    }
    if (w->bytes_total) {
        cli_human(w->bytes_total, b, sizeof b);
        len += (size_t)snprintf(line + len, sizeof line - len, ", %s of %s", a, b);
    } else {
        len += (size_t)snprintf(line + len, sizeof line - len, ", %s", a);
    }
    if (bps > 0) {
        cli_human((uint64_t)bps, rate, sizeof rate);
        len += (size_t)snprintf(line + len, sizeof line - len, ", %s/s", rate);
        if (w->bytes_total > w->bytes_done) {
            const uint64_t left = (uint64_t)((double)(w->bytes_total - w->bytes_done) / bps);
            snprintf(line + len, sizeof line - len, ", ETA %" PRIu64 ":%02" PRIu64 ":%02" PRIu64,
                     left / 3600, left / 60 % 60, left % 60);
        }
    }
    fprintf(stderr, "\r\033[K%s", line);
    fflush(stderr);
    p->drawn = 1;
}

static void on_progress(void *ctx, const work_progress *w)
{
    cli_progress *const p = ctx;
    const double t = now_sec();
    p->last_state = *w;
    p->pending = 1;
    /* a terminal ten times a second; JSON once a second (and the first of
     * each phase: a script sees a prune move from snapshots to packs) */
    const int same = p->shown && p->last_unit == w->unit && p->last_phase == w->phase;
    p->last_unit = w->unit;
    p->last_phase = w->phase;
    if (same && t - p->last < (p->json ? 1.0 : 0.1))
        return;
    p->last = t;
    p->shown = 1;
    p->pending = 0;
    if (p->json)
        json_event(p, w);
    else
        draw(p, w);
}

const work_hooks *cli_progress_begin(cli_progress *p, const cli *c)
{
    memset(p, 0, sizeof *p);
    p->json = c->json;
    p->tty = isatty(STDERR_FILENO);
    p->start = now_sec();
    p->hooks.stop = &interrupted;
    if (p->json || p->tty) {
        p->hooks.progress = on_progress;
        p->hooks.ctx = p;
    }
    interrupted = 0;
    return &p->hooks;
}

void cli_progress_catch(cli_progress *p)
{
    struct sigaction sa;
    if (p->caught)
        return;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    /* system calls go on (the engine polls the flag); the next Ctrl-C is
     * the default one, for a command that does not stop soon enough */
    sa.sa_flags = SA_RESTART | SA_RESETHAND;
    sigaction(SIGINT, &sa, &p->old_sigint);
    p->caught = 1;
    p->start = now_sec(); /* the rate leaves out the password's key derivation */
}

void cli_progress_end(cli_progress *p)
{
    if (p->caught)
        sigaction(SIGINT, &p->old_sigint, NULL);
    p->caught = 0;
    /* the final counts (on a terminal only for a moment, before the result) */
    if (p->json && p->pending)
        json_event(p, &p->last_state);
    else if (p->drawn && p->pending)
        draw(p, &p->last_state);
    if (p->drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        p->drawn = 0;
    }
}

int cli_interrupted(void)
{
    return interrupted != 0;
}
