/* module.h - the optional parts of cairn, loaded only when used (prefix
 * module_).
 *
 * The S3 and SFTP backends, the FUSE mount, the web page and the alarm
 * senders pull in large libraries (libcurl and its TLS chain, libssh,
 * libfuse3, libmicrohttpd, libdbus-1) that a local backup never needs.  The
 * cairn executable does not link them: each lives in a module,
 * cairn-<name>.so, which the first use dlopen()s (docs/DESIGN.md, "Modules").
 *
 * A module exports one symbol, cairn_module_entry (CAIRN_MODULE_ENTRY), a
 * function returning its cairn_module: the ABI number and version it was
 * built for, its name and its ops table (a struct of function pointers the
 * caller knows by the name: backend_module_ops, mount_module_ops,
 * web_module_ops, alarm_module_ops).  A module calls back into the
 * executable (err_set, the engine API), so it must come from the same build:
 * a module of another version or ABI is refused.
 *
 * Where a module is looked for, first hit wins:
 *   $CAIRN_MODULE_DIR (only there, when set: tests, a private build)
 *   the executable's folder, its modules/ and ../LIBDIR/cairn/ (an install)
 *   the install folder compiled in (CMAKE_INSTALL_FULL_LIBDIR/cairn)
 *   the build folder compiled in (a build/cairn copied elsewhere)
 *
 * A program that links an optional part's static library (unit tests,
 * fuzzers) passes its cairn_module as `linked` and nothing is loaded.
 * Loaded modules stay loaded until the process exits; module_load is
 * thread-safe. */
#ifndef CAIRN_MODULE_H
#define CAIRN_MODULE_H

#include <stdint.h>

#include "util/err.h"

/* Bumped whenever an ops table or a struct passed to a module changes. */
enum { CAIRN_MODULE_ABI = 2 };
#define CAIRN_MODULE_ENTRY "cairn_module_entry"

typedef struct cairn_module {
    uint32_t abi;        /* CAIRN_MODULE_ABI of the build */
    const char *version; /* CAIRN_MODULE_VERSION of the build */
    const char *name;    /* "s3": the file is cairn-s3.so */
    const void *ops;     /* the module's ops table */
} cairn_module;

/* What a module's part defines (name a string, ops the address of its
 * table); the module's entry returns its address. */
#define CAIRN_MODULE_DEFINE(sym, name_, ops_)                                                      \
    const cairn_module sym = {CAIRN_MODULE_ABI, CAIRN_MODULE_VERSION, name_, ops_}

/* The signature of cairn_module_entry. */
typedef const cairn_module *(*cairn_module_entry_fn)(void);

/* *ops = the ops table of module name: linked's when linked is not NULL,
 * else the module's, loaded on first use.  CAIRN_EMODULE with one line
 * naming the file and why (dlerror(), or every folder looked in when no
 * folder has it, or the version that does not match). */
cairn_err module_load(const char *name, const cairn_module *linked, const void **ops);

/* The ops of a module an earlier module_load gave, for calls that need an
 * object only the loaded module makes (a sink, a connected device): it is
 * loaded by then (asserted). */
const void *module_loaded(const char *name, const cairn_module *linked);

#endif
