/* fuzz_manifest_db.c - libFuzzer target for the Manifest.db reader
 * (engine/ios/mobilesync.h): the SQLite file of a device backup that says
 * which files it holds.
 *
 * Input: an SQLite file.  It becomes the Manifest.db of a backup folder made
 * once (the three plists, one content file), and is read the two ways cairn
 * reads it: ms_validate_rows (the completeness check with its integrity
 * check on a second connection and thread, every row handed over, about
 * half of them "known" so their records stay undecoded) and ms_manifest_next
 * in order.  What the header promises is checked: 40 lowercase hex digits
 * in every file ID, a report whose counts add up.  Seeds in
 * fuzz/corpus/manifest_db are the generator's Manifest.db cut down to a few
 * dozen rows of files, folders and symlinks, in 512-byte pages. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/ios/mobilesync.h"
#include "fuzz/fuzz.h"

/* the content file the folder has (the seeds hold a row for it) */
#define PRESENT_ID "00a0000000000000000000000000000000000000"

static char dir[64];
static char db[96];
static volatile size_t sink;

static void cleanup(void)
{
    fuzz_remove_tree(dir);
}

static void put(const char *name, const char *text)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *const f = fopen(path, "wb");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0)
        abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char sub[96];
    (void)argc;
    (void)argv;
    snprintf(dir, sizeof dir, "/tmp/cairn-fuzz-manifest-XXXXXX");
    if (!mkdtemp(dir))
        abort();
    atexit(cleanup);
    snprintf(db, sizeof db, "%s/Manifest.db", dir);
    snprintf(sub, sizeof sub, "%s/00", dir);
    if (mkdir(sub, 0700) != 0)
        abort();
    put("Info.plist", "<plist><dict><key>Unique Identifier</key><string>00008120-A35778D93C3EA2E7"
                      "</string></dict></plist>");
    put("Manifest.plist", "<plist><dict><key>IsEncrypted</key><false/></dict></plist>");
    put("Status.plist", "<plist><dict><key>SnapshotState</key><string>finished</string></dict>"
                        "</plist>");
    put("00/" PRESENT_ID, "content");
    return 0;
}

static void check_file(const ms_file *f)
{
    static const char hex[] = "0123456789abcdef";
    if (!f->file_id || strlen(f->file_id) != 40 || strspn(f->file_id, hex) != 40)
        abort();
    sink += (f->domain ? strlen(f->domain) : 0) + (f->relative_path ? strlen(f->relative_path) : 0);
    if (f->known)
        return;
    sink += f->size + f->mode + (f->target ? strlen(f->target) : 0);
    for (size_t i = 0; i < f->encryption_key_len; i++)
        sink += f->encryption_key[i];
}

static int known_half(void *ctx, const ms_file *f)
{
    (void)ctx;
    return f->row_digest[0] & 1;
}

static cairn_err each_row(void *ctx, const ms_file *f)
{
    (void)ctx;
    check_file(f);
    return CAIRN_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ms_report *r = NULL;
    ms_manifest *m = NULL;
    FILE *const f = fopen(db, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        abort();

    const ms_scan scan = {.known = known_half, .fn = each_row};
    (void)ms_validate_rows(dir, NULL, &scan, &r);
    if (r) {
        if (r->n_problems > MS_REPORT_EXAMPLES || r->missing > r->files || r->files > r->rows ||
            r->bad_records > r->rows || r->complete != (r->missing == 0 && r->bad_records == 0))
            abort();
        for (size_t i = 0; i < r->n_problems; i++)
            sink += strlen(r->problems[i].file_id) + strlen(r->problems[i].domain) +
                    strlen(r->problems[i].relative_path);
        ms_report_free(r);
    }

    if (ms_manifest_open(db, &m) != CAIRN_OK)
        return 0;
    uint64_t count = 0;
    cairn_err rc = ms_manifest_count(m, &count);
    sink += count;
    for (const ms_file *row = NULL; rc == CAIRN_OK || rc == CAIRN_ECORRUPT;) {
        rc = ms_manifest_next(m, &row);
        if (rc == CAIRN_OK && !row)
            break;
        if (rc == CAIRN_OK)
            check_file(row);
    }
    ms_manifest_close(m);
    return 0;
}
