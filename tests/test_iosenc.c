/* test_iosenc.c - encrypted iOS backups: keybag parsing, known-answer
 * vectors for the password derivation and key wrap, unlock, file keys, the
 * exact reversibility of the CBC layer, and password changes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ios/backup_encryption.h"

/* Cheap KDF costs: these tests are about structure, not about cost. */
enum { T_ITER = 10, T_DPIC = 10 };

static const char PW[] = "correct horse battery staple";
static const char PW2[] = "Tr0ub4dor&3";

/* ---- helpers ------------------------------------------------------------ */

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    const size_t n = strlen(hex) / 2;
    assert_true(n <= cap);
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    return n;
}

/* A keybag built item by item, so tests can make any shape. */
typedef struct tlv {
    uint8_t b[8192];
    size_t len;
} tlv;

static void add(tlv *t, const char *tag, const void *val, size_t n)
{
    assert_true(t->len + 8 + n <= sizeof t->b);
    memcpy(t->b + t->len, tag, 4);
    t->b[t->len + 4] = (uint8_t)(n >> 24);
    t->b[t->len + 5] = (uint8_t)(n >> 16);
    t->b[t->len + 6] = (uint8_t)(n >> 8);
    t->b[t->len + 7] = (uint8_t)n;
    if (n)
        memcpy(t->b + t->len + 8, val, n);
    t->len += 8 + n;
}

static void add_u32(tlv *t, const char *tag, uint32_t v)
{
    const uint8_t be[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    add(t, tag, be, 4);
}

static void add_hex(tlv *t, const char *tag, const char *hex)
{
    uint8_t buf[256];
    add(t, tag, buf, unhex(hex, buf, sizeof buf));
}

static const uint8_t zero16[16];

/* Header of a hand-made keybag; dpsl NULL gives a VERS 3 one. */
static void header(tlv *t, const char *salt_hex, uint32_t iter, const char *dpsl_hex, uint32_t dpic)
{
    t->len = 0;
    add_u32(t, "VERS", dpsl_hex ? 4 : 3);
    add_u32(t, "TYPE", 1);
    add(t, "UUID", zero16, 16);
    add_u32(t, "WRAP", 2);
    add_hex(t, "SALT", salt_hex);
    add_u32(t, "ITER", iter);
    if (dpsl_hex) {
        add_u32(t, "DPWT", 1);
        add_u32(t, "DPIC", dpic);
        add_hex(t, "DPSL", dpsl_hex);
    }
}

static void class_entry(tlv *t, uint32_t cls, uint32_t wrap, const uint8_t *wpky)
{
    uint8_t uuid[16];
    memset(uuid, (int)cls, sizeof uuid);
    add(t, "UUID", uuid, 16);
    add_u32(t, "CLAS", cls);
    add_u32(t, "WRAP", wrap);
    add_u32(t, "KTYP", 0);
    add(t, "WPKY", wpky, 40);
}

/* A deterministic random source for keybags that must come out equal. */
static void counter_random(void *ctx, void *buf, size_t len)
{
    uint64_t *const n = ctx;
    uint8_t *const p = buf;
    for (size_t i = 0; i < len; i++) {
        p[i] = (uint8_t)(*n * 131 + i * 7 + 1);
        (*n)++;
    }
}

static iosenc_params cheap(void)
{
    const iosenc_params p = {.iter = T_ITER, .dpic = T_DPIC};
    return p;
}

typedef struct made {
    uint8_t *kb;
    size_t len;
    iosenc_keys *keys;
} made;

static made make(const char *pw, const iosenc_params *p)
{
    made m = {0};
    assert_int_equal(iosenc_new_keybag(pw, strlen(pw), p, &m.kb, &m.len, &m.keys), CAIRN_OK);
    assert_non_null(m.kb);
    assert_non_null(m.keys);
    return m;
}

static void unmake(made *m)
{
    free(m->kb);
    iosenc_keys_free(m->keys);
}

static cairn_err inspect(const uint8_t *kb, size_t len)
{
    iosenc_info info;
    return iosenc_keybag_inspect(kb, len, &info);
}

static cairn_err unlock_rc(const uint8_t *kb, size_t len, const char *pw)
{
    iosenc_keys *k = NULL;
    const cairn_err rc = iosenc_unlock(kb, len, pw, strlen(pw), &k);
    assert_true(rc == CAIRN_OK ? k != NULL : k == NULL);
    iosenc_keys_free(k);
    return rc;
}

/* ---- known answers ------------------------------------------------------- */

/* Password, WPKY, ITER, SALT, DPIC, DPSL (NULL: no DPSL stage) of public
 * cracker self-test hashes "$itunes_backup$*VERSION*WPKY*ITER*SALT*DPIC*DPSL":
 * - hashcat src/modules/module_14700.c and module_14800.c (ST_HASH, ST_PASS);
 * - John the Ripper src/itunes_fmt_plug.c (itunes_tests[]): two from real
 *   iTunes 9 backups, two made with hashcat's test.pl at a low DPIC.
 * Each is one class key wrapped under the derived key, so a keybag holding
 * it must open with the password and with nothing else. */
typedef struct kat {
    const char *password;
    const char *wpky;
    uint32_t iter;
    const char *salt;
    uint32_t dpic;
    const char *dpsl;
} kat;

static const kat kats[] = {
    {"hashcat", "ebd7f9b33293b2511f0a4139d5b213feff51476968863cef60ec38d720497b6ff39a0bb63fa9f84e",
     10000, "2202015774208421818002001652122401871832", 0, NULL},
    {"hashcat", "17a3b858e79bc273be43a9f113b71efe7ec8e7e401396b350180b4592ef45db67ffef7b2d64329a5",
     10000, "2721336781705041205314422175267631184867", 1000,
     "99fafc983e732998adb9fadc162a2e382143f115"},
    {"123456", "bc707ac0151660426c8114d04caad9d9ee2678a7b7ab05c18ee50cafb2613c31c8978e8b1e9cad2a",
     10000, "266343aaf99102ba7f6af64a3a2d62637793f753", 0, NULL},
    {"test123", "06dc04bca4eeea2fbc1bc7356fa758243bead479673640a668db285c8f48c402cc435539d935509e",
     10000, "37d2bd7caefbb24a9729e41a3257ef06188dc01e", 0, NULL},
    {"855632538858211",
     "31021f9c5a705c3625af21739d397082d90f7a00718a9307687625abc35fc3e4d78371e95cc708b6", 10000,
     "8840233131165307147445064802216857558435", 1000, "c77a159b325d10efee51a1c05701ef63fb85b599"},
    {"1", "b3d3f05b5367345fcb654b9b628e2ed24d8b8726f1f74707a956c776475d6ebfffc962340d9cbbca", 10000,
     "6832814730342072666684158073107301064276", 1000, "46de5e844e0ee1c81d2cca6acefb77789c1a7cd0"},
};

/* A real iOS 10+ backup (John's itunes_tests[], commented out there for its
 * cost): DPIC 10,000,000 takes a few seconds, so only with CAIRN_SLOW_TESTS. */
static const kat kat_real_ios10 = {
    "test123", "deff6d646eb1fa2b6741efee8b70eda84341a838cef2bb10e582669759d7e33c399a0ba2a52cb9ec",
    10000,     "f09cfa82cc1695657cb2c347ee127c2523795fda",
    10000000,  "66f159e15f3ddbbdd4057f8babef7ad4472fac10"};

static void kat_keybag(const kat *k, tlv *t)
{
    uint8_t wpky[40];
    assert_int_equal(unhex(k->wpky, wpky, sizeof wpky), 40);
    header(t, k->salt, k->iter, k->dpsl, k->dpic);
    class_entry(t, 1, IOSENC_WRAP_PASSCODE, wpky);
}

static void check_kat(const kat *k)
{
    tlv t;
    kat_keybag(k, &t);
    iosenc_info info;
    assert_int_equal(iosenc_keybag_inspect(t.b, t.len, &info), CAIRN_OK);
    assert_int_equal(info.dpic, k->dpsl ? k->dpic : 0);
    assert_int_equal(info.passcode_wrapped, 1u << 1);
    iosenc_keys *keys = NULL;
    assert_int_equal(iosenc_unlock(t.b, t.len, k->password, strlen(k->password), &keys), CAIRN_OK);
    assert_true(iosenc_keys_has_class(keys, 1));
    assert_false(iosenc_keys_has_class(keys, 2));
    iosenc_keys_free(keys);
    /* one changed character, one more, one less */
    char wrong[64];
    snprintf(wrong, sizeof wrong, "%s", k->password);
    wrong[0] ^= 1;
    assert_int_equal(unlock_rc(t.b, t.len, wrong), CAIRN_EPASSWORD);
    snprintf(wrong, sizeof wrong, "%sx", k->password);
    assert_int_equal(unlock_rc(t.b, t.len, wrong), CAIRN_EPASSWORD);
    assert_string_equal(err_msg(), "backup password is wrong: the keybag does not unlock");
    snprintf(wrong, sizeof wrong, "%.*s", (int)strlen(k->password) - 1, k->password);
    assert_int_equal(unlock_rc(t.b, t.len, wrong), CAIRN_EPASSWORD);
}

static void test_kat_crackers(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof kats / sizeof kats[0]; i++)
        check_kat(&kats[i]);
}

static void test_kat_real_ios10(void **state)
{
    (void)state;
    const char *const slow = getenv("CAIRN_SLOW_TESTS");
    if (!slow || !*slow || strcmp(slow, "0") == 0) {
        skip();
        return;
    }
    tlv t;
    kat_keybag(&kat_real_ios10, &t);
    assert_int_equal(unlock_rc(t.b, t.len, "test123"), CAIRN_OK);
    assert_int_equal(unlock_rc(t.b, t.len, "test124"), CAIRN_EPASSWORD);
}

/* RFC 3394 section 4.6: 256 bits of key data with a 256-bit KEK. */
static void test_kat_rfc3394(void **state)
{
    (void)state;
    uint8_t kek[32], key[32], want[40], got[40];
    unhex("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", kek, 32);
    unhex("00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F", key, 32);
    unhex("28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21", want,
          40);
    assert_int_equal(iosenc_key_wrap(kek, key, got), CAIRN_OK);
    assert_memory_equal(got, want, 40);
    uint8_t *const back = iosenc_key_alloc();
    assert_non_null(back);
    assert_int_equal(iosenc_key_unwrap(kek, want, back), CAIRN_OK);
    assert_memory_equal(back, key, 32);
    want[17] ^= 0x40;
    assert_int_equal(iosenc_key_unwrap(kek, want, back), CAIRN_ECORRUPT);
    iosenc_key_free(back);
}

/* NIST SP 800-38A F.2.5 (CBC-AES256.Encrypt).  Our IV is zero, so the
 * vector's IV goes into the first plaintext block instead: CBC then gives
 * the same ciphertext. */
static void test_kat_cbc(void **state)
{
    (void)state;
    uint8_t key[32], plain[64], want[64], out[80], back[80];
    unhex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4", key, 32);
    unhex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
          "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710",
          plain, 64);
    unhex("f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d"
          "39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b",
          want, 64);
    for (int i = 0; i < 16; i++)
        plain[i] ^= (uint8_t)i; /* the vector's IV: 00 01 02 ... 0f */
    size_t n = 0;
    int padded = -1;
    assert_int_equal(iosenc_encrypt(key, plain, 64, 0, out, &n), CAIRN_OK);
    assert_int_equal(n, 64);
    assert_memory_equal(out, want, 64);
    assert_int_equal(iosenc_decrypt(key, want, 64, back, &n, &padded), CAIRN_OK);
    assert_int_equal(n, 64);
    assert_int_equal(padded, 0);
    assert_memory_equal(back, plain, 64);
}

/* ---- keybag parsing ------------------------------------------------------ */

static void test_inspect_new_keybag(void **state)
{
    (void)state;
    const iosenc_params p = cheap();
    made m = make(PW, &p);
    iosenc_info info;
    assert_int_equal(iosenc_keybag_inspect(m.kb, m.len, &info), CAIRN_OK);
    assert_int_equal(info.version, 4);
    assert_int_equal(info.type, 1);
    assert_int_equal(info.iter, T_ITER);
    assert_int_equal(info.dpic, T_DPIC);
    assert_int_equal(info.salt_len, IOSENC_SALT_LEN);
    assert_int_equal(info.dpsl_len, IOSENC_SALT_LEN);
    assert_int_equal(info.nclasses, 10);
    assert_int_equal(info.classes, 0x0fde); /* 1-4, 6-11 */
    assert_int_equal(info.passcode_wrapped, 0x0fde);
    assert_int_equal(info.device_wrapped, 0);
    assert_memory_equal(info.uuid, iosenc_keys_uuid(m.keys), IOSENC_UUID_LEN);
    unmake(&m);
}

/* Offsets where an item ends, found without the parser under test. */
static size_t item_ends(const uint8_t *b, size_t len, size_t *ends, size_t cap)
{
    size_t n = 0;
    for (size_t off = 0; off < len;) {
        const uint32_t l = (uint32_t)b[off + 4] << 24 | (uint32_t)b[off + 5] << 16 |
                           (uint32_t)b[off + 6] << 8 | b[off + 7];
        off += 8 + l;
        assert_true(n < cap);
        ends[n++] = off;
    }
    return n;
}

/* Cut anywhere, a keybag is rejected, except right after the WRAP, KTYP or
 * WPKY of a class entry: that is a keybag with fewer classes, or whose last
 * class carries no key (the public readers skip such entries too). */
static void test_truncated_everywhere(void **state)
{
    (void)state;
    const iosenc_params p = cheap();
    made m = make(PW, &p);
    size_t ends[256];
    const size_t nends = item_ends(m.kb, m.len, ends, 256);
    size_t first_class = 0; /* where the second UUID starts */
    for (size_t i = 1, uuids = 0; i < nends && !first_class; i++)
        if (memcmp(m.kb + ends[i - 1], "UUID", 4) == 0 && ++uuids == 2)
            first_class = ends[i - 1];
    assert_true(first_class > 0);
    unsigned accepted = 0;
    for (size_t cut = 0; cut < m.len; cut++) {
        const cairn_err rc = inspect(m.kb, cut);
        if (rc == CAIRN_OK) {
            int boundary = 0;
            for (size_t i = 1; i < nends; i++) {
                const uint8_t *const item = m.kb + ends[i - 1];
                boundary |= ends[i] == cut && ends[i - 1] > first_class &&
                            (memcmp(item, "WRAP", 4) == 0 || memcmp(item, "KTYP", 4) == 0 ||
                             memcmp(item, "WPKY", 4) == 0);
            }
            if (!boundary)
                fail_msg("a keybag cut at %zu of %zu parses", cut, m.len);
            accepted++;
            continue;
        }
        assert_int_equal(rc, CAIRN_ESOURCE);
        assert_non_null(strstr(err_msg(), "Manifest.plist: BackupKeyBag: "));
    }
    assert_int_equal(accepted, 9 * 3 + 2); /* 10 classes, the whole keybag not counted */
    /* the copy the truncated view came from must not be needed */
    uint8_t *const exact = malloc(m.len - 1);
    assert_non_null(exact);
    memcpy(exact, m.kb, m.len - 1);
    assert_int_equal(inspect(exact, m.len - 1), CAIRN_ESOURCE);
    assert_non_null(strstr(err_msg(), "WPKY"));
    free(exact);
    unmake(&m);
}

static void expect_bad(const tlv *t, const char *needle)
{
    assert_int_equal(inspect(t->b, t->len), CAIRN_ESOURCE);
    if (!strstr(err_msg(), needle))
        fail_msg("message '%s' lacks '%s'", err_msg(), needle);
    assert_int_equal(unlock_rc(t->b, t->len, PW), CAIRN_ESOURCE);
}

static const uint8_t wpky0[40];

static void good_keybag(tlv *t)
{
    header(t, "0102030405060708090a0b0c0d0e0f1011121314", 5,
           "1102030405060708090a0b0c0d0e0f1011121314", 5);
    class_entry(t, 1, 2, wpky0);
    class_entry(t, 3, 2, wpky0);
}

static void test_good_handmade(void **state)
{
    (void)state;
    tlv t;
    good_keybag(&t);
    iosenc_info info;
    assert_int_equal(iosenc_keybag_inspect(t.b, t.len, &info), CAIRN_OK);
    assert_int_equal(info.nclasses, 2);
    assert_int_equal(info.classes, (1u << 1) | (1u << 3));
    /* a signature or any other unknown, well-formed tag is skipped */
    add(&t, "SIGN", zero16, 16);
    assert_int_equal(inspect(t.b, t.len), CAIRN_OK);
    add(&t, "ZZZ9", NULL, 0);
    assert_int_equal(inspect(t.b, t.len), CAIRN_OK);
    /* these WPKYs are zeros: no password opens them */
    assert_int_equal(unlock_rc(t.b, t.len, PW), CAIRN_EPASSWORD);
}

static void test_bad_lengths(void **state)
{
    (void)state;
    tlv t;
    /* a length that runs past the end */
    good_keybag(&t);
    t.b[t.len - 40 - 1] = 41;
    expect_bad(&t, "claims 41 bytes");
    good_keybag(&t);
    t.b[4 + 0] = 0x80; /* VERS length 0x80000004 */
    expect_bad(&t, "claims");
    /* known tags with the wrong size */
    static const struct {
        const char *tag;
        size_t len;
        const char *needle;
    } wrong[] = {
        {"VERS", 3, "VERS at byte 0 has 3 bytes"},
        {"UUID", 15, "UUID"},
        {"SALT", 7, "SALT"},
        {"SALT", 65, "SALT"},
        {"ITER", 8, "ITER"},
        {"WPKY", 39, "WPKY"},
        {"WPKY", 48, "WPKY"},
        {"CLAS", 2, "CLAS"},
    };
    uint8_t blob[80] = {0};
    blob[3] = 1;
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        good_keybag(&t);
        if (strcmp(wrong[i].tag, "VERS") == 0) {
            /* the same keybag starting with a bad VERS */
            tlv u = {.len = 0};
            add(&u, "VERS", blob, wrong[i].len);
            memcpy(u.b + u.len, t.b + 12, t.len - 12);
            u.len += t.len - 12;
            expect_bad(&u, wrong[i].needle);
            continue;
        }
        if (strcmp(wrong[i].tag, "WPKY") == 0 || strcmp(wrong[i].tag, "CLAS") == 0) {
            add(&t, "UUID", blob, 16);
            add_u32(&t, "WRAP", 2);
        }
        add(&t, wrong[i].tag, blob, wrong[i].len);
        expect_bad(&t, wrong[i].needle);
    }
    /* a header cut inside the 8 bytes of tag and length */
    good_keybag(&t);
    t.len += 5;
    memcpy(t.b + t.len - 5, "SIGN\0", 5);
    expect_bad(&t, "truncated at byte");
    /* garbage tags */
    good_keybag(&t);
    add(&t, "sign", NULL, 0);
    expect_bad(&t, "unreadable tag 7369676e");
    /* empty, too big */
    assert_int_equal(inspect(t.b, 0), CAIRN_ESOURCE);
    uint8_t *const big = calloc(1, 70000);
    assert_non_null(big);
    assert_int_equal(inspect(big, 70000), CAIRN_ESOURCE);
    free(big);
}

static void test_duplicates(void **state)
{
    (void)state;
    tlv t;
    good_keybag(&t);
    add_hex(&t, "SALT", "0102030405060708090a");
    expect_bad(&t, "has SALT twice");

    good_keybag(&t);
    class_entry(&t, 3, 2, wpky0);
    expect_bad(&t, "class 3 appears twice");

    good_keybag(&t);
    add_u32(&t, "CLAS", 4);
    expect_bad(&t, "has CLAS twice");

    tlv u = {.len = 0};
    add_u32(&u, "VERS", 4);
    add_u32(&u, "WRAP", 2);
    add_u32(&u, "WRAP", 2);
    expect_bad(&u, "WRAP twice");
}

static void test_missing_and_misplaced(void **state)
{
    (void)state;
    static const char *const required[] = {"VERS", "TYPE", "SALT", "ITER"};
    for (size_t r = 0; r < sizeof required / sizeof required[0]; r++) {
        /* the same keybag without one required header tag */
        tlv t, u = {.len = 0};
        good_keybag(&t);
        for (size_t off = 0; off < t.len;) {
            const uint32_t l = (uint32_t)t.b[off + 6] << 8 | t.b[off + 7];
            if (memcmp(t.b + off, required[r], 4) != 0) {
                memcpy(u.b + u.len, t.b + off, 8 + l);
                u.len += 8 + l;
            }
            off += 8 + l;
        }
        char needle[16];
        snprintf(needle, sizeof needle, "no %s", required[r]);
        expect_bad(&u, needle);
    }
    tlv t;
    /* DPIC without DPSL */
    t.len = 0;
    add_u32(&t, "VERS", 4);
    add_u32(&t, "TYPE", 1);
    add(&t, "UUID", zero16, 16);
    add_hex(&t, "SALT", "0102030405060708090a0b0c0d0e0f1011121314");
    add_u32(&t, "ITER", 5);
    add_u32(&t, "DPIC", 5);
    class_entry(&t, 1, 2, wpky0);
    expect_bad(&t, "DPIC without DPSL");
    /* no class keys at all */
    header(&t, "0102030405060708090a0b0c0d0e0f1011121314", 5, NULL, 0);
    expect_bad(&t, "holds no class keys");
    /* a class entry without CLAS, or without WRAP */
    header(&t, "0102030405060708090a0b0c0d0e0f1011121314", 5, NULL, 0);
    add(&t, "UUID", zero16, 16);
    add_u32(&t, "WRAP", 2);
    add(&t, "WPKY", wpky0, 40);
    expect_bad(&t, "has no CLAS");
    header(&t, "0102030405060708090a0b0c0d0e0f1011121314", 5, NULL, 0);
    add(&t, "UUID", zero16, 16);
    add_u32(&t, "CLAS", 2);
    add(&t, "WPKY", wpky0, 40);
    expect_bad(&t, "class 2 has no WRAP");
    /* a class field before any class entry */
    header(&t, "0102030405060708090a0b0c0d0e0f1011121314", 5, NULL, 0);
    add(&t, "WPKY", wpky0, 40);
    expect_bad(&t, "comes before any class key");
    /* out of range values */
    header(&t, "0102030405060708090a0b0c0d0e0f1011121314", 5, NULL, 0);
    class_entry(&t, 32, 2, wpky0);
    expect_bad(&t, "class number 32");
    header(&t, "0102030405060708090a0b0c0d0e0f1011121314", 5, NULL, 0);
    class_entry(&t, 0, 2, wpky0);
    expect_bad(&t, "class number 0");
    header(&t, "0102030405060708090a0b0c0d0e0f1011121314", 5, NULL, 0);
    class_entry(&t, 1, 4, wpky0);
    expect_bad(&t, "unknown WRAP 4");
    header(&t, "0102030405060708090a0b0c0d0e0f1011121314", 0, NULL, 0);
    class_entry(&t, 1, 2, wpky0);
    expect_bad(&t, "ITER 0");
    /* a hostile DPIC is refused before any KDF runs */
    header(&t, "0102030405060708090a0b0c0d0e0f1011121314", 5,
           "0102030405060708090a0b0c0d0e0f1011121314", IOSENC_DPIC_MAX + 1);
    class_entry(&t, 1, 2, wpky0);
    expect_bad(&t, "DPIC 100000001");
    header(&t, "0102030405060708090a0b0c0d0e0f1011121314", IOSENC_ITER_MAX + 1, NULL, 0);
    class_entry(&t, 1, 2, wpky0);
    expect_bad(&t, "ITER 10000001");
    /* type must be a known one */
    good_keybag(&t);
    t.b[8 + 4 + 8 + 3] = 7; /* TYPE value */
    expect_bad(&t, "unknown TYPE 7");
    /* 32 class entries */
    header(&t, "0102030405060708090a0b0c0d0e0f1011121314", 5, NULL, 0);
    for (uint32_t c = 1; c <= 31; c++)
        class_entry(&t, c, 2, wpky0);
    assert_int_equal(inspect(t.b, t.len), CAIRN_OK);
    class_entry(&t, 1, 2, wpky0);
    expect_bad(&t, "more than 31 class keys");
}

/* ---- unlock --------------------------------------------------------------- */

static void test_unlock(void **state)
{
    (void)state;
    const iosenc_params p = cheap();
    made m = make(PW, &p);
    iosenc_keys *keys = NULL;
    assert_int_equal(iosenc_unlock(m.kb, m.len, PW, strlen(PW), &keys), CAIRN_OK);
    for (uint32_t c = 0; c <= 32; c++)
        assert_int_equal(iosenc_keys_has_class(keys, c), c >= 1 && c <= 11 && c != 5);
    assert_memory_equal(iosenc_keys_uuid(keys), iosenc_keys_uuid(m.keys), IOSENC_UUID_LEN);
    /* the unlocked keys are the ones the keybag was made with */
    uint8_t fk[32], tagged[44];
    randombytes_buf(fk, sizeof fk);
    assert_int_equal(iosenc_wrap_file_key(m.keys, 3, fk, tagged), CAIRN_OK);
    uint8_t *const back = iosenc_key_alloc();
    assert_int_equal(iosenc_unwrap_file_key(keys, tagged, sizeof tagged, back), CAIRN_OK);
    assert_memory_equal(back, fk, 32);
    iosenc_key_free(back);
    iosenc_keys_free(keys);

    assert_int_equal(unlock_rc(m.kb, m.len, PW2), CAIRN_EPASSWORD);
    assert_int_equal(unlock_rc(m.kb, m.len, ""), CAIRN_EPASSWORD);
    /* one damaged class key while the others open: damage, not the password */
    uint8_t *const copy = malloc(m.len);
    memcpy(copy, m.kb, m.len);
    copy[m.len - 7] ^= 1; /* inside the last WPKY (class 11) */
    assert_int_equal(unlock_rc(copy, m.len, PW), CAIRN_ESOURCE);
    assert_non_null(strstr(err_msg(), "class 11 key does not unwrap"));
    free(copy);
    unmake(&m);
}

static void test_old_style_keybag(void **state)
{
    (void)state;
    iosenc_params p = cheap();
    p.dpic = 0;
    made m = make(PW, &p);
    iosenc_info info;
    assert_int_equal(iosenc_keybag_inspect(m.kb, m.len, &info), CAIRN_OK);
    assert_int_equal(info.version, 3);
    assert_int_equal(info.dpic, 0);
    assert_int_equal(info.dpsl_len, 0);
    assert_int_equal(unlock_rc(m.kb, m.len, PW), CAIRN_OK);
    assert_int_equal(unlock_rc(m.kb, m.len, PW2), CAIRN_EPASSWORD);
    unmake(&m);
}

static void test_deterministic(void **state)
{
    (void)state;
    iosenc_params p = cheap();
    uint64_t n1 = 0, n2 = 0;
    p.random = counter_random;
    p.random_ctx = &n1;
    made a = make(PW, &p);
    p.random_ctx = &n2;
    made b = make(PW, &p);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.kb, b.kb, a.len);
    /* caller-chosen salts end up in the keybag */
    uint8_t salt[20], dpsl[20];
    memset(salt, 0x5a, sizeof salt);
    memset(dpsl, 0xa5, sizeof dpsl);
    p.salt = salt;
    p.dpsl = dpsl;
    made c = make(PW, &p);
    assert_non_null(memmem(c.kb, c.len, "SALT\0\0\0\x14ZZZZZZZZZZZZZZZZZZZZ", 28));
    assert_non_null(memmem(c.kb, c.len, "DPSL\0\0\0\x14", 8));
    assert_int_equal(unlock_rc(c.kb, c.len, PW), CAIRN_OK);
    unmake(&a);
    unmake(&b);
    unmake(&c);
}

static void test_params(void **state)
{
    (void)state;
    iosenc_params p = cheap();
    uint8_t *kb = NULL;
    size_t len = 0;
    iosenc_keys *keys = NULL;
    assert_int_equal(iosenc_new_keybag("", 0, &p, &kb, &len, &keys), CAIRN_EINVAL);
    p.iter = 0;
    assert_int_equal(iosenc_new_keybag(PW, strlen(PW), &p, &kb, &len, &keys), CAIRN_EINVAL);
    p = cheap();
    p.dpic = IOSENC_DPIC_MAX + 1;
    assert_int_equal(iosenc_new_keybag(PW, strlen(PW), &p, &kb, &len, &keys), CAIRN_EINVAL);
    assert_null(kb);
    assert_null(keys);
}

/* ---- file keys ----------------------------------------------------------- */

static void test_file_keys(void **state)
{
    (void)state;
    const iosenc_params p = cheap();
    made m = make(PW, &p);
    uint8_t *const fk = iosenc_key_alloc();
    uint8_t *const back = iosenc_key_alloc();
    assert_non_null(fk);
    assert_non_null(back);
    randombytes_buf(fk, IOSENC_KEY_LEN);
    uint8_t tagged[44];
    for (uint32_t c = 1; c <= 11; c++) {
        if (c == 5) {
            assert_int_equal(iosenc_wrap_file_key(m.keys, c, fk, tagged), CAIRN_EINVAL);
            continue;
        }
        assert_int_equal(iosenc_wrap_file_key(m.keys, c, fk, tagged), CAIRN_OK);
        uint32_t cls = 0;
        assert_int_equal(iosenc_tagged_class(tagged, sizeof tagged, &cls), CAIRN_OK);
        assert_int_equal(cls, c);
        assert_int_equal(tagged[0], c);
        assert_int_equal(tagged[1] | tagged[2] | tagged[3], 0);
        assert_int_equal(iosenc_unwrap_file_key(m.keys, tagged, sizeof tagged, back), CAIRN_OK);
        assert_memory_equal(back, fk, 32);
        assert_int_equal(iosenc_unwrap_manifest_key(m.keys, tagged, sizeof tagged, back), CAIRN_OK);
        assert_memory_equal(back, fk, 32);
    }
    assert_int_equal(iosenc_wrap_file_key(m.keys, 3, fk, tagged), CAIRN_OK);
    /* wrong sizes */
    assert_int_equal(iosenc_unwrap_file_key(m.keys, tagged, 43, back), CAIRN_ECORRUPT);
    assert_string_equal(err_msg(), "EncryptionKey is 43 bytes, expected 44");
    assert_int_equal(iosenc_unwrap_manifest_key(m.keys, tagged, 40, back), CAIRN_ESOURCE);
    assert_string_equal(err_msg(), "Manifest.plist: ManifestKey is 40 bytes, expected 44");
    uint32_t cls = 0;
    assert_int_equal(iosenc_tagged_class(tagged, 45, &cls), CAIRN_ECORRUPT);
    /* a class the keybag does not have */
    uint8_t other[44];
    memcpy(other, tagged, 44);
    other[0] = 5;
    assert_int_equal(iosenc_unwrap_file_key(m.keys, other, 44, back), CAIRN_ESOURCE);
    assert_non_null(strstr(err_msg(), "no key for protection class 5"));
    other[0] = 0;
    other[3] = 1;
    assert_int_equal(iosenc_unwrap_file_key(m.keys, other, 44, back), CAIRN_ECORRUPT);
    /* the right class, a damaged key; the wrong class key */
    memcpy(other, tagged, 44);
    other[20] ^= 0x10;
    assert_int_equal(iosenc_unwrap_file_key(m.keys, other, 44, back), CAIRN_ECORRUPT);
    assert_string_equal(err_msg(), "EncryptionKey fails its integrity check (protection class 3)");
    assert_int_equal(iosenc_unwrap_manifest_key(m.keys, other, 44, back), CAIRN_ESOURCE);
    memcpy(other, tagged, 44);
    other[0] = 4;
    assert_int_equal(iosenc_unwrap_file_key(m.keys, other, 44, back), CAIRN_ECORRUPT);
    iosenc_key_free(fk);
    iosenc_key_free(back);
    unmake(&m);
}

/* The password key computed here straight from OpenSSL, as the public
 * decryptors do, for keybags made by hand. */
static void password_key(const char *pw, const uint8_t *salt, int iter, const uint8_t *dpsl,
                         int dpic, uint8_t pk[32])
{
    uint8_t k1[32];
    assert_int_equal(PKCS5_PBKDF2_HMAC(pw, (int)strlen(pw), dpsl, 20, dpic, EVP_sha256(), 32, k1),
                     1);
    assert_int_equal(PKCS5_PBKDF2_HMAC((const char *)k1, 32, salt, 20, iter, EVP_sha1(), 32, pk),
                     1);
}

/* ThisDeviceOnly keychain classes are also wrapped by the device UID: the
 * password layer comes off, the key is still of no use here, and a rewrap
 * must carry it over unchanged underneath. */
static void test_device_bound_class(void **state)
{
    (void)state;
    const char *const salt_hex = "a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4";
    const char *const dpsl_hex = "c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4";
    uint8_t salt[20], dpsl[20], pk[32], k1[32], k9[32], w1[40], w9[40];
    unhex(salt_hex, salt, 20);
    unhex(dpsl_hex, dpsl, 20);
    password_key(PW, salt, 3, dpsl, 4, pk);
    randombytes_buf(k1, sizeof k1);
    randombytes_buf(k9, sizeof k9);
    assert_int_equal(iosenc_key_wrap(pk, k1, w1), CAIRN_OK);
    assert_int_equal(iosenc_key_wrap(pk, k9, w9), CAIRN_OK);
    tlv t;
    header(&t, salt_hex, 3, dpsl_hex, 4);
    class_entry(&t, 1, IOSENC_WRAP_PASSCODE, w1);
    class_entry(&t, 9, IOSENC_WRAP_PASSCODE | IOSENC_WRAP_DEVICE, w9);
    class_entry(&t, 12, IOSENC_WRAP_DEVICE, wpky0); /* not ours to open: skipped */
    iosenc_info info;
    assert_int_equal(iosenc_keybag_inspect(t.b, t.len, &info), CAIRN_OK);
    assert_int_equal(info.passcode_wrapped, (1u << 1) | (1u << 9));
    assert_int_equal(info.device_wrapped, (1u << 9) | (1u << 12));

    iosenc_keys *keys = NULL;
    assert_int_equal(iosenc_unlock(t.b, t.len, PW, strlen(PW), &keys), CAIRN_OK);
    assert_true(iosenc_keys_has_class(keys, 1));
    assert_false(iosenc_keys_has_class(keys, 9));
    assert_false(iosenc_keys_has_class(keys, 12));
    uint8_t fk[32], tagged[44];
    randombytes_buf(fk, sizeof fk);
    assert_int_equal(iosenc_wrap_file_key(keys, 9, fk, tagged), CAIRN_EINVAL);
    assert_int_equal(iosenc_wrap_file_key(keys, 1, fk, tagged), CAIRN_OK);
    tagged[0] = 9;
    uint8_t *const back = iosenc_key_alloc();
    assert_int_equal(iosenc_unwrap_file_key(keys, tagged, 44, back), CAIRN_ESOURCE);
    assert_non_null(strstr(err_msg(), "bound to the device"));

    /* rewrap: class 9's inner blob is carried over, class 12 copied */
    const uint8_t salt2[20] = {9}, dpsl2[20] = {8};
    iosenc_params q = {.iter = 2, .dpic = 3, .salt = salt2, .dpsl = dpsl2};
    uint8_t *kb2 = NULL;
    size_t len2 = 0;
    assert_int_equal(iosenc_rewrap_keybag(t.b, t.len, keys, PW2, strlen(PW2), &q, &kb2, &len2),
                     CAIRN_OK);
    assert_int_equal(len2, t.len);
    password_key(PW2, salt2, 2, dpsl2, 3, pk);
    const uint8_t *wp = kb2;
    uint8_t got[32];
    int found = 0;
    for (size_t off = 0; off + 8 <= len2; off += 8 + wp[off + 7]) {
        if (memcmp(wp + off, "CLAS", 4) == 0)
            found = wp[off + 11];
        if (memcmp(wp + off, "WPKY", 4) != 0)
            continue;
        if (found == 12) {
            assert_memory_equal(wp + off + 8, wpky0, 40);
            continue;
        }
        assert_int_equal(iosenc_key_unwrap(pk, wp + off + 8, got), CAIRN_OK);
        assert_memory_equal(got, found == 9 ? k9 : k1, 32);
    }
    iosenc_key_free(back);
    iosenc_keys_free(keys);
    free(kb2);
}

/* ---- the CBC layer ------------------------------------------------------- */

static void roundtrip_ciphertext(const uint8_t *key, const uint8_t *c, size_t len, int want_pad)
{
    uint8_t *const plain = malloc(len + 1);
    uint8_t *const again = malloc(len + 16);
    size_t n = 0, m = 0;
    int padded = -1;
    assert_int_equal(iosenc_decrypt(key, c, len, plain, &n, &padded), CAIRN_OK);
    if (want_pad >= 0)
        assert_int_equal(padded, want_pad);
    assert_int_equal(iosenc_encrypt(key, plain, n, padded, again, &m), CAIRN_OK);
    assert_int_equal(m, len);
    assert_memory_equal(again, c, len);
    free(plain);
    free(again);
}

static void test_cbc_roundtrips(void **state)
{
    (void)state;
    uint8_t key[32];
    randombytes_buf(key, sizeof key);
    uint8_t plain[300], c[320], back[320];
    randombytes_buf(plain, sizeof plain);
    /* padded: every length, including empty and exact blocks */
    for (size_t len = 0; len <= 64; len++) {
        size_t n = 0, m = 0;
        int padded = -1;
        assert_int_equal(iosenc_encrypt(key, plain, len, 1, c, &n), CAIRN_OK);
        assert_int_equal(n, (len / 16 + 1) * 16);
        assert_int_equal(n, iosenc_encrypted_len(len, 1));
        assert_int_equal(iosenc_decrypt(key, c, n, back, &m, &padded), CAIRN_OK);
        assert_int_equal(padded, 1);
        assert_int_equal(m, len);
        assert_memory_equal(back, plain, len);
        roundtrip_ciphertext(key, c, n, 1);
    }
    /* unpadded: plaintexts that end in anything, including bytes that look
     * like padding (01, 02 02, a full block of 10) and bytes that almost do */
    static const char *const tails[] = {"",
                                        "00",
                                        "01",
                                        "0202",
                                        "0302",
                                        "11",
                                        "10101010101010101010101010101010",
                                        "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f"};
    for (size_t t = 0; t < sizeof tails / sizeof tails[0]; t++) {
        for (size_t blocks = 1; blocks <= 3; blocks++) {
            const size_t len = blocks * 16;
            uint8_t p[48];
            randombytes_buf(p, len);
            p[len - 1] = 0x42;
            const size_t tl = strlen(tails[t]) / 2;
            unhex(tails[t], p + len - tl, tl);
            size_t n = 0;
            assert_int_equal(iosenc_encrypt(key, p, len, 0, c, &n), CAIRN_OK);
            assert_int_equal(n, len);
            /* valid-looking tails are taken for padding, yet the bytes come back */
            roundtrip_ciphertext(key, c, n, -1);
        }
    }
    /* random ciphertexts: no structure at all */
    for (int i = 0; i < 2000; i++) {
        const size_t len = 16 * (1 + (size_t)randombytes_uniform(8));
        randombytes_buf(c, len);
        roundtrip_ciphertext(key, c, len, -1);
    }
    /* the empty ciphertext is its own inverse */
    size_t n = 1;
    int padded = -1;
    assert_int_equal(iosenc_decrypt(key, c, 0, back, &n, &padded), CAIRN_OK);
    assert_int_equal(n, 0);
    assert_int_equal(padded, 0);
    assert_int_equal(iosenc_encrypt(key, back, 0, 0, c, &n), CAIRN_OK);
    assert_int_equal(n, 0);
    /* whole blocks only */
    assert_int_equal(iosenc_decrypt(key, c, 17, back, &n, &padded), CAIRN_ECORRUPT);
    assert_string_equal(err_msg(), "ciphertext of 17 bytes is not a multiple of 16");
    assert_int_equal(iosenc_encrypt(key, plain, 17, 0, c, &n), CAIRN_EINVAL);
}

static void test_pkcs7_rule(void **state)
{
    (void)state;
    uint8_t b[32] = {0};
    assert_int_equal(iosenc_pkcs7_len(b, 32), 0); /* 00 is never padding */
    b[31] = 1;
    assert_int_equal(iosenc_pkcs7_len(b, 32), 1);
    b[31] = 2;
    assert_int_equal(iosenc_pkcs7_len(b, 32), 0);
    b[30] = 2;
    assert_int_equal(iosenc_pkcs7_len(b, 32), 2);
    memset(b + 16, 16, 16);
    assert_int_equal(iosenc_pkcs7_len(b, 32), 16);
    b[16] = 15;
    assert_int_equal(iosenc_pkcs7_len(b, 32), 0);
    b[31] = 17;
    assert_int_equal(iosenc_pkcs7_len(b, 32), 0);
    assert_int_equal(iosenc_pkcs7_len(b, 15), 0);
    assert_int_equal(iosenc_pkcs7_len(b, 0), 0);
}

static void test_cbc_streaming(void **state)
{
    (void)state;
    uint8_t key[32];
    randombytes_buf(key, sizeof key);
    enum { N = 4096 };
    uint8_t *const plain = malloc(N), *const one = malloc(N + 16), *const many = malloc(N + 16);
    randombytes_buf(plain, N);
    size_t n = 0;
    assert_int_equal(iosenc_encrypt(key, plain, N, 0, one, &n), CAIRN_OK);
    /* the same bytes in uneven pieces of whole blocks, in place */
    memcpy(many, plain, N);
    iosenc_cbc *c = NULL;
    assert_int_equal(iosenc_cbc_new(key, IOSENC_ENCRYPT, &c), CAIRN_OK);
    for (size_t off = 0, step = 16; off < N; off += step, step = step * 2 % 1024 + 16) {
        const size_t k = off + step > N ? N - off : step;
        assert_int_equal(iosenc_cbc_update(c, many + off, k, many + off), CAIRN_OK);
    }
    assert_int_equal(iosenc_cbc_update(c, many, 8, many), CAIRN_EINVAL);
    iosenc_cbc_free(c);
    assert_memory_equal(many, one, N);
    assert_int_equal(iosenc_cbc_new(key, IOSENC_DECRYPT, &c), CAIRN_OK);
    assert_int_equal(iosenc_cbc_update(c, many, 1024, many), CAIRN_OK);
    assert_int_equal(iosenc_cbc_update(c, many + 1024, N - 1024, many + 1024), CAIRN_OK);
    iosenc_cbc_free(c);
    assert_memory_equal(many, plain, N);
    free(plain);
    free(one);
    free(many);
}

/* ---- password changes ---------------------------------------------------- */

static void test_rewrap(void **state)
{
    (void)state;
    const iosenc_params p = cheap();
    made m = make(PW, &p);
    uint8_t fk[32], tagged[44];
    randombytes_buf(fk, sizeof fk);
    assert_int_equal(iosenc_wrap_file_key(m.keys, 1, fk, tagged), CAIRN_OK);

    iosenc_params q = cheap();
    q.iter = 7;
    q.dpic = 9;
    uint8_t *kb2 = NULL;
    size_t len2 = 0;
    assert_int_equal(iosenc_rewrap_keybag(m.kb, m.len, m.keys, PW2, strlen(PW2), &q, &kb2, &len2),
                     CAIRN_OK);
    assert_int_equal(len2, m.len); /* same shape */
    iosenc_info a, b;
    assert_int_equal(iosenc_keybag_inspect(m.kb, m.len, &a), CAIRN_OK);
    assert_int_equal(iosenc_keybag_inspect(kb2, len2, &b), CAIRN_OK);
    assert_memory_equal(a.uuid, b.uuid, IOSENC_UUID_LEN);
    assert_int_equal(a.classes, b.classes);
    assert_int_equal(b.iter, 7);
    assert_int_equal(b.dpic, 9);
    assert_null(memmem(kb2, len2, memmem(m.kb, m.len, "SALT", 4), 28)); /* new salt */
    /* only the new password opens it, and to the same class keys */
    assert_int_equal(unlock_rc(kb2, len2, PW), CAIRN_EPASSWORD);
    iosenc_keys *k2 = NULL;
    assert_int_equal(iosenc_unlock(kb2, len2, PW2, strlen(PW2), &k2), CAIRN_OK);
    assert_memory_equal(iosenc_keys_uuid(k2), iosenc_keys_uuid(m.keys), IOSENC_UUID_LEN);
    uint8_t *const back = iosenc_key_alloc();
    assert_int_equal(iosenc_unwrap_file_key(k2, tagged, 44, back), CAIRN_OK);
    assert_memory_equal(back, fk, 32);
    /* and back again: the rewrapped keybag's keys rewrap it once more */
    uint8_t *kb3 = NULL;
    size_t len3 = 0;
    assert_int_equal(iosenc_rewrap_keybag(kb2, len2, k2, PW, strlen(PW), &p, &kb3, &len3),
                     CAIRN_OK);
    assert_int_equal(unlock_rc(kb3, len3, PW2), CAIRN_EPASSWORD);
    assert_int_equal(unlock_rc(kb3, len3, PW), CAIRN_OK);
    iosenc_key_free(back);
    iosenc_keys_free(k2);
    free(kb2);
    free(kb3);

    /* keys of another keybag are refused */
    made other = make(PW, &p);
    assert_int_equal(
        iosenc_rewrap_keybag(m.kb, m.len, other.keys, PW2, strlen(PW2), &q, &kb2, &len2),
        CAIRN_EINVAL);
    assert_null(kb2);
    unmake(&other);
    unmake(&m);
}

/* Dropping or adding the DPSL stage, and keeping what we do not know. */
static void test_rewrap_shapes(void **state)
{
    (void)state;
    iosenc_params p = cheap();
    p.dpic = 0;
    made m = make(PW, &p); /* VERS 3, no DPSL */
    /* an unknown tag must survive */
    uint8_t *const kb = malloc(m.len + 12);
    memcpy(kb, m.kb, m.len);
    memcpy(kb + m.len, "SIGN\0\0\0\x04wxyz", 12);
    iosenc_params q = cheap(); /* with DPSL */
    uint8_t *kb2 = NULL;
    size_t len2 = 0;
    assert_int_equal(
        iosenc_rewrap_keybag(kb, m.len + 12, m.keys, PW2, strlen(PW2), &q, &kb2, &len2), CAIRN_OK);
    iosenc_info info;
    assert_int_equal(iosenc_keybag_inspect(kb2, len2, &info), CAIRN_OK);
    assert_int_equal(info.version, 4);
    assert_int_equal(info.dpic, T_DPIC);
    assert_int_equal(info.dpsl_len, 20);
    assert_memory_equal(kb2 + len2 - 12, "SIGN\0\0\0\x04wxyz", 12);
    assert_int_equal(unlock_rc(kb2, len2, PW2), CAIRN_OK);
    /* and the stage dropped again */
    uint8_t *kb3 = NULL;
    size_t len3 = 0;
    assert_int_equal(iosenc_rewrap_keybag(kb2, len2, m.keys, PW, strlen(PW), &p, &kb3, &len3),
                     CAIRN_OK);
    assert_int_equal(iosenc_keybag_inspect(kb3, len3, &info), CAIRN_OK);
    assert_int_equal(info.dpic, 0);
    assert_int_equal(info.dpsl_len, 0);
    assert_int_equal(len3, m.len + 12);
    assert_int_equal(unlock_rc(kb3, len3, PW), CAIRN_OK);
    free(kb);
    free(kb2);
    free(kb3);
    unmake(&m);
}

/* iosenc_dec fed in pieces of every awkward size gives what the one-shot
 * decryption gives, padded or not, and refuses a partial last block. */
static void test_dec_stream(void **state)
{
    (void)state;
    uint8_t key[IOSENC_KEY_LEN];
    randombytes_buf(key, sizeof key);
    static const size_t lens[] = {0, 1, 15, 16, 17, 31, 32, 33, 1000, 4096, 65537};
    static const size_t pieces[] = {1, 3, 15, 16, 17, 100, 1 << 20};
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        for (int padded = 0; padded < 2; padded++) {
            size_t len = lens[li];
            if (!padded)
                len &= ~(size_t)15;
            uint8_t *const plain = malloc(len + 1);
            uint8_t *const ct = malloc(len + 32);
            uint8_t *const got = malloc(len + 64);
            assert_non_null(plain);
            assert_non_null(ct);
            assert_non_null(got);
            randombytes_buf(plain, len);
            size_t ct_len = 0;
            assert_int_equal(iosenc_encrypt(key, plain, len, padded, ct, &ct_len), CAIRN_OK);
            for (size_t pi = 0; pi < sizeof pieces / sizeof pieces[0]; pi++) {
                iosenc_dec *d = NULL;
                size_t n = 0, out = 0;
                int was_padded = -1;
                assert_int_equal(iosenc_dec_new(key, &d), CAIRN_OK);
                for (size_t off = 0; off < ct_len; off += pieces[pi]) {
                    const size_t take = ct_len - off < pieces[pi] ? ct_len - off : pieces[pi];
                    uint8_t *const buf = malloc(take + 2 * IOSENC_BLOCK);
                    assert_non_null(buf);
                    assert_int_equal(iosenc_dec_update(d, ct + off, take, buf, &out), CAIRN_OK);
                    assert_true(n + out <= len + 16);
                    memcpy(got + n, buf, out);
                    n += out;
                    free(buf);
                }
                assert_int_equal(iosenc_dec_final(d, got + n, &out, &was_padded), CAIRN_OK);
                n += out;
                iosenc_dec_free(d);
                /* an unpadded plaintext may end like padding: the one-shot rule decides */
                uint8_t *const ref = malloc(ct_len + 1);
                size_t ref_len = 0;
                int ref_padded = 0;
                assert_non_null(ref);
                assert_int_equal(iosenc_decrypt(key, ct, ct_len, ref, &ref_len, &ref_padded),
                                 CAIRN_OK);
                assert_int_equal(n, ref_len);
                assert_int_equal(was_padded, ref_padded);
                if (n)
                    assert_memory_equal(got, ref, n);
                if (padded)
                    assert_int_equal(n, len);
                /* and back, in the same pieces: the exact ciphertext */
                iosenc_enc *e = NULL;
                uint8_t *const again = malloc(ct_len + 32);
                size_t m = 0;
                assert_non_null(again);
                assert_int_equal(iosenc_enc_new(key, was_padded, &e), CAIRN_OK);
                for (size_t off = 0; off < n; off += pieces[pi]) {
                    const size_t take = n - off < pieces[pi] ? n - off : pieces[pi];
                    assert_int_equal(iosenc_enc_update(e, got + off, take, again + m, &out),
                                     CAIRN_OK);
                    m += out;
                    assert_true(m <= ct_len);
                }
                assert_int_equal(iosenc_enc_final(e, again + m, &out), CAIRN_OK);
                m += out;
                iosenc_enc_free(e);
                assert_int_equal(m, ct_len);
                if (m)
                    assert_memory_equal(again, ct, m);
                free(again);
                free(ref);
            }
            free(plain);
            free(ct);
            free(got);
        }
    }
    iosenc_dec *d = NULL;
    uint8_t buf[64] = {0}, tail[IOSENC_BLOCK];
    size_t out;
    int was_padded;
    assert_int_equal(iosenc_dec_new(key, &d), CAIRN_OK);
    assert_int_equal(iosenc_dec_update(d, buf, 20, buf, &out), CAIRN_OK);
    assert_int_equal(iosenc_dec_final(d, tail, &out, &was_padded), CAIRN_ECORRUPT);
    iosenc_dec_free(d);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kat_crackers),
        cmocka_unit_test(test_kat_real_ios10),
        cmocka_unit_test(test_kat_rfc3394),
        cmocka_unit_test(test_kat_cbc),
        cmocka_unit_test(test_inspect_new_keybag),
        cmocka_unit_test(test_truncated_everywhere),
        cmocka_unit_test(test_good_handmade),
        cmocka_unit_test(test_bad_lengths),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_missing_and_misplaced),
        cmocka_unit_test(test_unlock),
        cmocka_unit_test(test_old_style_keybag),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_file_keys),
        cmocka_unit_test(test_device_bound_class),
        cmocka_unit_test(test_cbc_roundtrips),
        cmocka_unit_test(test_pkcs7_rule),
        cmocka_unit_test(test_cbc_streaming),
        cmocka_unit_test(test_dec_stream),
        cmocka_unit_test(test_rewrap),
        cmocka_unit_test(test_rewrap_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
