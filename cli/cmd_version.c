/* cmd_version.c - cairn version (and cairn --version): cairn's version and
 * those of the libraries it runs on.  libsodium, zstd, LMDB, SQLite and
 * OpenSSL report the version actually loaded; libimobiledevice and libplist
 * have no call for it, and libssh and libcurl are linked only by modules
 * (util/module.h) that --version does not load, so those four are the
 * versions cairn was built against
 * (pkg-config, passed in by CMakeLists.txt). */
#include <stdio.h>

#include <lmdb.h>
#include <openssl/crypto.h>
#include <sodium.h>
#include <sqlite3.h>
#include <zstd.h>

#include "cli.h"

#ifndef CAIRN_VERSION
#define CAIRN_VERSION "unknown"
#endif
#ifndef CAIRN_IMOBILEDEVICE_VERSION
#define CAIRN_IMOBILEDEVICE_VERSION "unknown"
#endif
#ifndef CAIRN_PLIST_VERSION
#define CAIRN_PLIST_VERSION "unknown"
#endif
#ifndef CAIRN_LIBSSH_VERSION
#define CAIRN_LIBSSH_VERSION "unknown"
#endif
#ifndef CAIRN_CURL_VERSION
#define CAIRN_CURL_VERSION "unknown"
#endif

int cmd_version(cli *c)
{
    int major, minor, patch;
    if (c->nargs)
        return cli_usage_error(&cli_cmd_version);
    mdb_version(&major, &minor, &patch);
    printf("cairn %s\n", CAIRN_VERSION);
    printf("libsodium %s\n", sodium_version_string());
    printf("zstd %s\n", ZSTD_versionString());
    printf("LMDB %d.%d.%d\n", major, minor, patch);
    printf("SQLite %s\n", sqlite3_libversion());
    printf("libimobiledevice %s\n", CAIRN_IMOBILEDEVICE_VERSION);
    printf("libplist %s\n", CAIRN_PLIST_VERSION);
#ifdef OPENSSL_VERSION_STRING
    printf("OpenSSL %s\n", OpenSSL_version(OPENSSL_VERSION_STRING));
#else
    printf("%s\n", OpenSSL_version(OPENSSL_VERSION));
#endif
    printf("libssh %s\n", CAIRN_LIBSSH_VERSION);
    printf("libcurl %s\n", CAIRN_CURL_VERSION);
    return EXIT_OK;
}

static const char *const version_synopsis[] = {"", NULL};

const cli_command cli_cmd_version = {
    .name = "version",
    .summary = "show the versions of cairn and of the libraries it uses",
    .synopsis = version_synopsis,
    .run = cmd_version,
};
