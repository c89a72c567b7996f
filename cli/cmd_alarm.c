/* cmd_alarm.c - cairn alarm test SINK: sends a test alarm through one alarm
 * sink (a desktop notification, an e-mail, a webhook, a command), so users
 * can see that their alarms reach them before one is needed.  No store is
 * opened. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "engine/service/alarm_sink.h"
#include "cli.h"

int cmd_alarm(cli *c)
{
    alarm_sink *sink = NULL;
    alarm_kind kind = ALARM_OVERDUE;
    unsigned timeout = 0;
    char title[160];
    if (c->nargs != 2 || strcmp(c->args[0], "test") != 0)
        return cli_usage_error(&cli_cmd_alarm);
    cairn_err rc = c->alarm_kind ? alarm_kind_parse(c->alarm_kind, &kind) : CAIRN_OK;
    if (!rc && c->alarm_timeout)
        rc = cli_parse_duration("--timeout", c->alarm_timeout, &timeout);
    if (!rc && c->alarm_timeout && !timeout)
        rc = err_set(CAIRN_EINVAL, "--timeout: must be more than 0 seconds");
    if (!rc)
        rc = alarm_sink_parse(c->args[1], &sink);
    if (rc)
        return cli_fail(rc);
    if (timeout)
        alarm_sink_set_timeout(sink, timeout);
    snprintf(title, sizeof title, "test alarm (%s)", alarm_kind_name(kind));
    const struct alarm a = {
        .kind = kind,
        .device = c->device,
        .title = title,
        .body = "This is a test from 'cairn alarm test'. If you read it, cairn's alarms reach "
                "you this way.",
        .time = (int64_t)time(NULL),
    };
    rc = alarm_sink_send(sink, &a);
    if (!rc)
        printf("test alarm sent through %s\n", alarm_sink_type(sink));
    alarm_sink_free(sink);
    return rc ? cli_fail(rc) : EXIT_OK;
}

static const cli_option alarm_options[] = {
    {.name = "kind",
     .kind = OPT_STRING,
     .offset = offsetof(struct cli, alarm_kind),
     .arg_name = "KIND",
     .help = "the kind of alarm to send (overdue, copies-behind, check-failed, job-failed, "
             "unlock-device, disk-full, pairing-lost, deletion; default overdue)"},
    {.name = "device",
     .kind = OPT_STRING,
     .offset = offsetof(struct cli, device),
     .arg_name = "NAME",
     .help = "the device the test alarm names"},
    {.name = "timeout",
     .kind = OPT_STRING,
     .offset = offsetof(struct cli, alarm_timeout),
     .arg_name = "DURATION",
     .help = "give up after DURATION (default 30s, a command 60s)"},
    CLI_OPT_END,
};

static const char *const alarm_synopsis[] = {
    "test SINK [--kind KIND] [--device NAME] [--timeout DURATION]",
    NULL,
};

const cli_command cli_cmd_alarm = {
    .name = "alarm",
    .summary = "send a test alarm through an alarm sink (dbus, smtp://, webhook:, command:)",
    .synopsis = alarm_synopsis,
    .options = alarm_options,
    .run = cmd_alarm,
};
