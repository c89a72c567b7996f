/* session_key.h - an unlocked session: a store's master key held in the
 * kernel keyring (add_key(2), keyctl(2)) for a bounded time, so that a
 * command opens the store without the Argon2id derivation.
 *
 * A key is of type "user", described "cairn:<store id in hex>", may only be
 * viewed and read (by its possessor and by its user: a process that does
 * not possess the user keyring, such as a systemd user service, still
 * reads it), and is removed by the kernel when its timeout passes.  Its
 * payload is SESSION_KEY_LEN bytes: the master key, then the u64le Unix
 * time it expires (shown to the user; the kernel enforces the timeout).
 * This module only talks to the kernel; store.c decides which key opens
 * which store (a key is trusted only once it opens the store's sealed
 * config).  Keys never touch the disk; copies in this process live in
 * locked memory that is zeroed when freed. */
#ifndef CAIRN_SESSION_KEY_H
#define CAIRN_SESSION_KEY_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

enum {
    SESSION_KEY_MASTER = 32,
    SESSION_KEY_LEN = SESSION_KEY_MASTER + 8,
    SESSION_KEY_ID_HEX = 32,                /* a store id is 16 bytes */
    SESSION_KEY_MAX_SECONDS = 24 * 60 * 60, /* an unlocked session lasts at most a day */
};

/* Where unlock puts the key: the user keyring (@u: every process of the
 * user sees it, a terminal and a systemd user service alike) or the
 * session keyring (@s: this login session only). */
typedef enum session_keyring { SESSION_KEYRING_USER, SESSION_KEYRING_SESSION } session_keyring;

/* Adds the key "cairn:<id_hex>" with payload (SESSION_KEY_LEN bytes) to
 * where, expiring after seconds (1..SESSION_KEY_MAX_SECONDS).
 * CAIRN_EUNSUPPORTED, with one line saying so, if the kernel refuses
 * keyrings here (ENOSYS, or EPERM from a container's seccomp profile). */
cairn_err session_key_add(session_keyring where, const char *id_hex, const uint8_t *payload,
                          unsigned seconds);

/* One "cairn:" key found in this process's keyrings. */
typedef struct session_key_found {
    int32_t serial;
    int32_t keyring;    /* the keyring it was found in (for session_key_drop) */
    const char *id_hex; /* what its description names */
    const uint8_t *payload;
    size_t len;
} session_key_found;

/* Calls fn for every readable "cairn:" key in the session keyring and the
 * user keyring (and the keyrings they hold) until fn returns nonzero.
 * Where the kernel refuses keyrings, there are none: no error. */
typedef int (*session_key_fn)(void *ctx, const session_key_found *k);
void session_key_each(session_key_fn fn, void *ctx);

/* Unlinks the key from the keyring it was found in (it needs no write
 * permission on the key, which it does not have); the kernel frees it
 * once nothing links it. */
cairn_err session_key_drop(const session_key_found *k);

#endif
