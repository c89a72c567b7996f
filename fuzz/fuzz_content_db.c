/* fuzz_content_db.c - libFuzzer target for the Messages, Photos and
 * Contacts readers (engine/ios/content_*.h).
 *
 * Input: an SQLite file.  It is written to a private temporary file, opened
 * read-only as the readers' databases are, and all three readers run on it
 * (each asks the schema first, so most inputs exercise the "missing table or
 * column" paths of two and the queries of one), and the deletion alarm's
 * two narrow readers (photo keys, conversations alone).  Seeds in
 * fuzz/corpus/content_db are the generator's sms.db, Photos.sqlite and
 * AddressBook.sqlitedb in the schemas of iOS 13 and 17 (512-byte pages). */
#define _XOPEN_SOURCE 700
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/ios/content_contacts.h"
#include "engine/ios/content_messages.h"
#include "engine/ios/content_photos.h"
#include "fuzz/fuzz.h"

static char path[64];
static volatile size_t sink;

static void remove_file(void)
{
    unlink(path);
}

static cairn_err count_key(void *ctx, const char *key)
{
    *(size_t *)ctx += strlen(key);
    return CAIRN_OK;
}

static void count_warning(void *ctx, const char *msg)
{
    *(size_t *)ctx += strlen(msg);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(path, sizeof path, "/tmp/cairn-fuzz-content-XXXXXX");
    const int fd = mkstemp(path);
    if (fd < 0)
        abort();
    close(fd);
    atexit(remove_file);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *const f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        abort();
    sqlite3 *db = NULL;
    char uri[96];
    /* as content.c opens them: immutable, so an input in WAL mode leaves no
     * side files */
    snprintf(uri, sizeof uri, "file:%s?immutable=1", path);
    if (sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return 0;
    }
    size_t acc = 0;
    content_messages m;
    if (content_messages_read(db, "sms.db", count_warning, &acc, &m) == CAIRN_OK) {
        for (size_t i = 0; i < m.nchat; i++)
            for (size_t k = 0; k < m.chat[i].nmsg; k++)
                acc += m.chat[i].msg[k].text ? strlen(m.chat[i].msg[k].text) : 0;
        content_messages_free(&m);
    }
    content_photos p;
    if (content_photos_read(db, "Photos.sqlite", count_warning, &acc, &p) == CAIRN_OK) {
        for (size_t i = 0; i < p.n; i++)
            acc += strlen(p.photo[i].path);
        content_photos_free(&p);
    }
    if (content_chats_read(db, "sms.db", &m) == CAIRN_OK) {
        acc += m.nchat;
        content_messages_free(&m);
    }
    (void)content_photo_keys_read(db, "Photos.sqlite", count_key, &acc);
    content_contacts c;
    if (content_contacts_read(db, "AddressBook", count_warning, &acc, &c) == CAIRN_OK) {
        for (size_t i = 0; i < c.n; i++)
            acc += c.contact[i].nphone + c.contact[i].nemail;
        content_contacts_free(&c);
    }
    sqlite3_close(db);
    sink = acc;
    return 0;
}
