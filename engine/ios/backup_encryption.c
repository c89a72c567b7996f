/* backup_encryption.c - keybags, key wrapping and the CBC layer of encrypted iOS backups.
 *
 * Facts, from public sources (code there is not copied, only the format):
 * - keybag TLV and unlock: iphone-dataprotection keystore/keybag.py as used
 *   by jsharkey13/iphone_backup_decrypt and avibrazil/iOSbackup (mvt);
 * - the two-step KDF: John the Ripper itunes_fmt_plug.c, hashcat modes
 *   14700/14800 (tests/test_iosenc.c checks their known-answer vectors);
 * - keybag header and class fields: Apple Platform Security, "keybag". */
#include "engine/ios/backup_encryption.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "util/codec.h"

enum {
    KEYBAG_MAX = 64 * 1024, /* 31 classes fit in under 3 KB */
    ITEM_HEAD = 8,          /* 4-byte tag, 4-byte big-endian length */
    SALT_MIN = 8,           /* iOS writes 20-byte SALT and DPSL; allow some room, not any size */
    SALT_MAX = 64,
    BLOB_MAX = 256,      /* HMCK, PBKY: opaque, never interpreted */
    PASSWORD_MAX = 4096, /* anything longer is a mistake, not a password */
    WRAP_BLOCK = 8,      /* the key-wrap cipher's block: EVP wants that much slack */
    VERS_DPSL = 4,       /* written with a DPSL stage (Apple: keybags are version 4 since iOS 12) */
    VERS_OLD = 3,        /* written without one, as before iOS 10.2 */
    TYPE_BACKUP = 1,
    TYPE_MAX = 3,
    DPWT_DEFAULT = 1,
    CHUNK = 1 << 30, /* EVP counts in int */
};

/* ---- tags --------------------------------------------------------------- */

typedef enum tag_id {
    T_VERS,
    T_TYPE,
    T_UUID,
    T_HMCK,
    T_WRAP,
    T_SALT,
    T_ITER,
    T_DPWT,
    T_DPIC,
    T_DPSL,
    T_CLAS,
    T_KTYP,
    T_WPKY,
    T_PBKY,
    T_OTHER,
} tag_id;

static const char tag_names[T_OTHER][5] = {
    "VERS", "TYPE", "UUID", "HMCK", "WRAP", "SALT", "ITER",
    "DPWT", "DPIC", "DPSL", "CLAS", "KTYP", "WPKY", "PBKY",
};

/* Smallest and largest value length of each known tag. */
static const uint32_t tag_min[T_OTHER] = {4, 4, 16, 1, 4, SALT_MIN, 4, 4, 4, SALT_MIN, 4, 4, 40, 1};
static const uint32_t tag_max[T_OTHER] = {4, 4, 16,       BLOB_MAX, 4, SALT_MAX, 4,
                                          4, 4, SALT_MAX, 4,        4, 40,       BLOB_MAX};

/* The classes a new keybag gets: the file classes and the keychain classes
 * (5 is not used by backups). */
static const uint32_t new_classes[] = {1, 2, 3, 4, 6, 7, 8, 9, 10, 11};

#define BIT(t) (1u << (t))
#define HEADER_TAGS                                                                                \
    (BIT(T_VERS) | BIT(T_TYPE) | BIT(T_HMCK) | BIT(T_SALT) | BIT(T_ITER) | BIT(T_DPWT) |           \
     BIT(T_DPIC) | BIT(T_DPSL))
#define CLASS_TAGS (BIT(T_CLAS) | BIT(T_KTYP) | BIT(T_WPKY) | BIT(T_PBKY))

/* ---- parsing ------------------------------------------------------------ */

typedef struct kb_item {
    tag_id id;
    char name[5]; /* printable: checked before use */
    const uint8_t *val;
    uint32_t len;
    size_t off;
} kb_item;

typedef struct kb_class {
    uint32_t clas, wrap, ktyp;
    const uint8_t *wpky; /* NULL: the entry carries no wrapped key */
    unsigned seen;       /* BIT(tag) of the tags this entry had */
} kb_class;

/* A parsed keybag: pointers into the caller's bytes. */
typedef struct keybag {
    uint32_t vers, type, wrap, iter, dpic, dpwt;
    uint8_t uuid[IOSENC_UUID_LEN];
    const uint8_t *salt, *dpsl, *hmck;
    size_t salt_len, dpsl_len, hmck_len;
    unsigned seen;
    unsigned nclass;
    kb_class cls[IOSENC_CLASS_MAX];
} keybag;

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static cairn_err bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static cairn_err bad(const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return err_set(CAIRN_ESOURCE, "Manifest.plist: BackupKeyBag: %s", msg);
}

/* Reads the item at *off and advances past it.  Only lengths and tag
 * spelling are checked here; meaning is checked by the caller. */
static cairn_err kb_next(const uint8_t *buf, size_t len, size_t *off, kb_item *it)
{
    const size_t left = len - *off;
    if (left < ITEM_HEAD)
        return bad("truncated at byte %zu (%zu bytes left, an item needs %d)", *off, left,
                   ITEM_HEAD);
    const uint8_t *const p = buf + *off;
    for (int i = 0; i < 4; i++) {
        const uint8_t c = p[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
            return bad("unreadable tag %02x%02x%02x%02x at byte %zu", p[0], p[1], p[2], p[3], *off);
        it->name[i] = (char)c;
    }
    it->name[4] = '\0';
    it->len = get_be32(p + 4);
    if (it->len > left - ITEM_HEAD)
        return bad("%s at byte %zu claims %u bytes, %zu are left", it->name, *off, it->len,
                   left - ITEM_HEAD);
    it->val = p + ITEM_HEAD;
    it->off = *off;
    it->id = T_OTHER;
    for (int t = 0; t < T_OTHER; t++) {
        if (memcmp(it->name, tag_names[t], 4) == 0)
            it->id = (tag_id)t;
    }
    if (it->id != T_OTHER && (it->len < tag_min[it->id] || it->len > tag_max[it->id]))
        return bad("%s at byte %zu has %u bytes, expected %u..%u", it->name, *off, it->len,
                   tag_min[it->id], tag_max[it->id]);
    *off += ITEM_HEAD + it->len;
    return CAIRN_OK;
}

static cairn_err kb_end_class(keybag *kb)
{
    const kb_class *const c = &kb->cls[kb->nclass - 1];
    if (!(c->seen & BIT(T_CLAS)))
        return bad("class key %u has no CLAS", kb->nclass);
    if (!(c->seen & BIT(T_WRAP)))
        return bad("class %u has no WRAP", c->clas);
    if (c->clas < 1 || c->clas > IOSENC_CLASS_MAX)
        return bad("class number %u is out of range 1..%d", c->clas, IOSENC_CLASS_MAX);
    if (c->wrap > (IOSENC_WRAP_DEVICE | IOSENC_WRAP_PASSCODE))
        return bad("class %u has unknown WRAP %u", c->clas, c->wrap);
    for (unsigned i = 0; i + 1 < kb->nclass; i++) {
        if (kb->cls[i].clas == c->clas)
            return bad("class %u appears twice", c->clas);
    }
    return CAIRN_OK;
}

static void kb_header_value(keybag *kb, const kb_item *it)
{
    const uint32_t v = it->len == 4 ? get_be32(it->val) : 0;
    switch (it->id) {
    case T_VERS:
        kb->vers = v;
        break;
    case T_TYPE:
        kb->type = v;
        break;
    case T_ITER:
        kb->iter = v;
        break;
    case T_DPIC:
        kb->dpic = v;
        break;
    case T_DPWT:
        kb->dpwt = v;
        break;
    case T_SALT:
        kb->salt = it->val;
        kb->salt_len = it->len;
        break;
    case T_DPSL:
        kb->dpsl = it->val;
        kb->dpsl_len = it->len;
        break;
    case T_HMCK:
        kb->hmck = it->val;
        kb->hmck_len = it->len;
        break;
    default:
        break;
    }
}

static cairn_err kb_class_value(keybag *kb, const kb_item *it)
{
    kb_class *const c = &kb->cls[kb->nclass - 1];
    if (c->seen & BIT(it->id))
        return bad("class key %u has %s twice", kb->nclass, it->name);
    c->seen |= BIT(it->id);
    if (it->id == T_CLAS)
        c->clas = get_be32(it->val);
    else if (it->id == T_WRAP)
        c->wrap = get_be32(it->val);
    else if (it->id == T_KTYP)
        c->ktyp = get_be32(it->val);
    else if (it->id == T_WPKY)
        c->wpky = it->val;
    return CAIRN_OK;
}

static cairn_err kb_check_header(const keybag *kb)
{
    static const tag_id required[] = {T_VERS, T_TYPE, T_UUID, T_SALT, T_ITER};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        if (!(kb->seen & BIT(required[i])))
            return bad("no %s", tag_names[required[i]]);
    }
    if (!(kb->seen & BIT(T_DPIC)) != !(kb->seen & BIT(T_DPSL)))
        return bad("has %s without %s", kb->dpsl ? "DPSL" : "DPIC", kb->dpsl ? "DPIC" : "DPSL");
    if (kb->nclass == 0)
        return bad("holds no class keys");
    if (kb->vers == 0)
        return bad("VERS is 0");
    if (kb->type > TYPE_MAX)
        return bad("unknown TYPE %u", kb->type);
    if (kb->wrap > (IOSENC_WRAP_DEVICE | IOSENC_WRAP_PASSCODE))
        return bad("unknown WRAP %u", kb->wrap);
    if (kb->iter < 1 || kb->iter > IOSENC_ITER_MAX)
        return bad("ITER %u is out of range 1..%u", kb->iter, IOSENC_ITER_MAX);
    if (kb->dpsl && (kb->dpic < 1 || kb->dpic > IOSENC_DPIC_MAX))
        return bad("DPIC %u is out of range 1..%u", kb->dpic, IOSENC_DPIC_MAX);
    return CAIRN_OK;
}

/* The header is everything up to the second UUID, which starts the first
 * class entry; each further UUID starts another.  Header-only tags are
 * accepted anywhere (they cannot be mistaken), class tags only in an entry. */
static cairn_err kb_parse(const uint8_t *buf, size_t len, keybag *kb)
{
    memset(kb, 0, sizeof *kb);
    if (!buf && len)
        return err_set(CAIRN_EINVAL, "keybag: NULL buffer");
    if (len == 0)
        return bad("is empty");
    if (len > KEYBAG_MAX)
        return bad("is %zu bytes, more than the %d a keybag can be", len, KEYBAG_MAX);
    size_t off = 0;
    while (off < len) {
        kb_item it;
        cairn_err rc = kb_next(buf, len, &off, &it);
        if (rc != CAIRN_OK)
            return rc;
        if (it.id == T_UUID && !(kb->seen & BIT(T_UUID))) {
            memcpy(kb->uuid, it.val, IOSENC_UUID_LEN);
            kb->seen |= BIT(T_UUID);
        } else if (it.id == T_UUID) {
            if (kb->nclass && (rc = kb_end_class(kb)) != CAIRN_OK)
                return rc;
            if (kb->nclass == IOSENC_CLASS_MAX)
                return bad("has more than %d class keys", IOSENC_CLASS_MAX);
            kb->nclass++;
        } else if (it.id == T_WRAP && kb->nclass == 0) {
            if (kb->seen & BIT(T_WRAP))
                return bad("has WRAP twice before the class keys");
            kb->seen |= BIT(T_WRAP);
            kb->wrap = get_be32(it.val);
        } else if (it.id != T_OTHER && (BIT(it.id) & HEADER_TAGS)) {
            if (kb->seen & BIT(it.id))
                return bad("has %s twice", it.name);
            kb->seen |= BIT(it.id);
            kb_header_value(kb, &it);
        } else if (it.id != T_OTHER) {
            /* WRAP in an entry, or a class-only tag */
            if (kb->nclass == 0)
                return bad("%s at byte %zu comes before any class key", it.name, it.off);
            if ((rc = kb_class_value(kb, &it)) != CAIRN_OK)
                return rc;
        }
    }
    if (kb->nclass) {
        const cairn_err rc = kb_end_class(kb);
        if (rc != CAIRN_OK)
            return rc;
    }
    return kb_check_header(kb);
}

cairn_err iosenc_keybag_inspect(const uint8_t *keybag_buf, size_t len, iosenc_info *out)
{
    keybag kb;
    memset(out, 0, sizeof *out);
    const cairn_err rc = kb_parse(keybag_buf, len, &kb);
    if (rc != CAIRN_OK)
        return rc;
    out->version = kb.vers;
    out->type = kb.type;
    out->iter = kb.iter;
    out->dpic = kb.dpsl ? kb.dpic : 0;
    memcpy(out->uuid, kb.uuid, IOSENC_UUID_LEN);
    out->salt_len = kb.salt_len;
    out->dpsl_len = kb.dpsl_len;
    out->nclasses = kb.nclass;
    for (unsigned i = 0; i < kb.nclass; i++) {
        const kb_class *const c = &kb.cls[i];
        out->classes |= 1u << c->clas;
        if ((c->wrap & IOSENC_WRAP_PASSCODE) && c->wpky)
            out->passcode_wrapped |= 1u << c->clas;
        if (c->wrap & IOSENC_WRAP_DEVICE)
            out->device_wrapped |= 1u << c->clas;
    }
    return CAIRN_OK;
}

/* ---- secure memory ------------------------------------------------------ */

struct iosenc_keys {
    uint8_t uuid[IOSENC_UUID_LEN];
    uint32_t present; /* bit c: key[c] holds class c's key */
    uint32_t device;  /* bit c: that key is still wrapped by the device UID */
    int has_hmck;     /* hmck unwrapped with the password key (re-wrapped on rewrap) */
    uint8_t hmck[IOSENC_KEY_LEN];
    uint8_t key[IOSENC_CLASS_MAX + 1][IOSENC_KEY_LEN];
};

static void *secure_alloc(size_t n)
{
    if (sodium_init() < 0)
        return NULL;
    void *const p = sodium_malloc(n);
    if (p)
        sodium_memzero(p, n);
    return p;
}

uint8_t *iosenc_key_alloc(void)
{
    return secure_alloc(IOSENC_KEY_LEN);
}

void iosenc_key_free(uint8_t *key)
{
    if (key)
        sodium_free(key); /* zeroes and unlocks */
}

void iosenc_keys_free(iosenc_keys *keys)
{
    if (keys)
        sodium_free(keys);
}

int iosenc_keys_has_class(const iosenc_keys *keys, uint32_t cls)
{
    if (!keys || cls < 1 || cls > IOSENC_CLASS_MAX)
        return 0;
    return (keys->present >> cls & 1) && !(keys->device >> cls & 1);
}

const uint8_t *iosenc_keys_uuid(const iosenc_keys *keys)
{
    return keys->uuid;
}

/* ---- primitives (OpenSSL) ------------------------------------------------ */

static cairn_err ossl_fail(const char *what)
{
    ERR_clear_error();
    return err_set(CAIRN_ENOMEM, "OpenSSL: %s failed", what);
}

/* RFC 3394 with the default IV (A6A6...).  For decryption *ok says whether
 * the integrity check passed; an unwrap that fails it is not an error here
 * because the callers give it different meanings (wrong password, damage). */
static cairn_err key_wrap(int enc, const uint8_t kek[IOSENC_KEY_LEN], const uint8_t *in,
                          uint8_t *out, int *ok)
{
    const int in_len = enc ? IOSENC_KEY_LEN : IOSENC_WRAPPED_LEN;
    const int want = enc ? IOSENC_WRAPPED_LEN : IOSENC_KEY_LEN;
    /* EVP writes up to in_len + one wrap block; unwrapped bytes are secret */
    uint8_t *const tmp = secure_alloc(IOSENC_WRAPPED_LEN + WRAP_BLOCK);
    EVP_CIPHER_CTX *const ctx = EVP_CIPHER_CTX_new();
    cairn_err rc = CAIRN_OK;
    int n = 0;
    *ok = 0;
    if (!tmp || !ctx) {
        rc = err_set(CAIRN_ENOMEM, "cannot allocate key-wrap state");
        goto fail;
    }
    EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
    if (EVP_CipherInit_ex(ctx, EVP_aes_256_wrap(), NULL, kek, NULL, enc) != 1) {
        rc = ossl_fail("AES key wrap setup");
        goto fail;
    }
    if (EVP_CipherUpdate(ctx, tmp, &n, in, in_len) != 1 || n != want) {
        if (enc)
            rc = ossl_fail("AES key wrap");
        ERR_clear_error();
        goto fail;
    }
    memcpy(out, tmp, (size_t)want);
    *ok = 1;
fail:
    EVP_CIPHER_CTX_free(ctx);
    if (tmp)
        sodium_free(tmp);
    return rc;
}

cairn_err iosenc_key_wrap(const uint8_t kek[IOSENC_KEY_LEN], const uint8_t key[IOSENC_KEY_LEN],
                          uint8_t out[IOSENC_WRAPPED_LEN])
{
    int ok = 0;
    return key_wrap(1, kek, key, out, &ok);
}

cairn_err iosenc_key_unwrap(const uint8_t kek[IOSENC_KEY_LEN],
                            const uint8_t wrapped[IOSENC_WRAPPED_LEN], uint8_t key[IOSENC_KEY_LEN])
{
    int ok = 0;
    const cairn_err rc = key_wrap(0, kek, wrapped, key, &ok);
    if (rc != CAIRN_OK)
        return rc;
    return ok ? CAIRN_OK : err_set(CAIRN_ECORRUPT, "wrapped key fails its integrity check");
}

/* The password key: PBKDF2-HMAC-SHA1 over the PBKDF2-HMAC-SHA256 result, or
 * over the password itself for keybags without DPSL. */
static cairn_err derive(const char *password, size_t password_len, const uint8_t *salt,
                        size_t salt_len, uint32_t iter, const uint8_t *dpsl, size_t dpsl_len,
                        uint32_t dpic, uint8_t pk[IOSENC_KEY_LEN])
{
    if (password_len > PASSWORD_MAX)
        return err_set(CAIRN_EINVAL, "backup password is longer than %d bytes", PASSWORD_MAX);
    const char *p = password ? password : "";
    int p_len = (int)password_len;
    uint8_t *k1 = NULL;
    cairn_err rc = CAIRN_OK;
    if (dpsl) {
        if (!(k1 = secure_alloc(IOSENC_KEY_LEN)))
            return err_set(CAIRN_ENOMEM, "cannot allocate key memory");
        if (PKCS5_PBKDF2_HMAC(p, p_len, dpsl, (int)dpsl_len, (int)dpic, EVP_sha256(),
                              IOSENC_KEY_LEN, k1) != 1) {
            rc = ossl_fail("PBKDF2-HMAC-SHA256");
            goto fail;
        }
        p = (const char *)k1;
        p_len = IOSENC_KEY_LEN;
    }
    if (PKCS5_PBKDF2_HMAC(p, p_len, salt, (int)salt_len, (int)iter, EVP_sha1(), IOSENC_KEY_LEN,
                          pk) != 1)
        rc = ossl_fail("PBKDF2-HMAC-SHA1");
fail:
    if (k1)
        sodium_free(k1);
    return rc;
}

static cairn_err derive_kb(const keybag *kb, const char *password, size_t password_len,
                           uint8_t pk[IOSENC_KEY_LEN])
{
    return derive(password, password_len, kb->salt, kb->salt_len, kb->iter, kb->dpsl, kb->dpsl_len,
                  kb->dpic, pk);
}

/* ---- unlock ------------------------------------------------------------- */

static cairn_err seal_keys(iosenc_keys *keys)
{
    if (sodium_mprotect_readonly(keys) != 0)
        return err_set(CAIRN_ENOMEM, "cannot protect key memory");
    return CAIRN_OK;
}

cairn_err iosenc_unlock(const uint8_t *keybag_buf, size_t len, const char *password,
                        size_t password_len, iosenc_keys **out)
{
    *out = NULL;
    keybag kb;
    cairn_err rc = kb_parse(keybag_buf, len, &kb);
    if (rc != CAIRN_OK)
        return rc;
    uint8_t *const pk = secure_alloc(IOSENC_KEY_LEN);
    iosenc_keys *keys = secure_alloc(sizeof *keys);
    if (!pk || !keys) {
        rc = err_set(CAIRN_ENOMEM, "cannot allocate key memory");
        goto fail;
    }
    if ((rc = derive_kb(&kb, password, password_len, pk)) != CAIRN_OK)
        goto fail;
    unsigned opened = 0, failed = 0;
    uint32_t failed_class = 0;
    for (unsigned i = 0; i < kb.nclass; i++) {
        const kb_class *const c = &kb.cls[i];
        if (!(c->wrap & IOSENC_WRAP_PASSCODE) || !c->wpky)
            continue;
        int ok = 0;
        if ((rc = key_wrap(0, pk, c->wpky, keys->key[c->clas], &ok)) != CAIRN_OK)
            goto fail;
        if (!ok) {
            failed++;
            failed_class = c->clas;
            continue;
        }
        opened++;
        keys->present |= 1u << c->clas;
        if (c->wrap & IOSENC_WRAP_DEVICE)
            keys->device |= 1u << c->clas;
    }
    if (opened == 0 && failed == 0) {
        rc = bad("no class key is protected by the password");
        goto fail;
    }
    if (opened == 0) {
        rc = err_set(CAIRN_EPASSWORD, "backup password is wrong: the keybag does not unlock");
        goto fail;
    }
    if (failed) {
        /* the password is right (other keys opened): this key is damaged */
        rc = bad("class %u key does not unwrap although the others do", failed_class);
        goto fail;
    }
    /* HMCK is opaque to us; when the password key opens it, a rewrap must
     * re-wrap it too, so keep it. */
    if (kb.hmck && kb.hmck_len == IOSENC_WRAPPED_LEN) {
        int ok = 0;
        if ((rc = key_wrap(0, pk, kb.hmck, keys->hmck, &ok)) != CAIRN_OK)
            goto fail;
        keys->has_hmck = ok;
    }
    memcpy(keys->uuid, kb.uuid, IOSENC_UUID_LEN);
    if ((rc = seal_keys(keys)) != CAIRN_OK)
        goto fail;
    *out = keys;
    keys = NULL;
fail:
    iosenc_keys_free(keys);
    if (pk)
        sodium_free(pk);
    return rc;
}

/* ---- file keys ---------------------------------------------------------- */

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

cairn_err iosenc_tagged_class(const uint8_t *tagged, size_t len, uint32_t *cls)
{
    if (!tagged || len != IOSENC_TAGGED_LEN)
        return err_set(CAIRN_ECORRUPT, "wrapped key is %zu bytes, expected %d", len,
                       IOSENC_TAGGED_LEN);
    *cls = get_le32(tagged);
    return CAIRN_OK;
}

/* what names the key in messages; code is what a malformed or damaged key
 * means to the caller. */
static cairn_err unwrap_tagged(const iosenc_keys *keys, const uint8_t *tagged, size_t len,
                               uint8_t key[IOSENC_KEY_LEN], const char *what, cairn_err code)
{
    uint32_t cls = 0;
    if (!tagged || len != IOSENC_TAGGED_LEN)
        return err_set(code, "%s is %zu bytes, expected %d", what, len, IOSENC_TAGGED_LEN);
    cls = get_le32(tagged);
    if (cls < 1 || cls > IOSENC_CLASS_MAX)
        return err_set(code, "%s names protection class %u, out of range 1..%d", what, cls,
                       IOSENC_CLASS_MAX);
    if (!(keys->present >> cls & 1))
        return err_set(CAIRN_ESOURCE,
                       "Manifest.plist: BackupKeyBag has no key for protection class %u (%s)", cls,
                       what);
    if (keys->device >> cls & 1)
        return err_set(CAIRN_ESOURCE,
                       "%s: protection class %u is bound to the device and cannot be "
                       "decrypted elsewhere",
                       what, cls);
    int ok = 0;
    const cairn_err rc = key_wrap(0, keys->key[cls], tagged + 4, key, &ok);
    if (rc != CAIRN_OK)
        return rc;
    if (!ok)
        return err_set(code, "%s fails its integrity check (protection class %u)", what, cls);
    return CAIRN_OK;
}

cairn_err iosenc_unwrap_file_key(const iosenc_keys *keys, const uint8_t *tagged, size_t len,
                                 uint8_t key[IOSENC_KEY_LEN])
{
    return unwrap_tagged(keys, tagged, len, key, "EncryptionKey", CAIRN_ECORRUPT);
}

cairn_err iosenc_unwrap_manifest_key(const iosenc_keys *keys, const uint8_t *tagged, size_t len,
                                     uint8_t key[IOSENC_KEY_LEN])
{
    return unwrap_tagged(keys, tagged, len, key, "Manifest.plist: ManifestKey", CAIRN_ESOURCE);
}

cairn_err iosenc_wrap_file_key(const iosenc_keys *keys, uint32_t cls,
                               const uint8_t key[IOSENC_KEY_LEN], uint8_t out[IOSENC_TAGGED_LEN])
{
    if (!iosenc_keys_has_class(keys, cls))
        return err_set(CAIRN_EINVAL, "no usable key for protection class %u", cls);
    out[0] = (uint8_t)cls;
    out[1] = (uint8_t)(cls >> 8);
    out[2] = (uint8_t)(cls >> 16);
    out[3] = (uint8_t)(cls >> 24);
    int ok = 0;
    return key_wrap(1, keys->key[cls], key, out + 4, &ok);
}

/* ---- writing keybags ---------------------------------------------------- */

/* Keybags are written into a cbuf: a failed append only sets its failed
 * flag, so a whole keybag can be emitted and the outcome checked once at
 * the end. */
static void put(cbuf *b, const char *tag, const void *val, size_t n)
{
    uint8_t be[4];
    put_be32(be, (uint32_t)n);
    cbuf_put(b, tag, 4);
    cbuf_put(b, be, sizeof be);
    cbuf_put(b, val, n);
}

static void put_u32(cbuf *b, const char *tag, uint32_t v)
{
    uint8_t be[4];
    put_be32(be, v);
    put(b, tag, be, sizeof be);
}

/* Wraps key under pk and appends it as tag. */
static cairn_err put_wrapped(cbuf *b, const char *tag, const uint8_t pk[IOSENC_KEY_LEN],
                             const uint8_t key[IOSENC_KEY_LEN])
{
    uint8_t w[IOSENC_WRAPPED_LEN];
    const cairn_err rc = iosenc_key_wrap(pk, key, w);
    if (rc == CAIRN_OK)
        put(b, tag, w, sizeof w);
    return rc;
}

/* Hands the bytes to the caller (b is then empty), or reports the failed
 * append. */
static cairn_err keybag_finish(cbuf *b, uint8_t **out, size_t *out_len)
{
    if (b->failed)
        return err_set(CAIRN_ENOMEM, "cannot allocate keybag");
    *out = b->data;
    *out_len = b->len;
    cbuf_init(b);
    return CAIRN_OK;
}

static void default_random(void *ctx, void *buf, size_t len)
{
    (void)ctx;
    randombytes_buf(buf, len);
}

typedef struct new_salts {
    uint8_t salt[IOSENC_SALT_LEN];
    uint8_t dpsl[IOSENC_SALT_LEN];
} new_salts;

static cairn_err check_params(const iosenc_params *params, size_t password_len)
{
    if (password_len == 0)
        return err_set(CAIRN_EINVAL, "backup password must not be empty");
    if (password_len > PASSWORD_MAX)
        return err_set(CAIRN_EINVAL, "backup password is longer than %d bytes", PASSWORD_MAX);
    if (params->iter < 1 || params->iter > IOSENC_ITER_MAX)
        return err_set(CAIRN_EINVAL, "ITER %u is out of range 1..%u", params->iter,
                       IOSENC_ITER_MAX);
    if (params->dpic > IOSENC_DPIC_MAX)
        return err_set(CAIRN_EINVAL, "DPIC %u is out of range 0..%u", params->dpic,
                       IOSENC_DPIC_MAX);
    return CAIRN_OK;
}

/* Salts from the caller or the random source, then the password key. */
static cairn_err new_password_key(const char *password, size_t password_len,
                                  const iosenc_params *params, iosenc_random_fn rnd, void *rctx,
                                  new_salts *s, uint8_t pk[IOSENC_KEY_LEN])
{
    if (params->salt)
        memcpy(s->salt, params->salt, IOSENC_SALT_LEN);
    else
        rnd(rctx, s->salt, IOSENC_SALT_LEN);
    if (params->dpic) {
        if (params->dpsl)
            memcpy(s->dpsl, params->dpsl, IOSENC_SALT_LEN);
        else
            rnd(rctx, s->dpsl, IOSENC_SALT_LEN);
    }
    return derive(password, password_len, s->salt, IOSENC_SALT_LEN, params->iter,
                  params->dpic ? s->dpsl : NULL, IOSENC_SALT_LEN, params->dpic, pk);
}

cairn_err iosenc_new_keybag(const char *password, size_t password_len, const iosenc_params *params,
                            uint8_t **keybag_out, size_t *keybag_len, iosenc_keys **keys_out)
{
    *keybag_out = NULL;
    *keybag_len = 0;
    *keys_out = NULL;
    cairn_err rc = check_params(params, password_len);
    if (rc != CAIRN_OK)
        return rc;
    iosenc_random_fn const rnd = params->random ? params->random : default_random;
    void *const rctx = params->random_ctx;
    uint8_t *const pk = secure_alloc(IOSENC_KEY_LEN);
    iosenc_keys *keys = secure_alloc(sizeof *keys);
    cbuf b = {0};
    new_salts s;
    if (!pk || !keys) {
        rc = err_set(CAIRN_ENOMEM, "cannot allocate key memory");
        goto fail;
    }
    rnd(rctx, keys->uuid, IOSENC_UUID_LEN);
    /* Real keybags carry a 40-byte HMCK whose use is not public; a random
     * key wrapped under the password key is what unlock and rewrap expect
     * of one that the password opens. */
    rnd(rctx, keys->hmck, IOSENC_KEY_LEN);
    keys->has_hmck = 1;
    if ((rc = new_password_key(password, password_len, params, rnd, rctx, &s, pk)) != CAIRN_OK)
        goto fail;
    put_u32(&b, "VERS", params->dpic ? VERS_DPSL : VERS_OLD);
    put_u32(&b, "TYPE", TYPE_BACKUP);
    put(&b, "UUID", keys->uuid, IOSENC_UUID_LEN);
    if ((rc = put_wrapped(&b, "HMCK", pk, keys->hmck)) != CAIRN_OK)
        goto fail;
    put_u32(&b, "WRAP", IOSENC_WRAP_PASSCODE);
    put(&b, "SALT", s.salt, IOSENC_SALT_LEN);
    put_u32(&b, "ITER", params->iter);
    if (params->dpic) {
        put_u32(&b, "DPWT", DPWT_DEFAULT);
        put_u32(&b, "DPIC", params->dpic);
        put(&b, "DPSL", s.dpsl, IOSENC_SALT_LEN);
    }
    for (size_t i = 0; i < sizeof new_classes / sizeof new_classes[0]; i++) {
        const uint32_t c = new_classes[i];
        uint8_t uuid[IOSENC_UUID_LEN];
        rnd(rctx, keys->key[c], IOSENC_KEY_LEN);
        rnd(rctx, uuid, sizeof uuid);
        keys->present |= 1u << c;
        put(&b, "UUID", uuid, sizeof uuid);
        put_u32(&b, "CLAS", c);
        put_u32(&b, "WRAP", IOSENC_WRAP_PASSCODE);
        put_u32(&b, "KTYP", 0);
        if ((rc = put_wrapped(&b, "WPKY", pk, keys->key[c])) != CAIRN_OK)
            goto fail;
    }
    if ((rc = seal_keys(keys)) != CAIRN_OK ||
        (rc = keybag_finish(&b, keybag_out, keybag_len)) != CAIRN_OK)
        goto fail;
    *keys_out = keys;
    keys = NULL;
fail:
    cbuf_free(&b);
    iosenc_keys_free(keys);
    if (pk)
        sodium_free(pk);
    sodium_memzero(&s, sizeof s);
    return rc;
}

/* Every password-wrapped key of old must be in keys, or the new keybag
 * would lose it. */
static cairn_err keys_match(const keybag *kb, const iosenc_keys *keys)
{
    if (memcmp(kb->uuid, keys->uuid, IOSENC_UUID_LEN) != 0)
        return err_set(CAIRN_EINVAL, "keys belong to another keybag (UUID differs)");
    for (unsigned i = 0; i < kb->nclass; i++) {
        const kb_class *const c = &kb->cls[i];
        if ((c->wrap & IOSENC_WRAP_PASSCODE) && c->wpky && !(keys->present >> c->clas & 1))
            return err_set(CAIRN_EINVAL, "keys lack the key of class %u", c->clas);
    }
    return CAIRN_OK;
}

/* Walks old item by item so that order and unknown tags survive; only the
 * password-dependent values change, and the DPSL stage is added or dropped
 * as params ask. */
static cairn_err rewrite(const uint8_t *old, size_t old_len, const keybag *kb,
                         const iosenc_keys *keys, const iosenc_params *params, const new_salts *s,
                         const uint8_t pk[IOSENC_KEY_LEN], cbuf *b)
{
    int header_uuid = 0;
    int entry = -1;
    size_t off = 0;
    while (off < old_len) {
        kb_item it;
        cairn_err rc = kb_next(old, old_len, &off, &it);
        if (rc != CAIRN_OK)
            return rc;
        switch (it.id) {
        case T_UUID:
            entry += header_uuid;
            header_uuid = 1;
            put(b, it.name, it.val, it.len);
            break;
        case T_VERS:
            put_u32(b, it.name,
                    params->dpic && !kb->dpsl && kb->vers < VERS_DPSL ? VERS_DPSL : kb->vers);
            break;
        case T_SALT:
            put(b, it.name, s->salt, IOSENC_SALT_LEN);
            break;
        case T_ITER:
            put_u32(b, it.name, params->iter);
            if (params->dpic && !kb->dpsl) {
                if (!(kb->seen & BIT(T_DPWT)))
                    put_u32(b, "DPWT", DPWT_DEFAULT);
                put_u32(b, "DPIC", params->dpic);
                put(b, "DPSL", s->dpsl, IOSENC_SALT_LEN);
            }
            break;
        case T_DPIC:
            if (params->dpic)
                put_u32(b, it.name, params->dpic);
            break;
        case T_DPSL:
            if (params->dpic)
                put(b, it.name, s->dpsl, IOSENC_SALT_LEN);
            break;
        case T_DPWT:
            if (params->dpic)
                put(b, it.name, it.val, it.len);
            break;
        case T_HMCK:
            if (keys->has_hmck) {
                if ((rc = put_wrapped(b, it.name, pk, keys->hmck)) != CAIRN_OK)
                    return rc;
            } else {
                put(b, it.name, it.val, it.len);
            }
            break;
        case T_WPKY: {
            const kb_class *const c = &kb->cls[entry];
            if (c->wrap & IOSENC_WRAP_PASSCODE) {
                if ((rc = put_wrapped(b, it.name, pk, keys->key[c->clas])) != CAIRN_OK)
                    return rc;
            } else {
                put(b, it.name, it.val, it.len);
            }
            break;
        }
        default:
            put(b, it.name, it.val, it.len);
            break;
        }
    }
    return CAIRN_OK;
}

cairn_err iosenc_rewrap_keybag(const uint8_t *old, size_t old_len, const iosenc_keys *keys,
                               const char *new_password, size_t new_password_len,
                               const iosenc_params *params, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    keybag kb;
    cairn_err rc = check_params(params, new_password_len);
    if (rc != CAIRN_OK || (rc = kb_parse(old, old_len, &kb)) != CAIRN_OK ||
        (rc = keys_match(&kb, keys)) != CAIRN_OK)
        return rc;
    iosenc_random_fn const rnd = params->random ? params->random : default_random;
    uint8_t *const pk = secure_alloc(IOSENC_KEY_LEN);
    cbuf b = {0};
    new_salts s;
    if (!pk) {
        rc = err_set(CAIRN_ENOMEM, "cannot allocate key memory");
        goto fail;
    }
    if ((rc = new_password_key(new_password, new_password_len, params, rnd, params->random_ctx, &s,
                               pk)) != CAIRN_OK ||
        (rc = rewrite(old, old_len, &kb, keys, params, &s, pk, &b)) != CAIRN_OK)
        goto fail;
    if (b.len > KEYBAG_MAX) {
        /* adding the DPSL stage to a keybag already at the limit */
        rc = err_set(CAIRN_EINVAL, "rewrapped keybag would be %zu bytes, more than %d", b.len,
                     KEYBAG_MAX);
        goto fail;
    }
    rc = keybag_finish(&b, out, out_len);
fail:
    cbuf_free(&b);
    if (pk)
        sodium_free(pk);
    sodium_memzero(&s, sizeof s);
    return rc;
}

/* ---- AES-256-CBC, zero IV ------------------------------------------------ */

struct iosenc_cbc {
    EVP_CIPHER_CTX *ctx;
};

cairn_err iosenc_cbc_new(const uint8_t key[IOSENC_KEY_LEN], iosenc_dir dir, iosenc_cbc **out)
{
    static const uint8_t zero_iv[IOSENC_BLOCK];
    *out = NULL;
    iosenc_cbc *const c = calloc(1, sizeof *c);
    if (!c || !(c->ctx = EVP_CIPHER_CTX_new())) {
        free(c);
        return err_set(CAIRN_ENOMEM, "cannot allocate cipher state");
    }
    /* padding is ours to handle: OpenSSL's would hold back the last block
     * and reject ciphertexts that do not end in valid padding */
    if (EVP_CipherInit_ex(c->ctx, EVP_aes_256_cbc(), NULL, key, zero_iv, dir == IOSENC_ENCRYPT) !=
            1 ||
        EVP_CIPHER_CTX_set_padding(c->ctx, 0) != 1) {
        iosenc_cbc_free(c);
        return ossl_fail("AES-256-CBC setup");
    }
    *out = c;
    return CAIRN_OK;
}

cairn_err iosenc_cbc_update(iosenc_cbc *c, const uint8_t *in, size_t len, uint8_t *out)
{
    if (len % IOSENC_BLOCK)
        return err_set(CAIRN_EINVAL, "CBC input of %zu bytes is not whole blocks", len);
    while (len) {
        const int n = len > CHUNK ? CHUNK : (int)len;
        int got = 0;
        if (EVP_CipherUpdate(c->ctx, out, &got, in, n) != 1 || got != n)
            return ossl_fail("AES-256-CBC");
        in += n;
        out += n;
        len -= (size_t)n;
    }
    return CAIRN_OK;
}

void iosenc_cbc_free(iosenc_cbc *c)
{
    if (c) {
        EVP_CIPHER_CTX_free(c->ctx); /* cleanses the key schedule */
        free(c);
    }
}

struct iosenc_dec {
    iosenc_cbc *cbc;
    uint8_t carry[IOSENC_BLOCK]; /* input short of a whole block */
    size_t ncarry;
    uint8_t held[IOSENC_BLOCK]; /* the last block decrypted so far */
    int has_held;
};

cairn_err iosenc_dec_new(const uint8_t key[IOSENC_KEY_LEN], iosenc_dec **out)
{
    iosenc_dec *const d = calloc(1, sizeof *d);
    *out = NULL;
    if (!d)
        return err_set(CAIRN_ENOMEM, "out of memory");
    const cairn_err rc = iosenc_cbc_new(key, IOSENC_DECRYPT, &d->cbc);
    if (rc) {
        free(d);
        return rc;
    }
    *out = d;
    return CAIRN_OK;
}

/* Emits the held block, then holds block (decrypted in place). */
static cairn_err dec_block(iosenc_dec *d, uint8_t *block, uint8_t *out, size_t *pos)
{
    const cairn_err rc = iosenc_cbc_update(d->cbc, block, IOSENC_BLOCK, block);
    if (rc)
        return rc;
    if (d->has_held) {
        memcpy(out + *pos, d->held, IOSENC_BLOCK);
        *pos += IOSENC_BLOCK;
    }
    memcpy(d->held, block, IOSENC_BLOCK);
    d->has_held = 1;
    return CAIRN_OK;
}

cairn_err iosenc_dec_update(iosenc_dec *d, const uint8_t *in, size_t len, uint8_t *out,
                            size_t *out_len)
{
    size_t pos = 0;
    cairn_err rc = CAIRN_OK;
    *out_len = 0;
    if (d->ncarry) {
        const size_t take = len < IOSENC_BLOCK - d->ncarry ? len : IOSENC_BLOCK - d->ncarry;
        memcpy(d->carry + d->ncarry, in, take);
        d->ncarry += take;
        in += take;
        len -= take;
        if (d->ncarry < IOSENC_BLOCK)
            return CAIRN_OK;
        d->ncarry = 0;
        if ((rc = dec_block(d, d->carry, out, &pos)) != CAIRN_OK)
            return rc;
    }
    const size_t whole = len & ~(size_t)(IOSENC_BLOCK - 1);
    if (whole) {
        /* the held block goes out first, the new last block is held */
        if (d->has_held) {
            memcpy(out + pos, d->held, IOSENC_BLOCK);
            pos += IOSENC_BLOCK;
        }
        if ((rc = iosenc_cbc_update(d->cbc, in, whole, out + pos)) != CAIRN_OK)
            return rc;
        memcpy(d->held, out + pos + whole - IOSENC_BLOCK, IOSENC_BLOCK);
        d->has_held = 1;
        pos += whole - IOSENC_BLOCK;
    }
    memcpy(d->carry, in + whole, len - whole);
    d->ncarry = len - whole;
    *out_len = pos;
    return CAIRN_OK;
}

cairn_err iosenc_dec_final(iosenc_dec *d, uint8_t *out, size_t *out_len, int *padded)
{
    *out_len = 0;
    *padded = 0;
    if (d->ncarry)
        return err_set(CAIRN_ECORRUPT, "ciphertext is not whole AES blocks");
    if (!d->has_held)
        return CAIRN_OK;
    const size_t pad = iosenc_pkcs7_len(d->held, IOSENC_BLOCK);
    memcpy(out, d->held, IOSENC_BLOCK - pad);
    *out_len = IOSENC_BLOCK - pad;
    *padded = pad > 0;
    d->has_held = 0;
    return CAIRN_OK;
}

void iosenc_dec_free(iosenc_dec *d)
{
    if (!d)
        return;
    iosenc_cbc_free(d->cbc);
    sodium_memzero(d, sizeof *d);
    free(d);
}

struct iosenc_enc {
    iosenc_cbc *cbc;
    int padded;
    uint8_t carry[IOSENC_BLOCK]; /* plaintext short of a whole block */
    size_t ncarry;
};

cairn_err iosenc_enc_new(const uint8_t key[IOSENC_KEY_LEN], int padded, iosenc_enc **out)
{
    iosenc_enc *const e = calloc(1, sizeof *e);
    *out = NULL;
    if (!e)
        return err_set(CAIRN_ENOMEM, "out of memory");
    const cairn_err rc = iosenc_cbc_new(key, IOSENC_ENCRYPT, &e->cbc);
    if (rc) {
        free(e);
        return rc;
    }
    e->padded = padded;
    *out = e;
    return CAIRN_OK;
}

cairn_err iosenc_enc_update(iosenc_enc *e, const uint8_t *in, size_t len, uint8_t *out,
                            size_t *out_len)
{
    size_t pos = 0;
    cairn_err rc;
    *out_len = 0;
    if (e->ncarry) {
        const size_t take = len < IOSENC_BLOCK - e->ncarry ? len : IOSENC_BLOCK - e->ncarry;
        memcpy(e->carry + e->ncarry, in, take);
        e->ncarry += take;
        in += take;
        len -= take;
        if (e->ncarry < IOSENC_BLOCK)
            return CAIRN_OK;
        e->ncarry = 0;
        if ((rc = iosenc_cbc_update(e->cbc, e->carry, IOSENC_BLOCK, out)) != CAIRN_OK)
            return rc;
        pos = IOSENC_BLOCK;
    }
    const size_t whole = len & ~(size_t)(IOSENC_BLOCK - 1);
    if (whole && (rc = iosenc_cbc_update(e->cbc, in, whole, out + pos)) != CAIRN_OK)
        return rc;
    memcpy(e->carry, in + whole, len - whole);
    e->ncarry = len - whole;
    *out_len = pos + whole;
    return CAIRN_OK;
}

cairn_err iosenc_enc_final(iosenc_enc *e, uint8_t *out, size_t *out_len)
{
    *out_len = 0;
    if (!e->padded)
        return e->ncarry ? err_set(CAIRN_ECORRUPT, "plaintext is not whole AES blocks") : CAIRN_OK;
    const uint8_t pad = (uint8_t)(IOSENC_BLOCK - e->ncarry);
    memset(e->carry + e->ncarry, pad, pad);
    e->ncarry = 0;
    const cairn_err rc = iosenc_cbc_update(e->cbc, e->carry, IOSENC_BLOCK, out);
    if (!rc)
        *out_len = IOSENC_BLOCK;
    return rc;
}

cairn_err iosenc_enc_for_file(const iosenc_keys *keys, const uint8_t *tagged, size_t len,
                              int padded, iosenc_enc **out)
{
    uint8_t *const key = iosenc_key_alloc();
    *out = NULL;
    if (!key)
        return err_set(CAIRN_ENOMEM, "out of memory for a key");
    cairn_err rc = iosenc_unwrap_file_key(keys, tagged, len, key);
    if (!rc)
        rc = iosenc_enc_new(key, padded, out);
    iosenc_key_free(key);
    return rc;
}

void iosenc_enc_free(iosenc_enc *e)
{
    if (!e)
        return;
    iosenc_cbc_free(e->cbc);
    sodium_memzero(e, sizeof *e);
    free(e);
}

size_t iosenc_pkcs7_len(const uint8_t *plain, size_t len)
{
    if (len < IOSENC_BLOCK || len % IOSENC_BLOCK)
        return 0;
    const uint8_t n = plain[len - 1];
    if (n < 1 || n > IOSENC_BLOCK)
        return 0;
    for (size_t i = 1; i <= n; i++) {
        if (plain[len - i] != n)
            return 0;
    }
    return n;
}

size_t iosenc_encrypted_len(size_t len, int padded)
{
    if (!padded)
        return len;
    const size_t whole = len / IOSENC_BLOCK * IOSENC_BLOCK;
    return whole > SIZE_MAX - IOSENC_BLOCK ? SIZE_MAX : whole + IOSENC_BLOCK;
}

cairn_err iosenc_decrypt(const uint8_t key[IOSENC_KEY_LEN], const uint8_t *in, size_t len,
                         uint8_t *out, size_t *out_len, int *padded)
{
    *out_len = 0;
    *padded = 0;
    if (len % IOSENC_BLOCK)
        return err_set(CAIRN_ECORRUPT, "ciphertext of %zu bytes is not a multiple of %d", len,
                       IOSENC_BLOCK);
    iosenc_cbc *c = NULL;
    cairn_err rc = iosenc_cbc_new(key, IOSENC_DECRYPT, &c);
    if (rc == CAIRN_OK)
        rc = iosenc_cbc_update(c, in, len, out);
    iosenc_cbc_free(c);
    if (rc != CAIRN_OK)
        return rc;
    /* Re-padding a validly padded tail gives back exactly these bytes, so
     * stripping when valid never breaks the round trip. */
    const size_t pad = iosenc_pkcs7_len(out, len);
    *out_len = len - pad;
    *padded = pad != 0;
    return CAIRN_OK;
}

cairn_err iosenc_encrypt(const uint8_t key[IOSENC_KEY_LEN], const uint8_t *in, size_t len,
                         int padded, uint8_t *out, size_t *out_len)
{
    *out_len = 0;
    if (!padded && len % IOSENC_BLOCK)
        return err_set(CAIRN_EINVAL, "unpadded plaintext of %zu bytes is not whole blocks", len);
    const size_t total = iosenc_encrypted_len(len, padded);
    if (total == SIZE_MAX)
        return err_set(CAIRN_EINVAL, "plaintext of %zu bytes is too large", len);
    const size_t whole = len / IOSENC_BLOCK * IOSENC_BLOCK;
    iosenc_cbc *c = NULL;
    cairn_err rc = iosenc_cbc_new(key, IOSENC_ENCRYPT, &c);
    if (rc == CAIRN_OK)
        rc = iosenc_cbc_update(c, in, whole, out);
    if (rc == CAIRN_OK && padded) {
        uint8_t last[IOSENC_BLOCK];
        const size_t tail = len - whole;
        if (tail)
            memcpy(last, in + whole, tail);
        memset(last + tail, (int)(IOSENC_BLOCK - tail), IOSENC_BLOCK - tail);
        rc = iosenc_cbc_update(c, last, IOSENC_BLOCK, out + whole);
    }
    iosenc_cbc_free(c);
    if (rc == CAIRN_OK)
        *out_len = total;
    return rc;
}
