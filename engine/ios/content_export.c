/* content_export.c - photos, conversations and contacts written out
 * (content_export.h). */
#define _XOPEN_SOURCE 700
#include "engine/ios/content_export.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/codec.h"
#include "util/fsutil.h"

static int climbs(const char *p)
{
    return strcmp(p, "..") == 0 || strncmp(p, "../", 3) == 0 || strstr(p, "/../") ||
           (strlen(p) >= 3 && strcmp(p + strlen(p) - 3, "/..") == 0) || p[0] == '/';
}

/* Writes the snapshot's domain/path to dest: CAIRN_OK, or a warned failure
 * counted in r (ENOMEM, ENOSPC: returned). */
static cairn_err export_file(content_snap *c, const char *domain, const char *path,
                             const char *dest, int64_t mtime, content_warn_fn warn, void *wctx,
                             content_export_result *r)
{
    const catalog_entry *const e = content_find(c, domain, path);
    if (!e) {
        r->missing++;
        return CAIRN_OK;
    }
    char folder[PATH_MAX];
    snprintf(folder, sizeof folder, "%s", dest);
    char *const slash = strrchr(folder, '/');
    if (slash)
        *slash = '\0';
    cairn_err rc = slash ? fs_mkdirs(folder, 0755) : CAIRN_OK;
    if (!rc)
        rc = content_write_file(c, e, dest, 0644, mtime);
    if (rc == CAIRN_ENOMEM || rc == CAIRN_ENOSPC)
        return rc;
    if (rc) {
        if (warn) {
            char line[ERR_MSG_MAX + 64];
            snprintf(line, sizeof line, "%s/%s: %s", domain, path, err_msg());
            warn(wctx, line);
        }
        r->failed++;
        return CAIRN_OK;
    }
    r->files++;
    r->bytes += e->size;
    return CAIRN_OK;
}

static cairn_err finish(const content_export_result *r)
{
    if (r->failed)
        return err_set(CAIRN_EPARTIAL, "%" PRIu64 " file(s) could not be written", r->failed);
    return CAIRN_OK;
}

cairn_err content_photos_export(content_snap *c, const content_photos *p, const char *dir,
                                content_warn_fn warn, void *wctx, content_export_result *r)
{
    memset(r, 0, sizeof *r);
    cairn_err rc = fs_mkdirs(dir, 0755);
    for (size_t i = 0; !rc && i < p->n; i++) {
        const content_photo *const ph = &p->photo[i];
        const char *rel = ph->path;
        if (strncmp(rel, "Media/DCIM/", 11) == 0)
            rel += 11;
        else if (strncmp(rel, "Media/", 6) == 0)
            rel += 6;
        char dest[PATH_MAX];
        if (climbs(rel) || snprintf(dest, sizeof dest, "%s/%s", dir, rel) >= (int)sizeof dest) {
            if (warn) {
                char line[PATH_MAX + 64];
                snprintf(line, sizeof line, "%s: refused (the name leaves the folder)", ph->path);
                warn(wctx, line);
            }
            r->failed++;
            continue;
        }
        rc = export_file(c, CONTENT_PHOTOS_DOMAIN, ph->path, dest, ph->time, warn, wctx, r);
    }
    return rc ? rc : finish(r);
}

static void html_text(cbuf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<':
            cbuf_printf(b, "&lt;");
            break;
        case '>':
            cbuf_printf(b, "&gt;");
            break;
        case '&':
            cbuf_printf(b, "&amp;");
            break;
        case '"':
            cbuf_printf(b, "&quot;");
            break;
        case '\n':
            cbuf_printf(b, "<br>");
            break;
        default:
            cbuf_put(b, s, 1);
        }
    }
}

static void local_time(int64_t t, char *out, size_t cap)
{
    const time_t tt = (time_t)t;
    struct tm tm;
    localtime_r(&tt, &tm);
    strftime(out, cap, "%Y-%m-%d %H:%M:%S", &tm);
}

static const char HTML_HEAD[] = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>";
static const char HTML_STYLE[] =
    "</title><style>body{font-family:sans-serif;max-width:50em;margin:auto}"
    ".me{text-align:right;color:#035}.when{color:#777;font-size:small}</style></head><body>\n";

static cairn_err write_page(const char *dir, const char *name, cbuf *b)
{
    if (b->failed)
        return err_set(CAIRN_ENOMEM, "out of memory");
    return fs_write_atomic(dir, name, b->data, b->len, 0644);
}

/* An attachment's file name in the export: <message ROWID>-<its name>,
 * with anything but a plain name refused. */
static int attachment_name(const content_message *m, const content_attachment *a, char *out,
                           size_t cap)
{
    const char *const name = a->name ? a->name : "attachment";
    if (strchr(name, '/') || strcmp(name, "..") == 0 || strcmp(name, ".") == 0)
        return 0;
    return snprintf(out, cap, "%" PRId64 "-%s", m->rowid, name) < (int)cap;
}

static cairn_err chat_page(content_snap *c, const content_chat *ch, const char *dir,
                           content_warn_fn warn, void *wctx, content_export_result *r)
{
    cbuf b;
    cbuf_init(&b);
    cbuf_printf(&b, "%s", HTML_HEAD);
    html_text(&b, ch->name ? ch->name : ch->identifier);
    cbuf_printf(&b, "%s<p><a href=\"index.html\">all conversations</a></p>\n<h1>", HTML_STYLE);
    html_text(&b, ch->name ? ch->name : ch->identifier);
    cbuf_printf(&b, "</h1>\n");
    cairn_err rc = CAIRN_OK;
    for (size_t k = 0; !rc && k < ch->nmsg; k++) {
        const content_message *const m = &ch->msg[k];
        char when[32];
        local_time(m->time, when, sizeof when);
        cbuf_printf(&b, "<p class=\"%s\"><span class=\"when\">%s ", m->from_me ? "me" : "them",
                    when);
        html_text(&b, m->from_me ? "me" : m->sender ? m->sender : "?");
        cbuf_printf(&b, "</span><br>");
        html_text(&b, m->text);
        for (size_t a = 0; !rc && a < m->natt; a++) {
            char name[256], dest[PATH_MAX];
            const content_attachment *const at = &m->att[a];
            if (!at->path || climbs(at->path) || !attachment_name(m, at, name, sizeof name)) {
                cbuf_printf(&b, "<br>[attachment not exported]");
                continue;
            }
            snprintf(dest, sizeof dest, "%s/attachments/%s", dir, name);
            const uint64_t before = r->files;
            rc = export_file(c, CONTENT_ATTACHMENT_DOMAIN, at->path, dest, m->time, warn, wctx, r);
            if (r->files == before) {
                cbuf_printf(&b, "<br>[attachment ");
                html_text(&b, name);
                cbuf_printf(&b, " not in this snapshot]");
                continue;
            }
            cbuf_printf(&b, "<br><a href=\"attachments/");
            html_text(&b, name);
            cbuf_printf(&b, "\">");
            html_text(&b, name);
            cbuf_printf(&b, "</a>");
        }
        cbuf_printf(&b, "</p>\n");
    }
    cbuf_printf(&b, "</body></html>\n");
    char page[64];
    snprintf(page, sizeof page, "chat-%" PRId64 ".html", ch->rowid);
    if (!rc)
        rc = write_page(dir, page, &b);
    cbuf_free(&b);
    return rc;
}

cairn_err content_messages_html(content_snap *c, const content_messages *m,
                                const content_chat *only, const char *dir, content_warn_fn warn,
                                void *wctx, content_export_result *r)
{
    memset(r, 0, sizeof *r);
    cbuf b;
    cbuf_init(&b);
    cairn_err rc = fs_mkdirs(dir, 0755);
    cbuf_printf(&b, "%sConversations%s<h1>Conversations</h1>\n<ul>\n", HTML_HEAD, HTML_STYLE);
    for (size_t i = 0; !rc && i < m->nchat; i++) {
        const content_chat *const ch = &m->chat[i];
        if (only && ch != only)
            continue;
        rc = chat_page(c, ch, dir, warn, wctx, r);
        cbuf_printf(&b, "<li><a href=\"chat-%" PRId64 ".html\">", ch->rowid);
        html_text(&b, ch->name ? ch->name : ch->identifier);
        cbuf_printf(&b, "</a> (%zu messages)</li>\n", ch->nmsg);
    }
    cbuf_printf(&b, "</ul></body></html>\n");
    if (!rc)
        rc = write_page(dir, "index.html", &b);
    cbuf_free(&b);
    return rc ? rc : finish(r);
}

/* RFC 2426 escapes: backslash, comma, semicolon, newline. */
static void vcard_text(cbuf *b, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '\\' || *s == ',' || *s == ';')
            cbuf_printf(b, "\\%c", *s);
        else if (*s == '\n')
            cbuf_printf(b, "\\n");
        else if (*s != '\r')
            cbuf_put(b, s, 1);
    }
}

cairn_err content_contacts_vcard(const content_contacts *c, const char *path)
{
    cbuf b;
    cbuf_init(&b);
    for (size_t i = 0; i < c->n; i++) {
        const content_contact *const p = &c->contact[i];
        char name[512];
        content_contact_name(p, name, sizeof name);
        cbuf_printf(&b, "BEGIN:VCARD\r\nVERSION:3.0\r\nN:");
        vcard_text(&b, p->last);
        cbuf_printf(&b, ";");
        vcard_text(&b, p->first);
        cbuf_printf(&b, ";;;\r\nFN:");
        vcard_text(&b, name);
        cbuf_printf(&b, "\r\n");
        if (p->org) {
            cbuf_printf(&b, "ORG:");
            vcard_text(&b, p->org);
            cbuf_printf(&b, "\r\n");
        }
        for (size_t k = 0; k < p->nphone; k++) {
            cbuf_printf(&b, "TEL:");
            vcard_text(&b, p->phone[k]);
            cbuf_printf(&b, "\r\n");
        }
        for (size_t k = 0; k < p->nemail; k++) {
            cbuf_printf(&b, "EMAIL:");
            vcard_text(&b, p->email[k]);
            cbuf_printf(&b, "\r\n");
        }
        cbuf_printf(&b, "END:VCARD\r\n");
    }
    cairn_err rc = b.failed ? err_set(CAIRN_ENOMEM, "out of memory") : CAIRN_OK;
    if (!rc) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", path);
        char *const slash = strrchr(dir, '/');
        const char *const name = slash ? slash + 1 : path;
        if (slash)
            *slash = '\0';
        rc = fs_write_atomic(slash ? (slash == dir ? "/" : dir) : ".", name, b.data, b.len, 0644);
    }
    cbuf_free(&b);
    return rc;
}
