#include "engine/core/chains.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/fsutil.h"

enum { CHAIN_VERSION = 1, STR_MAX = 4096 };

cairn_err chain_record_encode(const chain_record *r, cbuf *out)
{
    cbuf_varint(out, CHAIN_VERSION);
    cbuf_cstr(out, r->name);
    cbuf_u8(out, (uint8_t)(r->archived != 0));
    cbuf_svarint(out, r->archived_at);
    cbuf_cstr(out, r->reason);
    return out->failed ? err_set(CAIRN_ENOMEM, "out of memory") : CAIRN_OK;
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
    if (r.failed || r.left || version != CHAIN_VERSION || !c.name || !c.reason || c.archived > 1) {
        free(c.name);
        free(c.reason);
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
    for (size_t i = 0; i < l->count; i++) {
        free(l->items[i].name);
        free(l->items[i].reason);
    }
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

cairn_err chains_archive(store *s, const char *name, const char *reason)
{
    const chain_record r = {(char *)name, 1, (int64_t)time(NULL), (char *)reason};
    return chains_put(s, &r);
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

void chain_record_clear(chain_record *r)
{
    free(r->name);
    free(r->reason);
    memset(r, 0, sizeof *r);
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
        chain_record_clear(&r);
        return err_set(CAIRN_ECORRUPT, "chain record %.16s: names another chain", hex);
    }
    if (out)
        *out = r;
    else
        chain_record_clear(&r);
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
