/* cairn diff [A] B: what changed from A (default: B's parent) to B. */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "engine/core/diff.h"
#include "engine/core/snapshot_list.h"
#include "engine/ios/content_diff.h"
#include "util/fsutil.h"
#include "cli.h"

typedef struct print_ctx {
    int json;
    size_t count;
} print_ctx;

static void print_item(void *ctx, const diff_item *it)
{
    print_ctx *const p = ctx;
    if (p->json) {
        printf("%s{\"status\":\"%c\",\"domain\":", p->count ? "," : "", it->status);
        if (it->domain)
            cli_json_str(it->domain);
        else
            printf("null");
        printf(",\"path\":");
        cli_json_str(it->path);
        printf(",\"old_size\":%" PRIu64 ",\"new_size\":%" PRIu64 "}", it->old_size, it->new_size);
    } else {
        char size[32];
        cli_human(it->status == 'D' ? it->old_size : it->new_size, size, sizeof size);
        printf("%c  %s%s%s  (%s)\n", it->status, it->domain ? it->domain : "",
               it->domain ? "/" : "", it->path, size);
    }
    p->count++;
}

/* diff --content: the changes grouped under a heading per conversation,
 * photos and contacts */
typedef struct content_print {
    int json;
    size_t count;
    char heading[600];
} content_print;

static const char *const change_names[] = {
    "chat_added",    "chat_removed",  "message_added",   "message_removed", "photo_added",
    "photo_removed", "contact_added", "contact_removed", "contact_changed",
};

static void content_json(content_print *p, const content_change *ch)
{
    char when[32];
    printf("%s{\"change\":\"%s\"", p->count ? "," : "", change_names[ch->kind]);
    if (ch->chat) {
        printf(",\"chat\":");
        cli_json_str(ch->chat);
    }
    if (ch->kind == CONTENT_CHAT_ADDED || ch->kind == CONTENT_CHAT_REMOVED) {
        printf(",\"messages\":%" PRIu64 "}", ch->count);
        return;
    }
    printf(",\"%s\":", ch->chat ? "text" : ch->time ? "path" : "name");
    cli_json_str(ch->item);
    if (ch->detail) {
        printf(",\"%s\":", ch->chat ? "sender" : ch->time ? "kind" : "what");
        cli_json_str(ch->detail);
    }
    if (ch->time) {
        cli_time(ch->time, when, sizeof when, 0);
        printf(",\"time\":%" PRId64 ",\"date\":\"%s\"", ch->time, when);
    }
    printf("}");
}

static void print_content(void *ctx, const content_change *ch)
{
    content_print *const p = ctx;
    if (p->json) {
        content_json(p, ch);
        p->count++;
        return;
    }
    char heading[600], when[32] = "";
    if (ch->chat)
        snprintf(heading, sizeof heading, "conversation %s", ch->chat);
    else
        snprintf(heading, sizeof heading, "%s",
                 ch->kind <= CONTENT_PHOTO_REMOVED ? "photos" : "contacts");
    if (strcmp(heading, p->heading) != 0) {
        printf("%s:\n", heading);
        snprintf(p->heading, sizeof p->heading, "%s", heading);
    }
    if (ch->time)
        cli_time(ch->time, when, sizeof when, 0);
    switch (ch->kind) {
    case CONTENT_CHAT_ADDED:
    case CONTENT_CHAT_REMOVED:
        printf("  %c whole conversation (%" PRIu64 " message%s)\n",
               ch->kind == CONTENT_CHAT_ADDED ? '+' : '-', ch->count, ch->count == 1 ? "" : "s");
        break;
    case CONTENT_MESSAGE_ADDED:
    case CONTENT_MESSAGE_REMOVED:
        printf("  %c %s  %s: %s\n", ch->kind == CONTENT_MESSAGE_ADDED ? '+' : '-', when, ch->detail,
               ch->item);
        break;
    case CONTENT_PHOTO_ADDED:
    case CONTENT_PHOTO_REMOVED:
        printf("  %c %s  %-5s  %s\n", ch->kind == CONTENT_PHOTO_ADDED ? '+' : '-', when, ch->detail,
               ch->item);
        break;
    default:
        printf("  %c %s%s%s%s\n",
               ch->kind == CONTENT_CONTACT_ADDED     ? '+'
               : ch->kind == CONTENT_CONTACT_REMOVED ? '-'
                                                     : '~',
               ch->item, ch->detail ? " (" : "", ch->detail ? ch->detail : "",
               ch->detail ? ")" : "");
    }
    p->count++;
}

static cairn_err diff_content(cli *c, store *s, const snapshot *a, const snapshot *b)
{
    content_print p = {c->json, 0, ""};
    content_diff_summary m;
    char ida[9], idb[9];
    snaplist_short_id(a->id, ida);
    snaplist_short_id(b->id, idb);
    if (c->json)
        printf("{\"a\":\"%s\",\"b\":\"%s\",\"changes\":[", ida, idb);
    else
        printf("comparing the content of %s with %s\n", ida, idb);
    const cairn_err rc = content_diff_run(s, a, b, print_content, &p, cli_content_warn, NULL, &m);
    if (rc && rc != CAIRN_EPARTIAL)
        return rc;
    if (c->json)
        printf("],\"chats_added\":%" PRIu64 ",\"chats_removed\":%" PRIu64
               ",\"messages_added\":%" PRIu64 ",\"messages_removed\":%" PRIu64
               ",\"photos_before\":%" PRIu64 ",\"photos_after\":%" PRIu64
               ",\"photos_added\":%" PRIu64 ",\"photos_removed\":%" PRIu64
               ",\"contacts_added\":%" PRIu64 ",\"contacts_removed\":%" PRIu64
               ",\"contacts_changed\":%" PRIu64 ",\"readers_failed\":%u}\n",
               m.chats_added, m.chats_removed, m.messages_added, m.messages_removed,
               m.photos_before, m.photos_after, m.photos_added, m.photos_removed, m.contacts_added,
               m.contacts_removed, m.contacts_changed, m.failed);
    else
        printf("messages +%" PRIu64 " -%" PRIu64 " (conversations +%" PRIu64 " -%" PRIu64
               "); photos +%" PRIu64 " -%" PRIu64 " (%" PRIu64 " -> %" PRIu64
               "); contacts +%" PRIu64 " -%" PRIu64 " ~%" PRIu64 "\n",
               m.messages_added, m.messages_removed, m.chats_added, m.chats_removed, m.photos_added,
               m.photos_removed, m.photos_before, m.photos_after, m.contacts_added,
               m.contacts_removed, m.contacts_changed);
    return rc;
}

int cmd_diff(cli *c)
{
    store *s = NULL;
    snaplist l = {NULL, 0, 0};
    const snapshot *a = NULL, *b = NULL;
    diff_summary sum;
    print_ctx p = {c->json, 0};
    char ida[9], idb[9], added[32], removed[32], stored[32];
    if (c->nargs < 1 || c->nargs > 2)
        return cli_usage_error(&cli_cmd_diff);
    cairn_err rc = cli_open_store(c, 0, &s);
    if (!rc)
        rc = snaplist_load(s, &l);
    if (!rc)
        rc = snaplist_find_for(&l, c->args[c->nargs - 1], c->device, 0, &b);
    if (!rc && c->nargs == 2) {
        rc = snaplist_find_for(&l, c->args[0], c->device, 0, &a);
    } else if (!rc) {
        char hex[2 * ID_LEN + 1];
        snaplist_short_id(b->id, idb);
        if (!b->has_parent) {
            rc = err_set(CAIRN_ENOTFOUND,
                         "snapshot %s is the first of its chain: name two snapshots to compare",
                         idb);
        } else {
            fs_hex(b->parent, ID_LEN, hex);
            rc = snaplist_find(&l, hex, &a);
            if (rc == CAIRN_ENOTFOUND)
                rc = err_set(CAIRN_ENOTFOUND,
                             "the parent of snapshot %s is gone: name two "
                             "snapshots to compare",
                             idb);
        }
    }
    if (!rc && c->content) {
        rc = diff_content(c, s, a, b);
        snaplist_free(&l);
        store_close(s);
        return rc ? cli_fail(rc) : EXIT_OK;
    }
    if (!rc) {
        snaplist_short_id(a->id, ida);
        snaplist_short_id(b->id, idb);
        if (c->json)
            printf("{\"a\":\"%s\",\"b\":\"%s\",\"changes\":[", ida, idb);
        else
            printf("comparing %s with %s\n", ida, idb);
        rc = diff_run(s, a, b, print_item, &p, &sum);
    }
    if (!rc) {
        if (c->json) {
            printf("],\"added\":%" PRIu64 ",\"removed\":%" PRIu64 ",\"modified\":%" PRIu64
                   ",\"bytes_added\":%" PRIu64 ",\"bytes_removed\":%" PRIu64
                   ",\"new_bytes_stored\":%" PRIu64 "}\n",
                   sum.added, sum.removed, sum.modified, sum.bytes_added, sum.bytes_removed,
                   b->new_bytes);
        } else {
            cli_human(sum.bytes_added, added, sizeof added);
            cli_human(sum.bytes_removed, removed, sizeof removed);
            cli_human(b->new_bytes, stored, sizeof stored);
            printf("%" PRIu64 " added, %" PRIu64 " removed, %" PRIu64
                   " modified: +%s, -%s; snapshot %s added %s of new data to the store\n",
                   sum.added, sum.removed, sum.modified, added, removed, idb, stored);
        }
    }
    snaplist_free(&l);
    store_close(s);
    return rc ? cli_fail(rc) : EXIT_OK;
}

static const cli_option diff_options[] = {
    {.name = "json",
     .kind = OPT_FLAG,
     .offset = offsetof(cli, json),
     .help = "print one JSON object"},
    {.name = "content",
     .kind = OPT_FLAG,
     .offset = offsetof(cli, content),
     .help = "compare messages, photos and contacts instead of files"},
    CLI_OPT_DEVICE_SCOPE(0),
    CLI_OPT_END,
};

static const char *const diff_synopsis[] = {
    "[--json] [--content] [--device NAME|UDID] [SNAPSHOT_A] SNAPSHOT_B",
    NULL,
};

const cli_command cli_cmd_diff = {
    .name = "diff",
    .summary = "show what changed between two snapshots (A defaults to B's parent)",
    .synopsis = diff_synopsis,
    .options = diff_options,
    .run = cmd_diff,
};
