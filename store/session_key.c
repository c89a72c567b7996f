#include "store/session_key.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/keyctl.h>
#include <sodium.h>

static const char prefix[] = "cairn:";
enum { PREFIX_LEN = sizeof prefix - 1, MAX_KEYRINGS = 16, DESC_MAX = 256 };
/* The permission bits of keyctl(2) (keyutils.h, which the kernel headers
 * lack): view and read, for the possessor and for the key's user. */
enum {
    PERM_POS_VIEW = 0x01000000,
    PERM_POS_READ = 0x02000000,
    PERM_USR_VIEW = 0x00010000,
    PERM_USR_READ = 0x00020000,
};

static long kctl(int op, unsigned long a, unsigned long b, unsigned long c)
{
    return syscall(SYS_keyctl, op, a, b, c, 0UL);
}

/* One line for a refusal by the kernel, telling "not here at all" from a
 * failure of this one call. */
static cairn_err keyring_error(int errnum, const char *call)
{
    if (errnum == ENOSYS || errnum == EPERM || errnum == EOPNOTSUPP)
        return err_set(CAIRN_EUNSUPPORTED,
                       "the kernel refuses keyrings here (%s: %s), so the store cannot be "
                       "unlocked; commands ask for the password",
                       call, strerror(errnum));
    if (errnum == EDQUOT)
        return err_set(CAIRN_EIO, "%s: the user's keyring quota is full (%s)", call,
                       strerror(errnum));
    return err_errno(errnum, call);
}

cairn_err session_key_add(session_keyring where, const char *id_hex, const uint8_t *payload,
                          unsigned seconds)
{
    char desc[PREFIX_LEN + SESSION_KEY_ID_HEX + 1];
    const int32_t ring =
        where == SESSION_KEYRING_USER ? KEY_SPEC_USER_KEYRING : KEY_SPEC_SESSION_KEYRING;
    if (seconds == 0 || seconds > SESSION_KEY_MAX_SECONDS || strlen(id_hex) != SESSION_KEY_ID_HEX)
        return err_set(CAIRN_EINVAL, "an unlocked session lasts from 1 s to 24 h");
    snprintf(desc, sizeof desc, "%s%s", prefix, id_hex);
    const long serial = syscall(SYS_add_key, "user", desc, payload, (size_t)SESSION_KEY_LEN, ring);
    if (serial < 0)
        return keyring_error(errno, "add_key");
    /* the timeout first: setting it needs the setattr permission that the
     * narrowed permissions no longer grant */
    if (kctl(KEYCTL_SET_TIMEOUT, (unsigned long)serial, seconds, 0) != 0 ||
        kctl(KEYCTL_SETPERM, (unsigned long)serial,
             PERM_POS_VIEW | PERM_POS_READ | PERM_USR_VIEW | PERM_USR_READ, 0) != 0) {
        const cairn_err rc = keyring_error(errno, "keyctl");
        kctl(KEYCTL_UNLINK, (unsigned long)serial, (unsigned long)ring, 0);
        return rc;
    }
    return CAIRN_OK;
}

/* The serials a keyring holds (malloc'd), or NULL if it cannot be read. */
static int32_t *keyring_list(int32_t ring, size_t *count)
{
    long len = kctl(KEYCTL_READ, (unsigned long)ring, 0, 0);
    int32_t *list = NULL;
    for (int tries = 0; len > 0 && tries < 4; tries++) {
        int32_t *const grown = realloc(list, (size_t)len);
        if (!grown)
            break;
        list = grown;
        const long got =
            kctl(KEYCTL_READ, (unsigned long)ring, (unsigned long)list, (unsigned long)len);
        if (got >= 0 && got <= len) {
            *count = (size_t)got / sizeof *list;
            return list;
        }
        len = got; /* it grew meanwhile: read again */
    }
    free(list);
    *count = 0;
    return NULL;
}

/* Calls fn for one key if it is a cairn session key; 1 if fn said stop. */
static int visit_key(int32_t ring, int32_t serial, const char *desc, session_key_fn fn, void *ctx)
{
    /* "type;uid;gid;perm;description" */
    const char *name = desc;
    for (int i = 0; i < 4 && name; i++) {
        name = strchr(name, ';');
        if (name)
            name++;
    }
    if (!name || strncmp(desc, "user;", 5) != 0 || strncmp(name, prefix, PREFIX_LEN) != 0 ||
        strlen(name + PREFIX_LEN) != SESSION_KEY_ID_HEX)
        return 0;
    uint8_t *const payload = sodium_malloc(SESSION_KEY_LEN);
    if (!payload)
        return 0;
    const long len =
        kctl(KEYCTL_READ, (unsigned long)serial, (unsigned long)payload, SESSION_KEY_LEN);
    int stop = 0;
    if (len >= 0) {
        const session_key_found k = {serial, ring, name + PREFIX_LEN, payload,
                                     len > SESSION_KEY_LEN ? SESSION_KEY_LEN + 1 : (size_t)len};
        stop = fn(ctx, &k);
    }
    sodium_free(payload);
    return stop;
}

/* Queues a keyring to walk unless it is queued already. */
static void add_ring(int32_t *rings, size_t *n, int32_t id)
{
    for (size_t i = 0; i < *n; i++)
        if (rings[i] == id)
            return;
    if (*n < MAX_KEYRINGS)
        rings[(*n)++] = id;
}

void session_key_each(session_key_fn fn, void *ctx)
{
    /* the session keyring usually links the user keyring: each keyring is
     * walked once */
    int32_t rings[MAX_KEYRINGS];
    size_t nrings = 0;
    const int32_t roots[] = {KEY_SPEC_SESSION_KEYRING, KEY_SPEC_USER_KEYRING};
    for (size_t i = 0; i < sizeof roots / sizeof roots[0]; i++) {
        const long id = kctl(KEYCTL_GET_KEYRING_ID, (unsigned long)roots[i], 0, 0);
        if (id > 0)
            add_ring(rings, &nrings, (int32_t)id);
    }
    for (size_t r = 0; r < nrings; r++) {
        size_t count;
        int32_t *const keys = keyring_list(rings[r], &count);
        for (size_t i = 0; keys && i < count; i++) {
            char desc[DESC_MAX];
            const long n =
                kctl(KEYCTL_DESCRIBE, (unsigned long)keys[i], (unsigned long)desc, sizeof desc);
            if (n <= 0 || n > (long)sizeof desc)
                continue;
            desc[sizeof desc - 1] = '\0';
            if (strncmp(desc, "keyring;", 8) == 0)
                add_ring(rings, &nrings, keys[i]);
            else if (visit_key(rings[r], keys[i], desc, fn, ctx)) {
                free(keys);
                return;
            }
        }
        free(keys);
    }
}

cairn_err session_key_drop(const session_key_found *k)
{
    if (kctl(KEYCTL_UNLINK, (unsigned long)k->serial, (unsigned long)k->keyring, 0) != 0 &&
        errno != ENOENT && errno != ENOKEY)
        return keyring_error(errno, "keyctl unlink");
    return CAIRN_OK;
}
