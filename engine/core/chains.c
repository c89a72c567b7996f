#include "engine/core/chains.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/fsutil.h"

/* Version 2 adds the pins; a record without pins is still written as
 * version 1, so the records of stores that never pinned keep their bytes. */
enum { CHAIN_VERSION = 1, CHAIN_VERSION_PINS = 2, STR_MAX = 4096, PINS_MAX = 100000 };

cairn_err chain_record_encode(const chain_record *r, cbuf *out)
{
    cbuf_varint(out, r->npins ? CHAIN_VERSION_PINS : CHAIN_VERSION);
    cbuf_cstr(out, r->name);
    cbuf_u8(out, (uint8_t)(r->archived != 0));
    cbuf_svarint(out, r->archived_at);
    cbuf_cstr(out, r->reason);
    if (r->npins) {
        cbuf_varint(out, r->npins);
        for (size_t i = 0; i < r->npins; i++) {
            cbuf_put(out, r->pins[i].snapshot, ID_LEN);
            cbuf_svarint(out, r->pins[i].at);
            cbuf_cstr(out, r->pins[i].reason);
        }
    }
    return out->failed ? err_set(CAIRN_ENOMEM, "out of memory") : CAIRN_OK;
}

void chain_record_free(chain_record *r)
{
    for (size_t i = 0; i < r->npins; i++)
        free(r->pins[i].reason);
    free(r->pins);
    free(r->name);
    free(r->reason);
    memset(r, 0, sizeof *r);
}

cairn_err chain_record_decode(const uint8_t *data, size_t len, chain_record *out)
{
    creader r;
    chain_record c;
    memset(&c, 0, sizeof c);
    cr_init(&r, data, len);
    const uint64_t version = cr_varint(&r);
    c.name = cr_cstr(&r, STR_MAX);
    c.archived = cr_u8(&r);
    c.archived_at = cr_svarint(&r);
    c.reason = cr_cstr(&r, STR_MAX);
    int bad = r.failed || (version != CHAIN_VERSION && version != CHAIN_VERSION_PINS);
    if (!bad && version == CHAIN_VERSION_PINS) {
        const uint64_t n = cr_varint(&r);
        bad = r.failed || n == 0 || n > PINS_MAX || n > r.left / (ID_LEN + 2) ||
              !(c.pins = calloc((size_t)n, sizeof *c.pins));
        for (size_t i = 0; !bad && i < n; i++) {
            const uint8_t *const sid = cr_bytes(&r, ID_LEN);
            if (sid)
                memcpy(c.pins[i].snapshot, sid, ID_LEN);
            c.pins[i].at = cr_svarint(&r);
            c.pins[i].reason = cr_cstr(&r, STR_MAX);
            c.npins = i + 1;
            bad = r.failed || !c.pins[i].reason;
        }
    }
    if (bad || r.left || !c.name || !c.reason || c.archived > 1) {
        chain_record_free(&c);
        return err_set(CAIRN_ECORRUPT, "chain record: malformed");
    }
    *out = c;
    return CAIRN_OK;
}

cairn_err chains_load(store *s, chain_list *out)
{
    uint8_t(*ids)[ID_LEN] = NULL;
    size_t n = 0;
    chain_list l = {NULL, 0};
    cairn_err rc = store_list_chains(s, &ids, &n);
    if (rc)
        return rc;
    l.items = calloc(n ? n : 1, sizeof *l.items);
    if (!l.items) {
        free(ids);
        return err_set(CAIRN_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n && !rc; i++) {
        uint8_t *plain;
        size_t len;
        rc = store_get_chain(s, ids[i], &plain, &len);
        if (!rc) {
            rc = chain_record_decode(plain, len, &l.items[l.count]);
            free(plain);
        }
        if (!rc)
            l.count++;
    }
    free(ids);
    if (rc) {
        chains_free(&l);
        return rc;
    }
    *out = l;
    return CAIRN_OK;
}

void chains_free(chain_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        chain_record_free(&l->items[i]);
    free(l->items);
    l->items = NULL;
    l->count = 0;
}

int chains_is_archived(const chain_list *l, const char *name)
{
    for (size_t i = 0; i < l->count; i++)
        if (strcmp(l->items[i].name, name) == 0)
            return l->items[i].archived;
    return 0;
}

/* The chain's record as stored, or a fresh active one (no record yet). */
static cairn_err load_record(store *s, const char *name, chain_record *out)
{
    uint8_t id[ID_LEN];
    uint8_t *plain = NULL;
    size_t len = 0;
    memset(out, 0, sizeof *out);
    store_chain_id(s, name, id);
    cairn_err rc = store_get_chain(s, id, &plain, &len);
    if (rc == CAIRN_ENOTFOUND) {
        out->name = strdup(name);
        out->reason = strdup("");
        return out->name && out->reason ? CAIRN_OK : err_set(CAIRN_ENOMEM, "out of memory");
    }
    if (!rc)
        rc = chain_record_decode(plain, len, out);
    free(plain);
    return rc;
}

/* Writes the record, or removes it when it says nothing (active, no pins):
 * a chain without a record is active. */
static cairn_err save_record(store *s, const chain_record *r)
{
    if (!r->archived && !r->npins) {
        uint8_t id[ID_LEN];
        store_chain_id(s, r->name, id);
        const cairn_err rc = store_delete_chain(s, id);
        return rc == CAIRN_ENOTFOUND ? CAIRN_OK : rc;
    }
    return chains_put(s, r);
}

cairn_err chains_archive(store *s, const char *name, const char *reason)
{
    chain_record r;
    cairn_err rc = load_record(s, name, &r);
    char *const why = rc ? NULL : strdup(reason);
    if (!rc && !why)
        rc = err_set(CAIRN_ENOMEM, "out of memory");
    if (!rc) {
        free(r.reason);
        r.reason = why;
        r.archived = 1;
        r.archived_at = (int64_t)time(NULL);
        rc = save_record(s, &r);
    }
    chain_record_free(&r);
    return rc;
}

cairn_err chains_pin(store *s, const char *chain, const uint8_t id[ID_LEN], const char *reason,
                     int *added)
{
    chain_record r;
    *added = 0;
    cairn_err rc = load_record(s, chain, &r);
    for (size_t i = 0; !rc && i < r.npins; i++) {
        if (memcmp(r.pins[i].snapshot, id, ID_LEN) == 0) {
            chain_record_free(&r);
            return CAIRN_OK;
        }
    }
    chain_pin *const pins = rc ? NULL : realloc(r.pins, (r.npins + 1) * sizeof *pins);
    if (!rc && !pins)
        rc = err_set(CAIRN_ENOMEM, "out of memory");
    if (!rc) {
        r.pins = pins;
        chain_pin *const p = &pins[r.npins];
        memcpy(p->snapshot, id, ID_LEN);
        p->at = (int64_t)time(NULL);
        if (!(p->reason = strdup(reason)))
            rc = err_set(CAIRN_ENOMEM, "out of memory");
        else
            r.npins++;
    }
    if (!rc)
        rc = save_record(s, &r);
    if (!rc)
        *added = 1;
    chain_record_free(&r);
    return rc;
}

cairn_err chains_unpin(store *s, const char *chain, const uint8_t id[ID_LEN])
{
    chain_record r;
    cairn_err rc = load_record(s, chain, &r);
    size_t i = 0;
    while (!rc && i < r.npins && memcmp(r.pins[i].snapshot, id, ID_LEN) != 0)
        i++;
    if (!rc && i == r.npins)
        rc = err_set(CAIRN_ENOTFOUND, "the snapshot is not pinned");
    if (!rc) {
        free(r.pins[i].reason);
        memmove(&r.pins[i], &r.pins[i + 1], (r.npins - i - 1) * sizeof *r.pins);
        r.npins--;
        rc = save_record(s, &r);
    }
    chain_record_free(&r);
    return rc;
}

const char *chains_pinned(const chain_list *l, const char *chain, const uint8_t id[ID_LEN])
{
    for (size_t i = 0; i < l->count; i++) {
        if (strcmp(l->items[i].name, chain) != 0)
            continue;
        for (size_t k = 0; k < l->items[i].npins; k++) {
            if (memcmp(l->items[i].pins[k].snapshot, id, ID_LEN) == 0)
                return l->items[i].pins[k].reason;
        }
    }
    return NULL;
}

cairn_err chains_drop(store *s, const char *name)
{
    uint8_t id[ID_LEN];
    store_chain_id(s, name, id);
    return store_delete_chain(s, id);
}

/* The part of a device chain name after "device:<udid>/". */
static const char *identity_of(const char *chain)
{
    const char *const slash = strchr(chain, '/');
    return slash ? slash + 1 : "";
}

cairn_err chains_rotate(store *s, const snaplist *snaps, const chain_list *chains, const char *udid,
                        const char *new_chain, char **archived, char *reason, size_t cap)
{
    *archived = NULL;
    for (size_t i = snaps->count; i-- > 0;) {
        const snapshot *const sn = &snaps->items[i];
        if (!snapshot_udid_is(sn, udid) || strncmp(sn->chain, "device:", 7) != 0)
            continue;
        /* the device's newest snapshot decides which chain is current */
        if (strcmp(sn->chain, new_chain) == 0 || chains_is_archived(chains, sn->chain))
            return CAIRN_OK;
        const char *const was = identity_of(sn->chain), *const now = identity_of(new_chain);
        if (strcmp(was, "unencrypted") == 0)
            snprintf(reason, cap, "backup encryption was turned on");
        else if (strcmp(now, "unencrypted") == 0)
            snprintf(reason, cap, "backup encryption was turned off");
        else
            snprintf(reason, cap, "the backup password changed");
        const cairn_err rc = chains_archive(s, sn->chain, reason);
        if (rc)
            return rc;
        *archived = strdup(sn->chain);
        return *archived ? CAIRN_OK : err_set(CAIRN_ENOMEM, "out of memory");
    }
    return CAIRN_OK;
}

cairn_err chains_resolve(const snaplist *snaps, const char *arg, const char **name)
{
    const char *found = NULL;
    const size_t len = strlen(arg);
    for (size_t i = 0; i < snaps->count; i++) {
        const char *const c = snaps->items[i].chain;
        if (strcmp(c, arg) == 0) {
            *name = c;
            return CAIRN_OK;
        }
        if (strncmp(c, arg, len) != 0 || (found && strcmp(found, c) == 0))
            continue;
        if (found)
            return err_set(CAIRN_EAMBIGUOUS, "chain '%s' matches more than one chain", arg);
        found = c;
    }
    if (!found)
        return err_set(CAIRN_ENOTFOUND, "no chain '%s' in this store", arg);
    *name = found;
    return CAIRN_OK;
}

cairn_err chains_verify_plain(store *s, const uint8_t id[ID_LEN], const uint8_t *plain, size_t len,
                              chain_record *out)
{
    char hex[2 * ID_LEN + 1];
    uint8_t want[ID_LEN];
    chain_record r;
    fs_hex(id, ID_LEN, hex);
    cairn_err rc = chain_record_decode(plain, len, &r);
    if (rc == CAIRN_ECORRUPT)
        return err_set(rc, "chain record %.16s: malformed", hex);
    if (rc)
        return rc;
    store_chain_id(s, r.name, want);
    if (memcmp(want, id, ID_LEN) != 0) {
        chain_record_free(&r);
        return err_set(CAIRN_ECORRUPT, "chain record %.16s: names another chain", hex);
    }
    if (out)
        *out = r;
    else
        chain_record_free(&r);
    return CAIRN_OK;
}

cairn_err chains_verify(store *s, const uint8_t id[ID_LEN], chain_record *out)
{
    uint8_t *plain = NULL;
    size_t len = 0;
    cairn_err rc = store_get_chain(s, id, &plain, &len);
    if (!rc)
        rc = chains_verify_plain(s, id, plain, len, out);
    free(plain);
    return rc;
}

cairn_err chains_put(store *s, const chain_record *r)
{
    uint8_t id[ID_LEN];
    cbuf enc;
    cbuf_init(&enc);
    cairn_err rc = chain_record_encode(r, &enc);
    store_chain_id(s, r->name, id);
    if (!rc)
        rc = store_put_chain(s, id, enc.data, enc.len);
    cbuf_free(&enc);
    return rc;
}

cairn_err chains_each_damaged(store *s, cairn_err (*fn)(void *ctx, const uint8_t id[ID_LEN]),
                              void *ctx)
{
    uint8_t(*ids)[ID_LEN] = NULL;
    size_t n = 0;
    cairn_err rc = store_list_chains(s, &ids, &n);
    for (size_t i = 0; !rc && i < n; i++) {
        const cairn_err why = chains_verify(s, ids[i], NULL);
        rc = why == CAIRN_ENOMEM ? why : why ? fn(ctx, ids[i]) : CAIRN_OK;
    }
    free(ids);
    return rc;
}
