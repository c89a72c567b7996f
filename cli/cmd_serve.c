/* cmd_serve.c - cairn serve [--port N]: the local web page (web/web.h) over
 * the store, read-only, on 127.0.0.1, until Ctrl-C or SIGTERM. */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web/web.h"
#include "cli.h"

static volatile sig_atomic_t serve_stop;

static void on_stop_signal(int sig)
{
    (void)sig;
    serve_stop = 1;
}

static int should_stop(void *ctx)
{
    (void)ctx;
    return serve_stop != 0;
}

static void say_ready(void *ctx, const char *url, unsigned port)
{
    const cli *const c = ctx;
    (void)port;
    fprintf(stderr, "cairn: serving %s read-only on 127.0.0.1 only; Ctrl-C stops\n", c->store_path);
    /* the one line on stdout, for people and scripts alike */
    printf("%s\n", url);
    fflush(stdout);
}

int cmd_serve(cli *c)
{
    web_options o = {WEB_DEFAULT_PORT, say_ready, should_stop, c};
    store *s = NULL;
    if (c->nargs)
        return cli_usage_error(&cli_cmd_serve);
    if (c->port) {
        char *end = NULL;
        const unsigned long port = strtoul(c->port, &end, 10);
        if (!c->port[0] || *end || port > 65535 || c->port[0] == '-') {
            fprintf(stderr, "cairn: --port %s: not a port number (0 to 65535; 0: any free)\n",
                    c->port);
            return EXIT_USAGE;
        }
        o.port = (unsigned)port;
    }
    /* the module first: a missing one fails before the password is asked */
    const void *ops = NULL;
    cairn_err rc = module_load("web", NULL, &ops);
    if (!rc)
        rc = cli_open_store(c, 0, &s);
    if (!rc) {
        struct sigaction sa, old_int, old_term;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_stop_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);
        rc = ((const web_module_ops *)ops)->serve(s, &o);
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
    }
    store_close(s);
    return rc ? cli_fail(rc) : EXIT_OK;
}

static const cli_option serve_options[] = {
    {.name = "port",
     .kind = OPT_STRING,
     .offset = offsetof(cli, port),
     .arg_name = "N",
     .help = "listen on this port of 127.0.0.1 (default 8770; 0: any free one, printed)"},
    CLI_OPT_END,
};

static const char *const serve_synopsis[] = {
    "[--port N]",
    NULL,
};

const cli_command cli_cmd_serve = {
    .name = "serve",
    .summary = "show the store in a local web page (read-only, 127.0.0.1, with a token)",
    .synopsis = serve_synopsis,
    .options = serve_options,
    .run = cmd_serve,
};
