/* api.c - the JSON API under /api/ (api.h; docs/WEB.md gives each answer's
 * shape).  Every answer is built from the engine's own views: the snapshot
 * list, chains, the diff, the copy targets and their 3-2-1 verdict, the
 * catalog, and snapshot_files for browsing and downloads. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/chains.h"
#include "engine/core/copy_targets.h"
#include "engine/core/diff.h"
#include "engine/core/extract.h"
#include "engine/core/snapshot_list.h"
#include "util/fsutil.h"
#include "api.h"

static void json_str(cbuf *b, const char *s)
{
    if (!s) {
        cbuf_puts(b, "null");
        return;
    }
    cbuf_puts(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            cbuf_printf(b, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            cbuf_printf(b, "\\u%04x", *p);
        else
            cbuf_put(b, p, 1);
    }
    cbuf_puts(b, "\"");
}

static void json_id(cbuf *b, const uint8_t id[ID_LEN])
{
    char hex[2 * ID_LEN + 1];
    fs_hex(id, ID_LEN, hex);
    json_str(b, hex);
}

void web_reply_error(web_reply *out, int status, const char *msg)
{
    cbuf_reset(&out->body);
    out->status = status;
    out->type = "application/json";
    cbuf_puts(&out->body, "{\"error\":");
    json_str(&out->body, msg);
    cbuf_puts(&out->body, "}\n");
}

void web_reply_free(web_reply *r)
{
    snapfiles_file_close(r->file);
    snapfiles_close(r->files);
    r->file = NULL;
    r->files = NULL;
    cbuf_free(&r->body);
}

/* The HTTP status for an engine error. */
static int status_of(cairn_err rc)
{
    switch (rc) {
    case CAIRN_ENOTFOUND:
        return 404;
    case CAIRN_EAMBIGUOUS:
    case CAIRN_EINVAL:
        return 400;
    case CAIRN_ENOMEM:
        return 503;
    default:
        return 500;
    }
}

static void reply_err(web_reply *out, cairn_err rc)
{
    web_reply_error(out, status_of(rc), err_msg());
}

/* A snapshot's summary, as every list shows it. */
static void json_snapshot(cbuf *b, const snapshot *sn)
{
    cbuf_puts(b, "{\"id\":");
    json_id(b, sn->id);
    cbuf_printf(b,
                ",\"time\":%" PRId64 ",\"files\":%" PRIu64 ",\"bytes\":%" PRIu64
                ",\"new_bytes\":%" PRIu64 ",\"partial\":%s,\"contents\":",
                sn->time_sec, sn->files, sn->bytes, sn->new_bytes,
                sn->flags & (SNAP_PARTIAL | SNAP_INCOMPLETE) ? "true" : "false");
    json_str(b, snapshot_get_meta(sn, SNAP_META_CONTENTS));
    cbuf_puts(b, "}");
}

/* The chains of the snapshots in l that in() selects, each with its
 * snapshots oldest first, in the order they first appear. */
static void json_chains(cbuf *b, const snaplist *l, const chain_list *chains,
                        int (*in)(const snapshot *, const void *), const void *key)
{
    size_t nchains = 0;
    cbuf_puts(b, "[");
    for (size_t i = 0; i < l->count; i++) {
        const snapshot *const first = &l->items[i];
        int seen = !in(first, key);
        for (size_t k = 0; k < i && !seen; k++)
            seen = in(&l->items[k], key) && strcmp(l->items[k].chain, first->chain) == 0;
        if (seen)
            continue;
        const int archived = chains_is_archived(chains, first->chain);
        cbuf_puts(b, nchains++ ? ",{\"name\":" : "{\"name\":");
        json_str(b, first->chain);
        cbuf_printf(b, ",\"archived\":%s,\"reason\":", archived ? "true" : "false");
        const char *reason = NULL;
        for (size_t k = 0; archived && k < chains->count; k++)
            if (strcmp(chains->items[k].name, first->chain) == 0)
                reason = chains->items[k].reason;
        json_str(b, reason);
        cbuf_puts(b, ",\"snapshots\":[");
        size_t n = 0;
        for (size_t k = i; k < l->count; k++) {
            if (!in(&l->items[k], key) || strcmp(l->items[k].chain, first->chain) != 0)
                continue;
            if (n++)
                cbuf_puts(b, ",");
            json_snapshot(b, &l->items[k]);
        }
        cbuf_puts(b, "]}");
    }
    cbuf_puts(b, "]");
}

static int in_device(const snapshot *sn, const void *udid)
{
    return snapshot_udid_is(sn, udid);
}

static int in_folder(const snapshot *sn, const void *source)
{
    return !snapshot_is_device(sn) && strcmp(sn->source, source) == 0;
}

static void api_devices(web_api *w, web_reply *out)
{
    snaplist l = {NULL, 0, 0};
    chain_list chains = {NULL, 0};
    cbuf *const b = &out->body;
    cairn_err rc = snaplist_load(w->s, &l);
    if (!rc)
        rc = chains_load(w->s, &chains);
    if (rc) {
        reply_err(out, rc);
        goto done;
    }
    cbuf_printf(b, "{\"snapshots\":%zu,\"devices\":[", l.count);
    size_t n = 0;
    for (size_t i = 0; i < l.count; i++) {
        const snapshot *const sn = &l.items[i];
        const char *const udid = snapshot_udid(sn);
        int seen = !udid;
        for (size_t k = 0; k < i && !seen; k++)
            seen = snapshot_udid_is(&l.items[k], udid);
        if (seen)
            continue;
        /* a device's name and model are its newest snapshot's */
        const snapshot *newest = sn;
        size_t count = 0;
        for (size_t k = i; k < l.count; k++) {
            if (snapshot_udid_is(&l.items[k], udid)) {
                newest = &l.items[k];
                count++;
            }
        }
        cbuf_puts(b, n++ ? ",{\"udid\":" : "{\"udid\":");
        json_str(b, udid);
        cbuf_puts(b, ",\"name\":");
        json_str(b, snapshot_device_name(newest));
        cbuf_puts(b, ",\"product_type\":");
        json_str(b, snapshot_get_meta(newest, SNAP_META_PRODUCT_TYPE));
        cbuf_puts(b, ",\"product_version\":");
        json_str(b, snapshot_get_meta(newest, SNAP_META_PRODUCT_VERSION));
        cbuf_printf(b, ",\"snapshots\":%zu,\"chains\":", count);
        json_chains(b, &l, &chains, in_device, udid);
        cbuf_puts(b, "}");
    }
    cbuf_puts(b, "],\"folders\":[");
    n = 0;
    for (size_t i = 0; i < l.count; i++) {
        const snapshot *const sn = &l.items[i];
        int seen = snapshot_is_device(sn);
        for (size_t k = 0; k < i && !seen; k++)
            seen = in_folder(&l.items[k], sn->source);
        if (seen)
            continue;
        cbuf_puts(b, n++ ? ",{\"source\":" : "{\"source\":");
        json_str(b, sn->source);
        cbuf_puts(b, ",\"chains\":");
        json_chains(b, &l, &chains, in_folder, sn->source);
        cbuf_puts(b, "}");
    }
    cbuf_puts(b, "]}\n");
done:
    chains_free(&chains);
    snaplist_free(&l);
}

/* Loads the list and finds name in it: else the error is the reply. */
static int find_snapshot(web_api *w, snaplist *l, const char *name, const snapshot **sn,
                         web_reply *out)
{
    cairn_err rc = snaplist_load(w->s, l);
    if (!rc)
        rc = snaplist_find(l, name, sn);
    if (rc)
        reply_err(out, rc);
    return rc == CAIRN_OK;
}

static void api_snapshot(web_api *w, const web_route *r, web_reply *out)
{
    snaplist l = {NULL, 0, 0};
    const snapshot *sn = NULL;
    cbuf *const b = &out->body;
    if (find_snapshot(w, &l, r->snapshot, &sn, out)) {
        cbuf_puts(b, "{\"snapshot\":");
        json_snapshot(b, sn);
        cbuf_puts(b, ",\"chain\":");
        json_str(b, sn->chain);
        cbuf_puts(b, ",\"source\":");
        json_str(b, sn->source);
        cbuf_puts(b, ",\"hostname\":");
        json_str(b, sn->hostname);
        cbuf_puts(b, ",\"parent\":");
        if (sn->has_parent)
            json_id(b, sn->parent);
        else
            cbuf_puts(b, "null");
        cbuf_printf(b, ",\"device\":%s,\"meta\":{", snapshot_is_device(sn) ? "true" : "false");
        for (size_t i = 0; i < sn->nmeta; i++) {
            if (i)
                cbuf_puts(b, ",");
            json_str(b, sn->meta[i].key);
            cbuf_puts(b, ":");
            json_str(b, sn->meta[i].value);
        }
        cbuf_puts(b, "}}\n");
    }
    snaplist_free(&l);
}

static const char *type_name(int type)
{
    return type == SNAPFILES_DIR ? "dir" : type == SNAPFILES_SYMLINK ? "link" : "file";
}

static void json_stat(cbuf *b, const snapfiles_stat *st)
{
    cbuf_printf(b, "\"type\":\"%s\",\"size\":%" PRIu64 ",\"mode\":%" PRIu32 ",\"mtime\":%" PRId64,
                type_name(st->type), st->size, st->mode, st->mtime_sec);
}

typedef struct list_ctx {
    cbuf *b;
    size_t n;
    snapfiles *f;
    const char *dir;
    cbuf path; /* a symlink's path, to read its target */
} list_ctx;

static cairn_err list_entry(void *ctx, const char *name, const snapfiles_stat *st)
{
    list_ctx *const lc = ctx;
    cbuf_puts(lc->b, lc->n++ ? ",{\"name\":" : "{\"name\":");
    json_str(lc->b, name);
    cbuf_puts(lc->b, ",");
    json_stat(lc->b, st);
    if (st->type == SNAPFILES_SYMLINK) {
        char *link = NULL;
        cbuf_reset(&lc->path);
        cbuf_printf(&lc->path, "%s%s%s", lc->dir, lc->dir[0] ? "/" : "", name);
        const cairn_err rc =
            lc->path.failed ? CAIRN_ENOMEM : snapfiles_readlink(lc->f, cbuf_text(&lc->path), &link);
        if (rc == CAIRN_ENOMEM)
            return rc;
        /* a target that cannot be read leaves the entry without one */
        cbuf_puts(lc->b, ",\"target\":");
        json_str(lc->b, rc ? NULL : link);
        free(link);
    }
    cbuf_puts(lc->b, "}");
    return lc->b->failed ? CAIRN_ENOMEM : CAIRN_OK;
}

/* Opens the snapshot r names for browsing: else the error is the reply. */
static int open_files(web_api *w, const web_route *r, snapfiles **files, web_reply *out)
{
    snaplist l = {NULL, 0, 0};
    const snapshot *sn = NULL;
    int ok = find_snapshot(w, &l, r->snapshot, &sn, out);
    if (ok) {
        const cairn_err rc = snapfiles_open(w->cache, sn, files);
        if (rc)
            reply_err(out, rc);
        ok = rc == CAIRN_OK;
    }
    snaplist_free(&l);
    return ok;
}

static void api_ls(web_api *w, const web_route *r, web_reply *out)
{
    snapfiles *f = NULL;
    snapfiles_stat st;
    cbuf *const b = &out->body;
    if (!open_files(w, r, &f, out))
        return;
    cairn_err rc = snapfiles_stat_path(f, r->path, &st);
    if (!rc) {
        cbuf_puts(b, "{\"path\":");
        json_str(b, r->path);
        cbuf_printf(b, ",\"ciphertext\":%s,\"note\":", snapfiles_ciphertext(f) ? "true" : "false");
        json_str(b, snapfiles_ciphertext(f) ? snapfiles_ciphertext_note() : NULL);
        cbuf_puts(b, ",");
        json_stat(b, &st);
        cbuf_puts(b, ",\"entries\":[");
        if (st.type == SNAPFILES_DIR) {
            list_ctx lc = {b, 0, f, r->path, {NULL, 0, 0, 0}};
            cbuf_init(&lc.path);
            rc = snapfiles_list(f, r->path, list_entry, &lc);
            cbuf_free(&lc.path);
        }
        cbuf_puts(b, "]}\n");
    }
    if (rc)
        reply_err(out, rc);
    snapfiles_close(f);
}

static void api_file(web_api *w, const web_route *r, web_reply *out)
{
    snapfiles *f = NULL;
    if (!open_files(w, r, &f, out))
        return;
    const cairn_err rc = snapfiles_file_open(f, r->path, &out->file);
    if (rc) {
        reply_err(out, rc);
        snapfiles_close(f);
        return;
    }
    out->files = f;
    out->status = 200;
    out->type = "application/octet-stream";
    out->size = snapfiles_file_size(out->file);
    const char *const slash = strrchr(r->path, '/');
    const char *name = slash ? slash + 1 : r->path;
    size_t n = 0;
    for (; *name && n + 1 < sizeof out->filename; name++)
        if (*name != '"' && *name != '\\' && (unsigned char)*name >= 0x20)
            out->filename[n++] = *name;
    out->filename[n] = '\0';
}

typedef struct diff_ctx {
    cbuf *b;
    size_t n;
} diff_ctx;

static void diff_row(void *ctx, const diff_item *it)
{
    diff_ctx *const d = ctx;
    cbuf_printf(d->b, "%s{\"status\":\"%c\",\"domain\":", d->n++ ? "," : "", it->status);
    json_str(d->b, it->domain);
    cbuf_puts(d->b, ",\"path\":");
    json_str(d->b, it->path);
    cbuf_printf(d->b, ",\"old_size\":%" PRIu64 ",\"new_size\":%" PRIu64 "}", it->old_size,
                it->new_size);
}

static void api_diff(web_api *w, const web_route *r, web_reply *out)
{
    snaplist l = {NULL, 0, 0};
    const snapshot *a = NULL, *b = NULL;
    diff_summary sum;
    diff_ctx d = {&out->body, 0};
    if (!find_snapshot(w, &l, r->b, &b, out))
        goto done;
    cairn_err rc = CAIRN_OK;
    if (r->a[0]) {
        rc = snaplist_find(&l, r->a, &a);
    } else if (!b->has_parent) {
        rc = err_set(CAIRN_ENOTFOUND, "snapshot %s is the first of its chain: name a to compare",
                     r->b);
    } else {
        char hex[2 * ID_LEN + 1];
        fs_hex(b->parent, ID_LEN, hex);
        rc = snaplist_find(&l, hex, &a);
    }
    if (!rc) {
        cbuf_puts(d.b, "{\"a\":");
        json_id(d.b, a->id);
        cbuf_puts(d.b, ",\"b\":");
        json_id(d.b, b->id);
        cbuf_puts(d.b, ",\"changes\":[");
        rc = diff_run(w->s, a, b, diff_row, &d, &sum);
    }
    if (rc) {
        reply_err(out, rc);
        goto done;
    }
    cbuf_printf(d.b,
                "],\"added\":%" PRIu64 ",\"removed\":%" PRIu64 ",\"modified\":%" PRIu64
                ",\"bytes_added\":%" PRIu64 ",\"bytes_removed\":%" PRIu64
                ",\"new_bytes_stored\":%" PRIu64 "}\n",
                sum.added, sum.removed, sum.modified, sum.bytes_added, sum.bytes_removed,
                b->new_bytes);
done:
    snaplist_free(&l);
}

static void api_targets(web_api *w, web_reply *out)
{
    static const char *const kinds[] = {"disk", "nas", "cloud"};
    snaplist l = {NULL, 0, 0};
    target_list tl = {NULL, 0};
    uint8_t(*ids)[ID_LEN] = NULL;
    rule321 r;
    char needs[256];
    cbuf *const b = &out->body;
    memset(&r, 0, sizeof r);
    cairn_err rc = snaplist_load(w->s, &l);
    if (!rc)
        rc = targets_load(store_path(w->s), &tl);
    if (!rc && l.count && !(ids = calloc(l.count, ID_LEN)))
        rc = err_set(CAIRN_ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < l.count; i++)
        memcpy(ids[i], l.items[i].id, ID_LEN);
    if (!rc)
        rc = targets_rule321(&tl, (const uint8_t(*)[ID_LEN])ids, l.count, &r);
    if (rc) {
        reply_err(out, rc);
        goto done;
    }
    targets_rule321_needs(&r, needs, sizeof needs);
    cbuf_printf(b, "{\"snapshots\":%zu,\"targets\":[", l.count);
    for (size_t i = 0; i < r.count; i++) {
        const target_state *const ts = &r.targets[i];
        const target *const t = ts->t;
        cbuf_puts(b, i ? ",{\"name\":" : "{\"name\":");
        json_str(b, t->name);
        cbuf_puts(b, ",\"url\":");
        json_str(b, t->url);
        cbuf_printf(b,
                    ",\"media\":\"%s\",\"offsite\":%s,\"copy_time\":%" PRId64
                    ",\"copy_bytes\":%" PRIu64 ",\"current\":%s,\"counts\":%s,\"missing\":%zu"
                    ",\"check_time\":%" PRId64 ",\"check_result\":",
                    t->media, t->offsite ? "true" : "false", t->copy_time, t->copy_bytes,
                    ts->current ? "true" : "false", ts->counts ? "true" : "false", ts->nmissing,
                    t->check_time);
        json_str(b, t->check_time ? t->check_result : NULL);
        cbuf_printf(b, ",\"fail_time\":%" PRId64 ",\"fail_msg\":", t->fail_time);
        json_str(b, t->fail_msg);
        cbuf_puts(b, "}");
    }
    cbuf_printf(b, "],\"copies\":%u,\"media_kinds\":%u,\"media\":[", r.copies, r.media_kinds);
    for (int m = 0, n = 0; m < 3; m++)
        if (r.media[m])
            cbuf_printf(b, "%s\"%s\"", n++ ? "," : "", kinds[m]);
    cbuf_printf(b, "],\"offsite\":%u,\"met\":%s,\"needs\":", r.offsite, r.met ? "true" : "false");
    json_str(b, needs);
    cbuf_puts(b, "}\n");
done:
    targets_rule321_free(&r);
    targets_free(&tl);
    free(ids);
    snaplist_free(&l);
}

/* The app a domain belongs to ("AppDomain-com.example.app" and its group
 * "AppDomainGroup-group.com.example.app" and plugin domains), or NULL. */
static const char *app_of(const char *domain)
{
    static const char *const prefixes[] = {"AppDomain-", "AppDomainGroup-", "AppDomainPlugin-"};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        if (strncmp(domain, prefixes[i], strlen(prefixes[i])) == 0) {
            const char *const app = domain + strlen(prefixes[i]);
            /* an app group is named "group.<the app's ID>" */
            return strncmp(app, "group.", 6) == 0 && app[6] ? app + 6 : app;
        }
    }
    return NULL;
}

static void api_storage(web_api *w, const web_route *r, web_reply *out)
{
    snaplist l = {NULL, 0, 0};
    const snapshot *sn = NULL;
    catalog cat;
    cbuf *const b = &out->body;
    catalog_init(&cat);
    if (!find_snapshot(w, &l, r->snapshot, &sn, out))
        goto done;
    const cairn_err rc = extract_catalog(w->s, sn, &cat);
    if (rc) {
        reply_err(out, rc);
        goto done;
    }
    /* the catalog is sorted by domain: each domain is one run */
    cbuf_puts(b, "{\"snapshot\":");
    json_id(b, sn->id);
    cbuf_puts(b, ",\"domains\":[");
    for (size_t i = 0, n = 0; i < cat.count;) {
        size_t k = i, files = 0;
        uint64_t bytes = 0;
        for (; k < cat.count && strcmp(cat.entries[k].domain, cat.entries[i].domain) == 0; k++) {
            if (cat.entries[k].flags & CATALOG_FILE) {
                files++;
                bytes += cat.entries[k].size;
            }
        }
        cbuf_puts(b, n++ ? ",{\"domain\":" : "{\"domain\":");
        json_str(b, cat.entries[i].domain);
        cbuf_puts(b, ",\"app\":");
        json_str(b, app_of(cat.entries[i].domain));
        cbuf_printf(b, ",\"files\":%zu,\"bytes\":%" PRIu64 "}", files, bytes);
        i = k;
    }
    cbuf_puts(b, "]}\n");
done:
    catalog_free(&cat);
    snaplist_free(&l);
}

void web_api_handle(web_api *w, const web_route *r, web_reply *out)
{
    memset(out, 0, sizeof *out);
    cbuf_init(&out->body);
    out->status = 200;
    out->type = "application/json";
    switch (r->kind) {
    case WEB_ROUTE_DEVICES:
        api_devices(w, out);
        break;
    case WEB_ROUTE_SNAPSHOT:
        api_snapshot(w, r, out);
        break;
    case WEB_ROUTE_LS:
        api_ls(w, r, out);
        break;
    case WEB_ROUTE_FILE:
        api_file(w, r, out);
        break;
    case WEB_ROUTE_DIFF:
        api_diff(w, r, out);
        break;
    case WEB_ROUTE_TARGETS:
        api_targets(w, out);
        break;
    case WEB_ROUTE_STORAGE:
        api_storage(w, r, out);
        break;
    default:
        web_reply_error(out, 404, "no such API call");
        break;
    }
    if (out->body.failed) {
        cbuf_free(&out->body);
        cbuf_init(&out->body);
        web_reply_error(out, 503, "out of memory");
    }
}
