/* device_ui.c - what the user sees and answers while a device workflow
 * runs (engine/ios/device_workflow.h callbacks): progress on one redrawn
 * line on a terminal (a line every few seconds otherwise), warnings and
 * notes, and the backup passwords, from a file, the environment or a
 * prompt (never the command line). */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "password.h"

enum { PROGRESS_EVERY_SEC = 10 };

static const char ENV_PASSWORD[] = "CAIRN_BACKUP_PASSWORD";
static const char ENV_NEW_PASSWORD[] = "CAIRN_NEW_BACKUP_PASSWORD";

cairn_err cli_device_password(void *ctx, const device_password_request *req, char **text,
                              size_t *len)
{
    const cli *const c = ctx;
    password pw = {NULL, 0};
    int have = 1;
    cairn_err rc;
    *text = NULL;
    *len = 0;
    if (req->kind == DEVICE_PASSWORD_NEW_BACKUP)
        rc = password_get(c->new_backup_password_file, ENV_NEW_PASSWORD, req->prompt, 1, &pw);
    else if (req->optional)
        rc = password_get_optional(c->backup_password_file, ENV_PASSWORD, req->prompt, &pw, &have);
    else
        rc = password_get(c->backup_password_file, ENV_PASSWORD, req->prompt, 0, &pw);
    if (rc || !have)
        return rc;
    /* the workflow owns it now, and wipes it */
    *text = pw.text;
    *len = pw.len;
    return CAIRN_OK;
}

void cli_device_ui_end(cli_device_ui *ui)
{
    if (atomic_exchange(&ui->drawn, 0))
        fputc('\n', stderr);
}

static void on_warning(void *ctx, const char *path, const char *msg)
{
    cli_device_ui_end(ctx);
    if (path)
        fprintf(stderr, "cairn: warning: %s: %s\n", path, msg);
    else
        fprintf(stderr, "cairn: warning: %s\n", msg);
}

static void on_event(void *ctx, const char *msg)
{
    cli_device_ui_end(ctx);
    fprintf(stderr, "cairn: %s\n", msg);
}

static void on_note(void *ctx, const char *line)
{
    cli_device_ui_end(ctx);
    printf("%s\n", line);
    fflush(stdout);
}

static void on_progress(void *ctx, const device_progress *p)
{
    cli_device_ui *const w = ctx;
    char a[32], b[32];
    const time_t now = time(NULL);
    if (!w->tty && now - w->last < PROGRESS_EVERY_SEC)
        return;
    w->last = now;
    cli_human(p->bytes_received, a, sizeof a);
    cli_human(p->bytes_sent, b, sizeof b);
    fprintf(stderr, "%s  %" PRIu64 " files received (%s), %" PRIu64 " sent (%s); device at %.0f%%",
            w->tty ? "\r" : "", p->files_received, a, p->files_sent, b, p->device_percent);
    if (w->tty) {
        fputs("   ", stderr);
        atomic_store(&w->drawn, 1);
    } else {
        fputc('\n', stderr);
    }
    fflush(stderr);
}

static cairn_err on_password(void *ctx, const device_password_request *req, char **text,
                             size_t *len)
{
    cli_device_ui *const w = ctx;
    cli_device_ui_end(w);
    return cli_device_password(w->c, req, text, len);
}

device_callbacks cli_device_callbacks(cli_device_ui *ui, cli *c)
{
    memset(ui, 0, sizeof *ui);
    atomic_init(&ui->drawn, 0);
    ui->c = c;
    ui->tty = isatty(STDERR_FILENO);
    ui->last = time(NULL);
    const device_callbacks cb = {.ctx = ui,
                                 .password = on_password,
                                 .progress = on_progress,
                                 .warning = on_warning,
                                 .note = on_note,
                                 .event = on_event};
    return cb;
}
