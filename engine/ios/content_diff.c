/* content_diff.c - messages, photos and contacts compared (content_diff.h). */
#include "engine/ios/content_diff.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "util/grow.h"
#include "engine/ios/content_contacts.h"
#include "engine/ios/content_messages.h"
#include "engine/ios/content_photos.h"

/* A key and what it names, sorted by key.  The key is allocated to its
 * length: a Photos library has hundreds of thousands of rows, and a fixed
 * 512-byte key made its two sorted arrays hundreds of MB. */
enum { KEY_MAX = 512 };
typedef struct keyed {
    char *key;
    size_t index;
} keyed;

static int keyed_cmp(const void *x, const void *y)
{
    const keyed *const a = x, *const b = y;
    const int c = strcmp(a->key, b->key);
    return c ? c : (a->index > b->index) - (a->index < b->index);
}

static const keyed *find_key(const keyed *v, size_t n, const char *key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        const int c = strcmp(v[mid].key, key);
        if (!c)
            return &v[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static keyed *keys_new(size_t n)
{
    keyed *const k = calloc(n ? n : 1, sizeof *k);
    if (!k)
        err_set(CAIRN_ENOMEM, "out of memory");
    return k;
}

static void keys_free(keyed *k, size_t n)
{
    for (size_t i = 0; k && i < n; i++)
        free(k[i].key);
    free(k);
}

/* Sets k's key (a copy of key) and its index; on ENOMEM frees the n keys
 * set so far with the array and returns NULL. */
static keyed *key_set(keyed *k, size_t i, const char *key)
{
    k[i].key = strdup(key);
    k[i].index = i;
    if (k[i].key)
        return k;
    keys_free(k, i);
    err_set(CAIRN_ENOMEM, "out of memory");
    return NULL;
}

static keyed *keys_sorted(keyed *k, size_t n)
{
    if (k)
        qsort(k, n, sizeof *k, keyed_cmp);
    return k;
}

static void chat_key(const content_chat *c, char *out, size_t cap)
{
    snprintf(out, cap, "%s", c->guid ? c->guid : c->identifier ? c->identifier : "");
}

static const char *chat_label(const content_chat *c)
{
    return c->name ? c->name : c->identifier ? c->identifier : c->guid ? c->guid : "?";
}

static void message_key(const content_message *m, char *out, size_t cap)
{
    if (m->guid)
        snprintf(out, cap, "%s", m->guid);
    else
        snprintf(out, cap, "#%" PRId64, m->rowid);
}

static keyed *message_keys(const content_chat *c)
{
    keyed *k = keys_new(c ? c->nmsg : 0);
    char key[KEY_MAX];
    for (size_t i = 0; k && c && i < c->nmsg; i++) {
        message_key(&c->msg[i], key, sizeof key);
        k = key_set(k, i, key);
    }
    return keys_sorted(k, c ? c->nmsg : 0);
}

static void emit_message(content_change_fn fn, void *ctx, content_change_kind kind,
                         const content_chat *c, const content_message *m)
{
    const content_change ch = {kind,
                               chat_label(c),
                               m->text ? m->text : "",
                               m->from_me  ? "me"
                               : m->sender ? m->sender
                                           : "?",
                               m->time,
                               0};
    fn(ctx, &ch);
}

/* The messages of chat b not in a (added) and of a not in b (removed). */
static cairn_err diff_chat(const content_chat *a, const content_chat *b, content_change_fn fn,
                           void *ctx, content_diff_summary *sum)
{
    keyed *const ka = message_keys(a), *const kb = message_keys(b);
    cairn_err rc = ka && kb ? CAIRN_OK : CAIRN_ENOMEM;
    char key[KEY_MAX];
    for (size_t i = 0; !rc && a && i < a->nmsg; i++) {
        message_key(&a->msg[i], key, sizeof key);
        if (!find_key(kb, b ? b->nmsg : 0, key)) {
            emit_message(fn, ctx, CONTENT_MESSAGE_REMOVED, a, &a->msg[i]);
            sum->messages_removed++;
        }
    }
    for (size_t i = 0; !rc && b && i < b->nmsg; i++) {
        message_key(&b->msg[i], key, sizeof key);
        if (!find_key(ka, a ? a->nmsg : 0, key)) {
            emit_message(fn, ctx, CONTENT_MESSAGE_ADDED, b, &b->msg[i]);
            sum->messages_added++;
        }
    }
    keys_free(ka, a ? a->nmsg : 0);
    keys_free(kb, b ? b->nmsg : 0);
    return rc;
}

static keyed *chat_keys(const content_messages *m)
{
    keyed *k = keys_new(m->nchat);
    char key[KEY_MAX];
    for (size_t i = 0; k && i < m->nchat; i++) {
        chat_key(&m->chat[i], key, sizeof key);
        k = key_set(k, i, key);
    }
    return keys_sorted(k, m->nchat);
}

static cairn_err diff_messages(const content_messages *a, const content_messages *b,
                               content_change_fn fn, void *ctx, content_diff_summary *sum)
{
    keyed *const ka = chat_keys(a), *const kb = chat_keys(b);
    cairn_err rc = ka && kb ? CAIRN_OK : CAIRN_ENOMEM;
    size_t i = 0, j = 0;
    while (!rc && (i < a->nchat || j < b->nchat)) {
        const int c = i == a->nchat ? 1 : j == b->nchat ? -1 : strcmp(ka[i].key, kb[j].key);
        if (c < 0) {
            const content_chat *const ch = &a->chat[ka[i++].index];
            const content_change x = {CONTENT_CHAT_REMOVED, chat_label(ch), "", NULL, 0, ch->nmsg};
            fn(ctx, &x);
            sum->chats_removed++;
            sum->messages_removed += ch->nmsg;
        } else if (c > 0) {
            const content_chat *const ch = &b->chat[kb[j++].index];
            const content_change x = {CONTENT_CHAT_ADDED, chat_label(ch), "", NULL, 0, ch->nmsg};
            fn(ctx, &x);
            sum->chats_added++;
            rc = diff_chat(NULL, ch, fn, ctx, sum);
        } else {
            rc = diff_chat(&a->chat[ka[i++].index], &b->chat[kb[j++].index], fn, ctx, sum);
        }
    }
    keys_free(ka, a->nchat);
    keys_free(kb, b->nchat);
    return rc;
}

/* Whole, unlike the other keys: find_key looks the full key up, and a
 * key cut short would never match a longer one. */
static keyed *photo_keys(const content_photos *p)
{
    keyed *k = keys_new(p->n);
    for (size_t i = 0; k && i < p->n; i++)
        k = key_set(k, i, p->photo[i].uuid ? p->photo[i].uuid : p->photo[i].path);
    return keys_sorted(k, p->n);
}

static void emit_photo(content_change_fn fn, void *ctx, content_change_kind kind,
                       const content_photo *p)
{
    const content_change ch = {kind, NULL, p->path, content_photo_kind_name(p->kind), p->time, 0};
    fn(ctx, &ch);
}

static cairn_err diff_photos(const content_photos *a, const content_photos *b, content_change_fn fn,
                             void *ctx, content_diff_summary *sum)
{
    keyed *const ka = photo_keys(a), *const kb = photo_keys(b);
    cairn_err rc = ka && kb ? CAIRN_OK : CAIRN_ENOMEM;
    sum->photos_before = a->n;
    sum->photos_after = b->n;
    /* in date order, as the readers give them */
    for (size_t i = 0; !rc && i < a->n; i++) {
        if (!find_key(kb, b->n, a->photo[i].uuid ? a->photo[i].uuid : a->photo[i].path)) {
            emit_photo(fn, ctx, CONTENT_PHOTO_REMOVED, &a->photo[i]);
            sum->photos_removed++;
        }
    }
    for (size_t i = 0; !rc && i < b->n; i++) {
        if (!find_key(ka, a->n, b->photo[i].uuid ? b->photo[i].uuid : b->photo[i].path)) {
            emit_photo(fn, ctx, CONTENT_PHOTO_ADDED, &b->photo[i]);
            sum->photos_added++;
        }
    }
    keys_free(ka, a->n);
    keys_free(kb, b->n);
    return rc;
}

static void contact_key(const content_contact *c, char *out, size_t cap)
{
    snprintf(out, cap, "%s\x1f%s\x1f%s", c->first ? c->first : "", c->last ? c->last : "",
             c->org ? c->org : "");
}

static keyed *contact_keys(const content_contacts *c)
{
    keyed *k = keys_new(c->n);
    char key[KEY_MAX];
    for (size_t i = 0; k && i < c->n; i++) {
        contact_key(&c->contact[i], key, sizeof key);
        k = key_set(k, i, key);
    }
    return keys_sorted(k, c->n);
}

static int same_list(char *const *a, size_t na, char *const *b, size_t nb)
{
    if (na != nb)
        return 0;
    for (size_t i = 0; i < na; i++) {
        if (strcmp(a[i], b[i]) != 0)
            return 0;
    }
    return 1;
}

static void emit_contact(content_change_fn fn, void *ctx, content_change_kind kind,
                         const content_contact *c, const char *detail)
{
    char name[512];
    content_contact_name(c, name, sizeof name);
    const content_change ch = {kind, NULL, name, detail, 0, 0};
    fn(ctx, &ch);
}

static cairn_err diff_contacts(const content_contacts *a, const content_contacts *b,
                               content_change_fn fn, void *ctx, content_diff_summary *sum)
{
    keyed *const ka = contact_keys(a), *const kb = contact_keys(b);
    cairn_err rc = ka && kb ? CAIRN_OK : CAIRN_ENOMEM;
    size_t i = 0, j = 0;
    while (!rc && (i < a->n || j < b->n)) {
        const int c = i == a->n ? 1 : j == b->n ? -1 : strcmp(ka[i].key, kb[j].key);
        if (c < 0) {
            emit_contact(fn, ctx, CONTENT_CONTACT_REMOVED, &a->contact[ka[i++].index], NULL);
            sum->contacts_removed++;
        } else if (c > 0) {
            emit_contact(fn, ctx, CONTENT_CONTACT_ADDED, &b->contact[kb[j++].index], NULL);
            sum->contacts_added++;
        } else {
            const content_contact *const x = &a->contact[ka[i++].index];
            const content_contact *const y = &b->contact[kb[j++].index];
            const int phones = same_list(x->phone, x->nphone, y->phone, y->nphone);
            const int emails = same_list(x->email, x->nemail, y->email, y->nemail);
            if (!phones || !emails) {
                emit_contact(fn, ctx, CONTENT_CONTACT_CHANGED, y,
                             !phones && !emails ? "phone numbers and e-mail addresses"
                             : !phones          ? "phone numbers"
                                                : "e-mail addresses");
                sum->contacts_changed++;
            }
        }
    }
    keys_free(ka, a->n);
    keys_free(kb, b->n);
    return rc;
}

/* A reader that cannot run on one side: warned, counted, not fatal. */
static cairn_err reader_failed(cairn_err rc, const char *what, content_warn_fn warn, void *wctx,
                               content_diff_summary *sum)
{
    if (rc == CAIRN_ENOMEM || rc == CAIRN_EIO || rc == CAIRN_ENOSPC)
        return rc;
    if (warn) {
        char line[ERR_MSG_MAX + 64];
        snprintf(line, sizeof line, "%s not compared: %s", what, err_msg());
        warn(wctx, line);
    }
    sum->failed++;
    return CAIRN_OK;
}

cairn_err content_diff_run(store *s, const snapshot *a, const snapshot *b, content_change_fn fn,
                           void *ctx, content_warn_fn warn, void *wctx, content_diff_summary *sum)
{
    content_snap *ca = NULL, *cb = NULL;
    memset(sum, 0, sizeof *sum);
    cairn_err rc = content_open(s, a, &ca);
    if (!rc)
        rc = content_open(s, b, &cb);
    if (!rc) {
        content_messages ma, mb;
        cairn_err r = content_messages_load(ca, warn, wctx, &ma);
        if (!r) {
            r = content_messages_load(cb, warn, wctx, &mb);
            if (!r) {
                r = diff_messages(&ma, &mb, fn, ctx, sum);
                content_messages_free(&mb);
            }
            content_messages_free(&ma);
        }
        rc = r ? reader_failed(r, "messages", warn, wctx, sum) : CAIRN_OK;
    }
    if (!rc) {
        content_photos pa, pb;
        cairn_err r = content_photos_load(ca, warn, wctx, &pa);
        if (!r) {
            r = content_photos_load(cb, warn, wctx, &pb);
            if (!r) {
                r = diff_photos(&pa, &pb, fn, ctx, sum);
                content_photos_free(&pb);
            }
            content_photos_free(&pa);
        }
        rc = r ? reader_failed(r, "photos", warn, wctx, sum) : CAIRN_OK;
    }
    if (!rc) {
        content_contacts xa, xb;
        cairn_err r = content_contacts_load(ca, warn, wctx, &xa);
        if (!r) {
            r = content_contacts_load(cb, warn, wctx, &xb);
            if (!r) {
                r = diff_contacts(&xa, &xb, fn, ctx, sum);
                content_contacts_free(&xb);
            }
            content_contacts_free(&xa);
        }
        rc = r ? reader_failed(r, "contacts", warn, wctx, sum) : CAIRN_OK;
    }
    content_close(ca);
    content_close(cb);
    if (!rc && sum->failed)
        rc = err_set(CAIRN_EPARTIAL, "%u of 3 readers could not compare", sum->failed);
    return rc;
}

/* ---- the deletion alarm ----
 *
 * It asks less than the diff: how many of a's photos b lacks, and how many
 * of a's conversations.  So it reads only that (photo keys, the chat
 * table: no messages, no contacts, no catalog look-ups), in each table's
 * own order, and only from a database whose content changed; the counts
 * are the ones content_diff_run gives.  A photo key is kept as its XXH3-128
 * hash: sixteen bytes to sort instead of a string; two keys of one library
 * colliding is as likely as two chunks sharing an ID. */

typedef struct key_hashes {
    XXH128_hash_t *h;
    size_t n, cap;
} key_hashes;

static cairn_err add_photo_key(void *ctx, const char *key)
{
    key_hashes *const v = ctx;
    const cairn_err rc = util_grow(&v->h, &v->cap, v->n + 1, sizeof *v->h);
    if (!rc)
        v->h[v->n++] = XXH3_128bits(key, strlen(key));
    return rc;
}

static int hash_cmp(const void *x, const void *y)
{
    return XXH128_cmp(x, y);
}

/* The sorted key hashes of c's photos. */
static cairn_err photo_hashes(content_snap *c, key_hashes *out)
{
    content_db db;
    memset(out, 0, sizeof *out);
    cairn_err rc = content_db_open_in_store(c, CONTENT_PHOTOS_DOMAIN, CONTENT_PHOTOS_PATH, &db);
    if (rc)
        return rc;
    rc = content_photo_keys_read(db.db, CONTENT_PHOTOS_PATH, add_photo_key, out);
    content_db_close(&db);
    if (rc) {
        free(out->h);
        memset(out, 0, sizeof *out);
    } else if (out->n) {
        qsort(out->h, out->n, sizeof *out->h, hash_cmp);
    }
    return rc;
}

/* diff_photos' counts: a's photos, and those whose key b lacks (each of
 * a's rows counts, as diff_photos looks each one up). */
static cairn_err alarm_photos(content_snap *ca, content_snap *cb, content_diff_summary *sum)
{
    key_hashes k[2] = {{NULL, 0, 0}, {NULL, 0, 0}};
    const key_hashes *const a = &k[0], *const b = &k[1];
    cairn_err rc = photo_hashes(ca, &k[0]);
    if (!rc)
        rc = photo_hashes(cb, &k[1]);
    for (size_t i = 0, j = 0; !rc && i < a->n; i++) {
        while (j < b->n && XXH128_cmp(&b->h[j], &a->h[i]) < 0)
            j++;
        sum->photos_removed += j == b->n || !XXH128_isEqual(b->h[j], a->h[i]);
    }
    if (!rc) {
        sum->photos_before = a->n;
        sum->photos_after = b->n;
    }
    free(k[0].h);
    free(k[1].h);
    return rc;
}

static cairn_err chats_load(content_snap *c, content_messages *out)
{
    content_db db;
    memset(out, 0, sizeof *out);
    cairn_err rc = content_db_open_in_store(c, CONTENT_SMS_DOMAIN, CONTENT_SMS_PATH, &db);
    if (!rc)
        rc = content_chats_read(db.db, CONTENT_SMS_PATH, out);
    content_db_close(&db);
    return rc;
}

static void ignore_change(void *ctx, const content_change *c)
{
    (void)ctx;
    (void)c;
}

/* diff_messages on the chats alone: the same conversations removed. */
static cairn_err alarm_chats(content_snap *ca, content_snap *cb, content_diff_summary *sum)
{
    content_messages a, b;
    cairn_err rc = chats_load(ca, &a);
    if (rc)
        return rc;
    rc = chats_load(cb, &b);
    if (!rc) {
        rc = diff_messages(&a, &b, ignore_change, NULL, sum);
        content_messages_free(&b);
    }
    content_messages_free(&a);
    return rc;
}

/* All the alarm reads: a backup of a million files costs it two entries. */
static const content_file alarm_files[] = {
    {CONTENT_SMS_DOMAIN, CONTENT_SMS_PATH},
    {CONTENT_PHOTOS_DOMAIN, CONTENT_PHOTOS_PATH},
};
enum { ALARM_NFILES = sizeof alarm_files / sizeof alarm_files[0] };

cairn_err content_alarm_check(store *s, const snapshot *a, const snapshot *b,
                              unsigned photo_percent, int *fired, char *reason, size_t cap)
{
    content_diff_summary sum;
    content_snap *ca = NULL, *cb = NULL;
    int same_sms = 0, same_photos = 0;
    *fired = 0;
    reason[0] = '\0';
    /* most backups leave both databases as they were: nothing to read */
    cairn_err rc = content_open_only(s, a, alarm_files, ALARM_NFILES, &ca);
    if (!rc)
        rc = content_open_only(s, b, alarm_files, ALARM_NFILES, &cb);
    if (!rc)
        rc = content_same_file(ca, cb, CONTENT_SMS_DOMAIN, CONTENT_SMS_PATH, &same_sms);
    if (!rc)
        rc = content_same_file(ca, cb, CONTENT_PHOTOS_DOMAIN, CONTENT_PHOTOS_PATH, &same_photos);
    if (rc) {
        content_close(ca);
        content_close(cb);
        return rc;
    }
    memset(&sum, 0, sizeof sum);
    /* what could not be read cannot raise the alarm; an unchanged database
     * loses nothing */
    if (!same_photos && (rc = alarm_photos(ca, cb, &sum)) != CAIRN_OK)
        rc = reader_failed(rc, "photos", NULL, NULL, &sum);
    if (!rc && !same_sms && (rc = alarm_chats(ca, cb, &sum)) != CAIRN_OK)
        rc = reader_failed(rc, "messages", NULL, NULL, &sum);
    content_close(ca);
    content_close(cb);
    if (rc)
        return rc;
    /* photos taken meanwhile do not hide a loss */
    const uint64_t lost = sum.photos_removed;
    const int photos =
        sum.photos_before > 0 && lost * 100 > (uint64_t)photo_percent * sum.photos_before;
    const int chats = sum.chats_removed > 0;
    if (!photos && !chats)
        return CAIRN_OK;
    *fired = 1;
    int n = 0;
    if (photos)
        n = snprintf(reason, cap, "lost %" PRIu64 " of %" PRIu64 " photos (%" PRIu64 " %%)", lost,
                     sum.photos_before, lost * 100 / sum.photos_before);
    if (chats && n >= 0 && (size_t)n < cap)
        snprintf(reason + n, cap - (size_t)n, "%slost %" PRIu64 " conversation%s",
                 photos ? ", " : "", sum.chats_removed, sum.chats_removed == 1 ? "" : "s");
    return CAIRN_OK;
}
