/* cairn-gen.c - command line of the deterministic test-data generator.
 *
 * Exit status: 0 success, 2 usage error, 1 any other error. */
#define _XOPEN_SOURCE 700

#include "gen.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { EXIT_USAGE = 2, MAX_SIZE_MB = 1024 * 1024, MAX_FILES = 10000000 };

static const char usage_text[] =
    "usage: cairn-gen device DIR [--seed N] [--size-mb M] [--udid UDID] [--name NAME]\n"
    "                            [--product TYPE] [--ios VERSION] [--date UNIX_SECONDS]\n"
    "                            [--encrypt PASSWORD [--kdf-iter N] [--kdf-dpic N]]\n"
    "                            [--content STATE] [--files N]\n"
    "       cairn-gen mutate DIR [--seed N] [--day D] [--changes FILE] [--encrypt PASSWORD]\n"
    "                            [--pattern everyday|append]\n"
    "       cairn-gen changepw DIR --old PASSWORD --new PASSWORD [--seed N] [--kdf-iter N]\n"
    "                              [--kdf-dpic N]\n"
    "       cairn-gen decrypt DIR --to OUT [--password PASSWORD]\n"
    "       cairn-gen folder DIR [--seed N] [--size-mb M] [--date UNIX_SECONDS]\n"
    "       cairn-gen edit DIR [--seed N]\n";

/* Which options each command takes, as a space-separated list. */
typedef struct command {
    const char *name;
    const char *options;
    int (*run)(const char *dir, const gen_opts *o);
} command;

static const command commands[] = {
    {"device", " seed size-mb udid name product ios date encrypt kdf-iter kdf-dpic content files ",
     gen_device},
    {"mutate", " seed day changes encrypt pattern ", gen_mutate},
    {"changepw", " seed old new kdf-iter kdf-dpic ", gen_changepw},
    {"decrypt", " to password ", gen_decrypt},
    {"folder", " seed size-mb date ", gen_folder},
    {"edit", " seed ", gen_edit},
};

__attribute__((format(printf, 1, 2))) static int usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("cairn-gen: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fputs(usage_text, stderr);
    return EXIT_USAGE;
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    char *end = NULL;
    const unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return -1;
    *out = v;
    return 0;
}

/* UDIDs are hex: 40 digits on older devices, 8-16 with a dash on newer ones. */
static int valid_udid(const char *s)
{
    if (!*s || strlen(s) > 40)
        return 0;
    for (const char *p = s; *p; p++) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F') ||
              *p == '-'))
            return 0;
    }
    return 1;
}

static int allowed(const command *c, const char *opt)
{
    char key[32];
    if (snprintf(key, sizeof key, " %s ", opt) >= (int)sizeof key)
        return 0;
    return strstr(c->options, key) != NULL;
}

/* Stores one option's value; returns non-zero when the value is malformed. */
static int set_option(gen_opts *o, const char *opt, const char *val)
{
    uint64_t v = 0;
    if (strcmp(opt, "seed") == 0)
        return parse_u64(val, UINT64_MAX, &o->seed);
    if (strcmp(opt, "size-mb") == 0)
        return parse_u64(val, MAX_SIZE_MB, &o->size_mb) || o->size_mb == 0;
    if (strcmp(opt, "files") == 0)
        return parse_u64(val, MAX_FILES, &o->files) || o->files == 0;
    if (strcmp(opt, "day") == 0)
        return parse_u64(val, 100000, &o->day);
    /* iOS uses 10,000 and 10,000,000: seconds per backup, too slow for tests */
    if (strcmp(opt, "kdf-iter") == 0)
        return parse_u64(val, 10000000, &o->kdf_iter) || o->kdf_iter == 0;
    if (strcmp(opt, "kdf-dpic") == 0)
        return parse_u64(val, 100000000, &o->kdf_dpic);
    if (strcmp(opt, "content") == 0) {
        const int bad = parse_u64(val, 2, &v);
        o->content = (int)v;
        return bad;
    }
    if (strcmp(opt, "pattern") == 0) {
        o->pattern = strcmp(val, "append") == 0 ? GEN_APPEND : GEN_EVERYDAY;
        return strcmp(val, "append") != 0 && strcmp(val, "everyday") != 0;
    }
    if (strcmp(opt, "date") == 0) {
        /* plist dates are 32-bit seconds from 2001. */
        const int bad = parse_u64(val, 0x7fffffffULL + GEN_MAC_EPOCH, &v) || v < GEN_MAC_EPOCH;
        o->date = (int64_t)v;
        return bad;
    }
    const char **const dst = strcmp(opt, "udid") == 0       ? &o->udid
                             : strcmp(opt, "name") == 0     ? &o->name
                             : strcmp(opt, "product") == 0  ? &o->product
                             : strcmp(opt, "ios") == 0      ? &o->ios
                             : strcmp(opt, "encrypt") == 0  ? &o->encrypt
                             : strcmp(opt, "old") == 0      ? &o->old_pw
                             : strcmp(opt, "new") == 0      ? &o->new_pw
                             : strcmp(opt, "password") == 0 ? &o->password
                             : strcmp(opt, "to") == 0       ? &o->to
                                                            : &o->changes;
    *dst = val;
    if (dst == &o->udid && !valid_udid(val))
        return -1;
    return *val == '\0';
}

static int parse_args(const command *c, int argc, char **argv, const char **dir, gen_opts *o)
{
    for (int i = 2; i < argc; i++) {
        const char *const a = argv[i];
        if (strncmp(a, "--", 2) != 0) {
            if (*dir)
                return usage("unexpected argument '%s'", a);
            *dir = a;
            continue;
        }
        char opt[32];
        const char *val = strchr(a, '=');
        const size_t len = val ? (size_t)(val - a - 2) : strlen(a + 2);
        if (len == 0 || len >= sizeof opt)
            return usage("unknown option '%s'", a);
        memcpy(opt, a + 2, len);
        opt[len] = '\0';
        if (!allowed(c, opt))
            return usage("unknown option '%s'", a);
        if (val)
            val++;
        else if (i + 1 < argc)
            val = argv[++i];
        else
            return usage("option '%s' needs a value", a);
        if (set_option(o, opt, val))
            return usage("bad value for '%s'", a);
    }
    if (!*dir)
        return usage("%s: missing DIR", c->name);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage("%s", "missing command");
    const command *c = NULL;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[1], commands[i].name) == 0)
            c = &commands[i];
    }
    if (!c)
        return usage("unknown command '%s'", argv[1]);
    gen_opts o = {
        .seed = 1,
        .size_mb = 64,
        .day = 1,
        .date = GEN_DEFAULT_DATE,
        .name = "Cairn Test iPhone",
        .product = "iPhone15,2",
        .ios = "17.5",
        .kdf_iter = 1000,
        .kdf_dpic = 1000,
        .content = -1,
    };
    const char *dir = NULL;
    const int rc = parse_args(c, argc, argv, &dir, &o);
    if (rc)
        return rc;
    if (c->run(dir, &o) != 0)
        return EXIT_FAILURE;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        gen_errno("stdout", "write failed");
        return EXIT_FAILURE;
    }
    return EXIT_SUCCESS;
}
