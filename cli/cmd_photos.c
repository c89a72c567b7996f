/* cairn photos SNAPSHOT [--json] [--export DIR]: the camera roll of a
 * device snapshot (engine/ios/content_photos.h). */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>

#include "engine/ios/content_export.h"
#include "engine/ios/content_photos.h"
#include "cli.h"

static void print_json(const content_photos *p)
{
    printf("{\"photos\":[");
    for (size_t i = 0; i < p->n; i++) {
        const content_photo *const ph = &p->photo[i];
        char when[32];
        cli_time(ph->time, when, sizeof when, 0);
        printf("%s{\"uuid\":", i ? "," : "");
        if (ph->uuid)
            cli_json_str(ph->uuid);
        else
            printf("null");
        printf(",\"time\":%" PRId64 ",\"date\":\"%s\",\"kind\":\"%s\",\"trashed\":%s,\"domain\":"
               "\"" CONTENT_PHOTOS_DOMAIN "\",\"path\":",
               ph->time, when, content_photo_kind_name(ph->kind), ph->trashed ? "true" : "false");
        cli_json_str(ph->path);
        printf(",\"size\":%" PRIu64 ",\"in_snapshot\":%s}", ph->size,
               ph->in_snapshot ? "true" : "false");
    }
    printf("]}\n");
}

static void print_list(const content_photos *p)
{
    size_t kinds[3] = {0, 0, 0};
    for (size_t i = 0; i < p->n; i++) {
        const content_photo *const ph = &p->photo[i];
        char when[32], size[32];
        cli_time(ph->time, when, sizeof when, 0);
        cli_human(ph->size, size, sizeof size);
        printf("%s  %-5s  %10s  %s%s%s\n", when, content_photo_kind_name(ph->kind),
               ph->in_snapshot ? size : "-", ph->path, ph->trashed ? "  (recently deleted)" : "",
               ph->in_snapshot ? "" : "  (not in this snapshot)");
        kinds[ph->kind]++;
    }
    printf("%zu item%s: %zu photo%s, %zu video%s", p->n, p->n == 1 ? "" : "s", kinds[0],
           kinds[0] == 1 ? "" : "s", kinds[1], kinds[1] == 1 ? "" : "s");
    if (kinds[2])
        printf(", %zu other", kinds[2]);
    printf("\n");
}

int cmd_photos(cli *c)
{
    store *s = NULL;
    snaplist l = {NULL, 0, 0};
    content_snap *cs = NULL;
    content_photos p = {0, NULL};
    if (c->nargs != 1 || (c->json && c->export_dir))
        return cli_usage_error(&cli_cmd_photos);
    cairn_err rc = cli_open_content(c, &s, &l, &cs);
    if (!rc)
        rc = content_photos_load(cs, cli_content_warn, NULL, &p);
    if (!rc && c->export_dir) {
        content_export_result r;
        rc = content_photos_export(cs, &p, c->export_dir, cli_content_warn, NULL, &r);
        if (!rc || rc == CAIRN_EPARTIAL) {
            char size[32];
            cli_human(r.bytes, size, sizeof size);
            printf("exported %" PRIu64 " of %zu item%s (%s) to %s", r.files, p.n,
                   p.n == 1 ? "" : "s", size, c->export_dir);
            if (r.missing)
                printf("; %" PRIu64 " not in this snapshot", r.missing);
            printf("\n");
        }
    } else if (!rc && c->json) {
        print_json(&p);
    } else if (!rc) {
        print_list(&p);
    }
    content_photos_free(&p);
    content_close(cs);
    snaplist_free(&l);
    store_close(s);
    return rc ? cli_fail(rc) : EXIT_OK;
}

static const cli_option photos_options[] = {
    {.name = "json", .kind = OPT_FLAG, .offset = offsetof(cli, json), .help = "print JSON"},
    {.name = "export",
     .kind = OPT_STRING,
     .offset = offsetof(cli, export_dir),
     .arg_name = "DIR",
     .help = "write the originals into DIR, their capture dates as mtimes"},
    CLI_OPT_DEVICE_SCOPE(0),
    CLI_OPT_END,
};

static const char *const photos_synopsis[] = {
    "[--device NAME|UDID] SNAPSHOT [--json] [--export DIR]",
    NULL,
};

const cli_command cli_cmd_photos = {
    .name = "photos",
    .summary = "list the camera roll in a device snapshot, or export it",
    .synopsis = photos_synopsis,
    .options = photos_options,
    .run = cmd_photos,
};
