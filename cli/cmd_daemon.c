/* cmd_daemon.c - cairn daemon: the service in the foreground (systemd, a
 * container, a terminal), one line per event on stdout, until SIGTERM or
 * SIGINT (engine/service/service.h does the work). */
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/service/service.h"
#include "target_common.h"

/* a signal handler has nothing but a global to set */
static atomic_int daemon_stop;

static void on_stop(int sig)
{
    (void)sig;
    atomic_store(&daemon_stop, 1);
}

static void log_line(void *ctx, const char *line)
{
    char when[32];
    const time_t t = (time_t)service_clock();
    struct tm tm;
    (void)ctx;
    localtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    /* one write per line: the device thread may log at the same time */
    printf("%s %s\n", when, line);
    fflush(stdout);
}

int cmd_daemon(cli *c)
{
    password pw = {NULL, 0};
    unsigned wait = 600;
    struct sigaction sa, old_term, old_int;
    if (c->nargs)
        return cli_usage_error(&cli_cmd_daemon);
    cairn_err rc = cli_local_store(c);
    if (!rc && c->wait)
        rc = cli_parse_duration("--wait", c->wait, &wait);
    /* the store password from --password-file or $CAIRN_PASSWORD; else the
     * policy's store-password-file (a systemd credential), read by the
     * service */
    if (!rc && (c->password_file || (getenv("CAIRN_PASSWORD") && *getenv("CAIRN_PASSWORD")))) {
        password_warn_readable(c->password_file);
        rc = password_get(c->password_file, "CAIRN_PASSWORD", "Store password: ", 0, &pw);
    }
    if (rc)
        return cli_fail(rc);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGINT, &sa, &old_int);
    const service_opts o = {.store_path = c->store_path,
                            .password = pw.text,
                            .password_len = pw.len,
                            .policy_path = c->policy,
                            .once = c->once,
                            .wait_seconds = wait,
                            .log = log_line,
                            .stop = &daemon_stop};
    rc = service_run(&o);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGINT, &old_int, NULL);
    password_free(&pw);
    return rc ? cli_fail(rc) : EXIT_OK;
}

static const cli_option daemon_options[] = {
    CLI_OPT_POLICY(0),
    {.name = "once",
     .kind = OPT_FLAG,
     .offset = offsetof(cli, once),
     .help = "handle the devices connected now, then exit"},
    CLI_OPT_WAIT(0),
    CLI_OPT_END,
};

static const char *const daemon_synopsis[] = {
    "[--policy FILE] [--once] [--wait DURATION]",
    NULL,
};

const cli_command cli_cmd_daemon = {
    .name = "daemon",
    .summary = "back up each device when it appears, copy, prune, check, raise alarms "
               "(foreground)",
    .synopsis = daemon_synopsis,
    .options = daemon_options,
    .run = cmd_daemon,
};
