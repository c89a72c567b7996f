/* cairn - the command line.  Parses options, gets the password, maps every
 * error to one line on stderr and a documented exit code (docs/CLI.md). */
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "../engine/backup.h"
#include "../engine/check.h"
#include "../engine/chunker.h"
#include "../engine/restore.h"
#include "../engine/snaplist.h"
#include "../store/fsutil.h"
#include "../store/store.h"
#include "password.h"

/* Exit codes: documented in docs/CLI.md and README.md. */
enum {
    EXIT_OK = 0,
    EXIT_ERROR = 1,
    EXIT_USAGE = 2,
    EXIT_PARTIAL = 3,
    EXIT_PASSWORD = 4,
    EXIT_NOSTORE = 5,
    EXIT_VERSION = 6,
    EXIT_KEYFILE = 7,
    EXIT_LOCKED = 8,
    EXIT_DAMAGED = 9,
    EXIT_SOURCE = 10,
    EXIT_NOSPACE = 11,
    EXIT_NOTFOUND = 12,
    EXIT_EXISTS = 13,
};

typedef struct cli {
    const char *store_arg;
    const char *password_file;
    const char *to;
    const char *kdf;
    int threads;
    int json;
    int overwrite;
    int read_data;
    int force;
    char **args;
    int nargs;
    char store_path[PATH_MAX];
} cli;

static int exit_code(cairn_err rc)
{
    switch (rc) {
    case CAIRN_OK:
        return EXIT_OK;
    case CAIRN_EINVAL:
        return EXIT_USAGE;
    case CAIRN_EPARTIAL:
        return EXIT_PARTIAL;
    case CAIRN_EPASSWORD:
        return EXIT_PASSWORD;
    case CAIRN_ENOSTORE:
        return EXIT_NOSTORE;
    case CAIRN_EVERSION:
        return EXIT_VERSION;
    case CAIRN_EKEYFILE:
        return EXIT_KEYFILE;
    case CAIRN_ELOCKED:
        return EXIT_LOCKED;
    case CAIRN_ECORRUPT:
        return EXIT_DAMAGED;
    case CAIRN_ESOURCE:
        return EXIT_SOURCE;
    case CAIRN_ENOSPC:
        return EXIT_NOSPACE;
    case CAIRN_ENOTFOUND:
    case CAIRN_EAMBIGUOUS:
        return EXIT_NOTFOUND;
    case CAIRN_EEXIST:
        return EXIT_EXISTS;
    default:
        return EXIT_ERROR;
    }
}

static int fail(cairn_err rc)
{
    fprintf(stderr, "cairn: %s\n", *err_msg() ? err_msg() : err_name(rc));
    return exit_code(rc);
}

static void human(uint64_t n, char *out, size_t cap)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)n;
    int u = 0;
    while (v >= 1024 && u < 5) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(out, cap, "%" PRIu64 " B", n);
    else
        snprintf(out, cap, "%.1f %s", v, units[u]);
}

static void format_time(int64_t sec, char *out, size_t cap, int iso)
{
    struct tm tm;
    const time_t t = (time_t)sec;
    if (iso) {
        gmtime_r(&t, &tm);
        strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
    } else {
        localtime_r(&t, &tm);
        strftime(out, cap, "%Y-%m-%d %H:%M:%S", &tm);
    }
}

static cairn_err open_store(cli *c, unsigned flags, store **out)
{
    password pw = {NULL, 0};
    cairn_err rc = store_default_path(c->store_arg, c->store_path, sizeof c->store_path);
    if (rc)
        return rc;
    rc = password_get(c->password_file, "CAIRN_PASSWORD", "Store password: ", 0, &pw);
    if (rc)
        return rc;
    rc = store_open(c->store_path, pw.text, pw.len, flags, out);
    password_free(&pw);
    if (!rc && store_index_was_rebuilt(*out))
        fprintf(stderr, "cairn: note: the index was damaged and has been rebuilt from the packs\n");
    return rc;
}

static int cmd_init(cli *c)
{
    password pw = {NULL, 0};
    keys_kdf kdf;
    const store_params params = {CHUNKER_MIN_DEFAULT, CHUNKER_AVG_DEFAULT, CHUNKER_MAX_DEFAULT,
                                 PACK_TARGET_DEFAULT, 3};
    cairn_err rc = store_default_path(c->store_arg, c->store_path, sizeof c->store_path);
    if (!rc)
        rc = keys_kdf_preset(c->kdf, &kdf);
    if (!rc)
        rc = password_get(c->password_file, "CAIRN_PASSWORD", "New store password: ", 1, &pw);
    if (!rc)
        rc = store_create(c->store_path, pw.text, pw.len, &kdf, &params);
    password_free(&pw);
    if (rc)
        return fail(rc);
    printf("created cairn store at %s\n", c->store_path);
    printf("keep the password safe: without it the backups cannot be read\n");
    return EXIT_OK;
}

static void warn_item(void *ctx, const char *path, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "cairn: warning: %s: %s\n", path, msg);
}

static int cmd_backup(cli *c)
{
    store *s = NULL;
    backup_result r;
    char id[9], parent[9], a[32], b[32], d[32];
    if (c->nargs != 1) {
        fprintf(stderr, "cairn: usage: cairn backup [--store DIR] SOURCE_DIR\n");
        return EXIT_USAGE;
    }
    cairn_err rc = open_store(c, STORE_WRITE, &s);
    if (rc)
        return fail(rc);
    const backup_opts opts = {
        .source = c->args[0], .threads = c->threads, .force_read = c->force, .warn = warn_item};
    rc = backup_run(s, &opts, &r);
    store_close(s);
    if (rc && rc != CAIRN_EPARTIAL)
        return fail(rc);
    snaplist_short_id(r.id, id);
    if (r.has_parent)
        snaplist_short_id(r.parent, parent);
    human(r.bytes, a, sizeof a);
    human(r.new_bytes, b, sizeof b);
    human(r.new_raw, d, sizeof d);
    printf("snapshot %s saved%s%s%s\n", id, r.has_parent ? " (parent " : "",
           r.has_parent ? parent : "", r.has_parent ? ")" : "");
    printf("  files: %" PRIu64 " in %" PRIu64 " folders, %s (%" PRIu64 " read, %" PRIu64
           " unchanged)\n",
           r.files, r.dirs, a, r.files_read, r.files - r.files_read);
    printf("  added: %" PRIu64 " new chunks, %s stored (%s before compression)\n", r.new_chunks, b,
           d);
    if (rc == CAIRN_EPARTIAL) {
        fprintf(stderr, "cairn: %s; the snapshot is marked partial\n", err_msg());
        return EXIT_PARTIAL;
    }
    return EXIT_OK;
}

static void json_str(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

static void print_snapshot_json(const snapshot *sn)
{
    char hex[2 * ID_LEN + 1], when[32];
    fs_hex(sn->id, ID_LEN, hex);
    format_time(sn->time_sec, when, sizeof when, 1);
    printf("{\"id\":\"%s\",\"short_id\":\"%.8s\",\"time\":\"%s\",\"hostname\":", hex, hex, when);
    json_str(sn->hostname);
    printf(",\"source\":");
    json_str(sn->source);
    printf(",\"chain\":");
    json_str(sn->chain);
    if (sn->has_parent) {
        fs_hex(sn->parent, ID_LEN, hex);
        printf(",\"parent\":\"%s\"", hex);
    } else {
        printf(",\"parent\":null");
    }
    printf(",\"files\":%" PRIu64 ",\"dirs\":%" PRIu64 ",\"bytes\":%" PRIu64
           ",\"new_chunks\":%" PRIu64 ",\"new_bytes\":%" PRIu64 ",\"new_raw\":%" PRIu64
           ",\"errors\":%" PRIu64 ",\"partial\":%s,\"incomplete\":%s,\"meta\":{",
           sn->files, sn->dirs, sn->bytes, sn->new_chunks, sn->new_bytes, sn->new_raw, sn->errors,
           (sn->flags & SNAP_PARTIAL) ? "true" : "false",
           (sn->flags & SNAP_INCOMPLETE) ? "true" : "false");
    for (size_t i = 0; i < sn->nmeta; i++) {
        if (i)
            putchar(',');
        json_str(sn->meta[i].key);
        putchar(':');
        json_str(sn->meta[i].value);
    }
    printf("}}");
}

static int cmd_snapshots(cli *c)
{
    store *s = NULL;
    snaplist l;
    cairn_err rc = open_store(c, 0, &s);
    if (rc)
        return fail(rc);
    rc = snaplist_load(s, &l);
    store_close(s);
    if (rc)
        return fail(rc);
    if (c->json) {
        putchar('[');
        for (size_t i = 0; i < l.count; i++) {
            if (i)
                putchar(',');
            print_snapshot_json(&l.items[i]);
        }
        printf("]\n");
    } else {
        printf("%-8s  %-19s  %8s  %10s  %10s  %s\n", "ID", "Time", "Files", "Size", "Added",
               "Source");
        for (size_t i = 0; i < l.count; i++) {
            const snapshot *const sn = &l.items[i];
            char id[9], when[32], size[32], added[32];
            snaplist_short_id(sn->id, id);
            format_time(sn->time_sec, when, sizeof when, 0);
            human(sn->bytes, size, sizeof size);
            human(sn->new_bytes, added, sizeof added);
            printf("%-8s  %-19s  %8" PRIu64 "  %10s  %10s  %s%s\n", id, when, sn->files, size,
                   added, sn->source, (sn->flags & SNAP_PARTIAL) ? " (partial)" : "");
        }
        printf("%zu snapshot(s)\n", l.count);
    }
    if (l.damaged)
        fprintf(stderr, "cairn: warning: %zu snapshot object(s) are damaged; run 'cairn check'\n",
                l.damaged);
    snaplist_free(&l);
    return EXIT_OK;
}

static int cmd_restore(cli *c)
{
    store *s = NULL;
    snaplist l = {NULL, 0, 0};
    const snapshot *sn;
    restore_result r;
    char id[9], size[32];
    if (c->nargs != 1 || !c->to) {
        fprintf(stderr, "cairn: usage: cairn restore [--store DIR] SNAPSHOT --to DIR "
                        "[--overwrite]\n");
        return EXIT_USAGE;
    }
    cairn_err rc = open_store(c, 0, &s);
    if (!rc)
        rc = snaplist_load(s, &l);
    if (!rc)
        rc = snaplist_find(&l, c->args[0], &sn);
    if (!rc) {
        const restore_opts opts = {
            .target = c->to, .overwrite = c->overwrite, .threads = c->threads, .warn = warn_item};
        rc = restore_run(s, sn, &opts, &r);
        if (!rc || rc == CAIRN_EPARTIAL) {
            snaplist_short_id(sn->id, id);
            human(r.bytes, size, sizeof size);
            printf("restored snapshot %s to %s: %" PRIu64 " files, %" PRIu64 " folders, %s\n", id,
                   c->to, r.files, r.dirs, size);
        }
    }
    snaplist_free(&l);
    store_close(s);
    return rc ? fail(rc) : EXIT_OK;
}

static void print_line(void *ctx, const char *line)
{
    (void)ctx;
    printf("%s\n", line);
}

static int cmd_check(cli *c)
{
    store *s = NULL;
    check_result r;
    char size[32];
    cairn_err rc = open_store(c, 0, &s);
    if (rc)
        return fail(rc);
    const check_opts opts = {.read_data = c->read_data, .report = print_line};
    rc = check_run(s, &opts, &r);
    store_close(s);
    human(r.bytes_read, size, sizeof size);
    printf("checked %" PRIu64 " packs, %" PRIu64 " snapshots", r.packs, r.snapshots);
    if (c->read_data)
        printf(", read %" PRIu64 " chunks (%s)", r.chunks_read, size);
    printf("\n");
    if (rc)
        return fail(rc);
    printf("no errors were found\n");
    return EXIT_OK;
}

static int cmd_index(cli *c)
{
    store *s = NULL;
    uint64_t packs, chunks;
    if (c->nargs != 1 || strcmp(c->args[0], "rebuild") != 0) {
        fprintf(stderr, "cairn: usage: cairn index rebuild [--store DIR]\n");
        return EXIT_USAGE;
    }
    cairn_err rc = open_store(c, STORE_WRITE, &s);
    if (!rc)
        rc = store_index_rebuild(s, &packs, &chunks);
    store_close(s);
    if (rc)
        return fail(rc);
    printf("index rebuilt from %" PRIu64 " packs: %" PRIu64 " chunks\n", packs, chunks);
    return EXIT_OK;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: cairn COMMAND [options]\n"
               "\n"
               "commands:\n"
               "  init      [--store DIR] [--kdf interactive|moderate|sensitive]\n"
               "  backup    [--store DIR] [--threads N] [--force] SOURCE_DIR\n"
               "  snapshots [--store DIR] [--json]\n"
               "  restore   [--store DIR] SNAPSHOT --to DIR [--overwrite] [--threads N]\n"
               "  check     [--store DIR] [--read-data]\n"
               "  index rebuild [--store DIR]\n"
               "\n"
               "The store is --store, else $CAIRN_STORE, else $XDG_DATA_HOME/cairn/store\n"
               "(~/.local/share/cairn/store).  The password comes from --password-file FILE,\n"
               "else $CAIRN_PASSWORD, else a prompt on the terminal.  SNAPSHOT is an ID, a\n"
               "unique ID prefix or 'latest'.  Exit codes: see docs/CLI.md.\n");
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"store", required_argument, NULL, 's'},
        {"password-file", required_argument, NULL, 'p'},
        {"to", required_argument, NULL, 't'},
        {"kdf", required_argument, NULL, 'k'},
        {"threads", required_argument, NULL, 'j'},
        {"json", no_argument, NULL, 'J'},
        {"overwrite", no_argument, NULL, 'o'},
        {"read-data", no_argument, NULL, 'r'},
        {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const struct {
        const char *name;
        int (*run)(cli *);
    } commands[] = {
        {"init", cmd_init},       {"backup", cmd_backup}, {"snapshots", cmd_snapshots},
        {"restore", cmd_restore}, {"check", cmd_check},   {"index", cmd_index},
    };
    cli c;
    int opt;
    memset(&c, 0, sizeof c);
    if (sodium_init() < 0) {
        fprintf(stderr, "cairn: libsodium failed to initialise\n");
        return EXIT_ERROR;
    }
    while ((opt = getopt_long(argc, argv, "s:p:t:k:j:h", options, NULL)) != -1) {
        switch (opt) {
        case 's':
            c.store_arg = optarg;
            break;
        case 'p':
            c.password_file = optarg;
            break;
        case 't':
            c.to = optarg;
            break;
        case 'k':
            c.kdf = optarg;
            break;
        case 'j':
            c.threads = atoi(optarg);
            if (c.threads < 1 || c.threads > 64) {
                fprintf(stderr, "cairn: --threads takes a number from 1 to 64\n");
                return EXIT_USAGE;
            }
            break;
        case 'J':
            c.json = 1;
            break;
        case 'o':
            c.overwrite = 1;
            break;
        case 'r':
            c.read_data = 1;
            break;
        case 'f':
            c.force = 1;
            break;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    c.args = argv + optind + 1;
    c.nargs = argc - optind - 1;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[optind], commands[i].name) == 0)
            return commands[i].run(&c);
    fprintf(stderr, "cairn: unknown command '%s' (see 'cairn --help')\n", argv[optind]);
    return EXIT_USAGE;
}
