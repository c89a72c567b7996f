/* cairn messages SNAPSHOT [--chat ID] [--json|--csv|--html DIR]: the
 * conversations of a device snapshot (engine/ios/content_messages.h). */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "engine/ios/content_export.h"
#include "engine/ios/content_messages.h"
#include "cli.h"

static const char *chat_title(const content_chat *ch)
{
    return ch->name ? ch->name : ch->identifier ? ch->identifier : "?";
}

static void json_or_null(const char *s)
{
    if (s)
        cli_json_str(s);
    else
        printf("null");
}

static void print_json(const content_messages *m, const content_chat *only)
{
    size_t shown = 0;
    printf("{\"chats\":[");
    for (size_t i = 0; i < m->nchat; i++) {
        const content_chat *const ch = &m->chat[i];
        if (only && ch != only)
            continue;
        printf("%s{\"id\":%" PRId64 ",\"guid\":", shown++ ? "," : "", ch->rowid);
        json_or_null(ch->guid);
        printf(",\"identifier\":");
        json_or_null(ch->identifier);
        printf(",\"name\":");
        json_or_null(ch->name);
        printf(",\"service\":");
        json_or_null(ch->service);
        printf(",\"messages\":[");
        for (size_t k = 0; k < ch->nmsg; k++) {
            const content_message *const g = &ch->msg[k];
            char when[32];
            cli_time(g->time, when, sizeof when, 0);
            printf("%s{\"id\":%" PRId64 ",\"guid\":", k ? "," : "", g->rowid);
            json_or_null(g->guid);
            printf(",\"time\":%" PRId64 ",\"date\":\"%s\",\"from_me\":%s,\"sender\":", g->time,
                   when, g->from_me ? "true" : "false");
            json_or_null(g->sender);
            printf(",\"text\":");
            json_or_null(g->text);
            printf(",\"attachments\":[");
            for (size_t a = 0; a < g->natt; a++) {
                const content_attachment *const at = &g->att[a];
                printf("%s{\"name\":", a ? "," : "");
                json_or_null(at->name);
                printf(",\"mime\":");
                json_or_null(at->mime);
                printf(",\"path\":");
                json_or_null(at->path);
                printf(",\"size\":%" PRIu64 ",\"in_snapshot\":%s}", at->size,
                       at->in_snapshot ? "true" : "false");
            }
            printf("]}");
        }
        printf("]}");
    }
    printf("]}\n");
}

/* RFC 4180: quoted when it holds a quote, comma or line end. */
static void csv_field(const char *s)
{
    if (!s)
        return;
    if (!strpbrk(s, "\",\r\n")) {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        if (*s == '"')
            putchar('"');
        putchar(*s);
    }
    putchar('"');
}

static void print_csv(const content_messages *m, const content_chat *only)
{
    printf("chat_id,chat,date,sender,text,attachments\r\n");
    for (size_t i = 0; i < m->nchat; i++) {
        const content_chat *const ch = &m->chat[i];
        if (only && ch != only)
            continue;
        for (size_t k = 0; k < ch->nmsg; k++) {
            const content_message *const g = &ch->msg[k];
            char when[32];
            cli_time(g->time, when, sizeof when, 0);
            printf("%" PRId64 ",", ch->rowid);
            csv_field(chat_title(ch));
            printf(",%s,", when);
            csv_field(g->from_me ? "me" : g->sender);
            putchar(',');
            csv_field(g->text);
            putchar(',');
            char names[1024] = "";
            for (size_t a = 0; a < g->natt; a++) {
                const size_t used = strlen(names);
                snprintf(names + used, sizeof names - used, "%s%s", a ? " " : "",
                         g->att[a].name ? g->att[a].name : "?");
            }
            csv_field(names);
            printf("\r\n");
        }
    }
}

static void print_chat(const content_chat *ch)
{
    printf("conversation %" PRId64 ": %s", ch->rowid, chat_title(ch));
    if (ch->name && ch->identifier)
        printf(" (%s)", ch->identifier);
    printf(", %s, %zu message%s\n", ch->service ? ch->service : "?", ch->nmsg,
           ch->nmsg == 1 ? "" : "s");
    for (size_t k = 0; k < ch->nmsg; k++) {
        const content_message *const g = &ch->msg[k];
        char when[32];
        cli_time(g->time, when, sizeof when, 0);
        printf("%s  %s: %s\n", when,
               g->from_me  ? "me"
               : g->sender ? g->sender
                           : "?",
               g->text ? g->text : "");
        for (size_t a = 0; a < g->natt; a++) {
            char size[32];
            cli_human(g->att[a].size, size, sizeof size);
            printf("    [attachment %s, %s, %s%s]\n", g->att[a].name ? g->att[a].name : "?",
                   g->att[a].mime ? g->att[a].mime : "?", size,
                   g->att[a].in_snapshot ? "" : ", not in this snapshot");
        }
    }
}

static void print_list(const content_messages *m)
{
    size_t total = 0;
    for (size_t i = 0; i < m->nchat; i++)
        total += m->chat[i].nmsg;
    printf("%zu conversation%s, %zu message%s\n", m->nchat, m->nchat == 1 ? "" : "s", total,
           total == 1 ? "" : "s");
    printf("%4s  %8s  %-19s  %s\n", "ID", "MESSAGES", "LAST MESSAGE", "CONVERSATION");
    for (size_t i = 0; i < m->nchat; i++) {
        const content_chat *const ch = &m->chat[i];
        char when[32] = "-";
        if (ch->nmsg)
            cli_time(ch->msg[ch->nmsg - 1].time, when, sizeof when, 0);
        printf("%4" PRId64 "  %8zu  %-19s  %s", ch->rowid, ch->nmsg, when, chat_title(ch));
        if (ch->name && ch->identifier)
            printf(" (%s)", ch->identifier);
        printf("\n");
    }
}

int cmd_messages(cli *c)
{
    store *s = NULL;
    snaplist l = {NULL, 0, 0};
    content_snap *cs = NULL;
    content_messages m = {0, NULL};
    const content_chat *only = NULL;
    if (c->nargs != 1 || (c->json + c->csv + (c->html != NULL)) > 1)
        return cli_usage_error(&cli_cmd_messages);
    cairn_err rc = cli_open_content(c, &s, &l, &cs);
    if (!rc)
        rc = content_messages_load(cs, cli_content_warn, NULL, &m);
    if (!rc && c->chat && !(only = content_messages_chat(&m, c->chat)))
        rc = err_set(CAIRN_ENOTFOUND,
                     "no conversation %s in this snapshot (see 'cairn messages %s')", c->chat,
                     c->args[0]);
    if (!rc && c->html) {
        content_export_result r;
        rc = content_messages_html(cs, &m, only, c->html, cli_content_warn, NULL, &r);
        if (!rc || rc == CAIRN_EPARTIAL) {
            char size[32];
            cli_human(r.bytes, size, sizeof size);
            printf("wrote %zu conversation%s to %s/index.html with %" PRIu64 " attachment%s (%s)",
                   only ? 1 : m.nchat, (only ? 1 : m.nchat) == 1 ? "" : "s", c->html, r.files,
                   r.files == 1 ? "" : "s", size);
            if (r.missing)
                printf("; %" PRIu64 " not in this snapshot", r.missing);
            printf("\n");
        }
    } else if (!rc && c->json) {
        print_json(&m, only);
    } else if (!rc && c->csv) {
        print_csv(&m, only);
    } else if (!rc && only) {
        print_chat(only);
    } else if (!rc) {
        print_list(&m);
    }
    content_messages_free(&m);
    content_close(cs);
    snaplist_free(&l);
    store_close(s);
    return rc ? cli_fail(rc) : EXIT_OK;
}

static const cli_option messages_options[] = {
    {.name = "chat",
     .kind = OPT_STRING,
     .offset = offsetof(cli, chat),
     .arg_name = "ID",
     .help = "one conversation: its ID (first column), guid or identifier"},
    {.name = "json", .kind = OPT_FLAG, .offset = offsetof(cli, json), .help = "print JSON"},
    {.name = "csv",
     .kind = OPT_FLAG,
     .offset = offsetof(cli, csv),
     .help = "print the messages as CSV (RFC 4180)"},
    {.name = "html",
     .kind = OPT_STRING,
     .offset = offsetof(cli, html),
     .arg_name = "DIR",
     .help = "write a browsable export with the attachments into DIR"},
    CLI_OPT_DEVICE_SCOPE(0),
    CLI_OPT_END,
};

static const char *const messages_synopsis[] = {
    "[--device NAME|UDID] SNAPSHOT [--chat ID] [--json|--csv|--html DIR]",
    NULL,
};

const cli_command cli_cmd_messages = {
    .name = "messages",
    .summary = "list the conversations and messages in a device snapshot",
    .synopsis = messages_synopsis,
    .options = messages_options,
    .run = cmd_messages,
};
