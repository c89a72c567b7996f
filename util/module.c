/* module.c - finds, loads and checks the optional modules (util/module.h). */
#include "util/module.h"

#include <assert.h>
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef CAIRN_MODULE_INSTALL_DIR
#define CAIRN_MODULE_INSTALL_DIR ""
#endif
#ifndef CAIRN_MODULE_REL_DIR
#define CAIRN_MODULE_REL_DIR "/../lib/cairn"
#endif
#ifndef CAIRN_MODULE_BUILD_DIR
#define CAIRN_MODULE_BUILD_DIR ""
#endif

enum { MODULE_MAX = 8 };

/* The modules loaded so far: a table, never unloaded (their code may sit
 * in any backend or sink still open). */
static struct {
    pthread_mutex_t lock;
    size_t n;
    struct {
        char name[32];
        const void *ops;
    } loaded[MODULE_MAX];
} module_table = {PTHREAD_MUTEX_INITIALIZER, 0, {{"", NULL}}};

static cairn_err check(const char *file, const char *name, const cairn_module *m)
{
    if (!m || m->abi != CAIRN_MODULE_ABI || !m->version || strcmp(m->version, CAIRN_MODULE_VERSION))
        return err_set(
            CAIRN_EMODULE,
            "module %s: built for another cairn (version %s, ABI %u; this is %s, ABI %d)", file,
            m && m->version ? m->version : "?", m ? (unsigned)m->abi : 0u, CAIRN_MODULE_VERSION,
            CAIRN_MODULE_ABI);
    if (!m->name || strcmp(m->name, name) || !m->ops)
        return err_set(CAIRN_EMODULE, "module %s: is not the %s module", file, name);
    return CAIRN_OK;
}

enum { DIRS_MAX = 5 };

/* The folders to look in, in order; returns how many. */
static size_t search_dirs(char dirs[DIRS_MAX][PATH_MAX])
{
    size_t n = 0;
    const char *const env = getenv("CAIRN_MODULE_DIR");
    if (env && *env) {
        snprintf(dirs[n++], PATH_MAX, "%s", env);
        return n;
    }
    char exe[PATH_MAX];
    const ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    char *const slash = len > 0 ? (exe[len] = '\0', strrchr(exe, '/')) : NULL;
    if (slash) {
        *slash = '\0';
        static const char *const rel[] = {"", "/modules", CAIRN_MODULE_REL_DIR};
        for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++)
            snprintf(dirs[n++], PATH_MAX, "%s%s", exe, rel[i]);
    }
    const char *const fixed[] = {CAIRN_MODULE_INSTALL_DIR, CAIRN_MODULE_BUILD_DIR};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (*fixed[i])
            snprintf(dirs[n++], PATH_MAX, "%s", fixed[i]);
    return n;
}

static cairn_err load(const char *name, const void **ops)
{
    char file[64];
    snprintf(file, sizeof file, "cairn-%s.so", name);
    char dirs[DIRS_MAX][PATH_MAX];
    const size_t n = search_dirs(dirs);
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/%s", dirs[i], file);
        if (access(path, F_OK) != 0)
            continue;
        /* RTLD_NOW: a symbol the executable lacks fails here, in one line,
         * not later in the middle of a copy */
        void *const h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            const char *const why = dlerror();
            return err_set(CAIRN_EMODULE, "module %s cannot be loaded: %s", path, why ? why : "?");
        }
        const cairn_module_entry_fn entry = (cairn_module_entry_fn)dlsym(h, CAIRN_MODULE_ENTRY);
        cairn_err rc;
        if (!entry) {
            const char *const why = dlerror();
            rc = err_set(CAIRN_EMODULE, "module %s: no %s (%s)", path, CAIRN_MODULE_ENTRY,
                         why ? why : "?");
        } else {
            const cairn_module *const m = entry();
            rc = check(path, name, m);
            if (!rc) {
                *ops = m->ops;
                return CAIRN_OK; /* stays loaded */
            }
        }
        dlclose(h);
        return rc;
    }
    char where[DIRS_MAX * (PATH_MAX + 2)] = "";
    size_t used = 0;
    for (size_t i = 0; i < n && used < sizeof where; i++)
        used += (size_t)snprintf(where + used, sizeof where - used, "%s%s", i ? ", " : "", dirs[i]);
    return err_set(CAIRN_EMODULE,
                   "module %s not found (looked in %s); it is installed with cairn, or set "
                   "CAIRN_MODULE_DIR",
                   file, n ? where : "no folder");
}

cairn_err module_load(const char *name, const cairn_module *linked, const void **ops)
{
    *ops = NULL;
    if (linked) {
        const cairn_err rc = check("(linked)", name, linked);
        if (!rc)
            *ops = linked->ops;
        return rc;
    }
    pthread_mutex_lock(&module_table.lock);
    cairn_err rc = CAIRN_OK;
    for (size_t i = 0; i < module_table.n; i++)
        if (strcmp(module_table.loaded[i].name, name) == 0) {
            *ops = module_table.loaded[i].ops;
            goto out;
        }
    if (strlen(name) >= sizeof module_table.loaded[0].name || module_table.n == MODULE_MAX) {
        rc = err_set(CAIRN_EMODULE, "module %s: not a module name", name);
        goto out;
    }
    rc = load(name, ops);
    if (!rc) {
        snprintf(module_table.loaded[module_table.n].name, sizeof module_table.loaded[0].name, "%s",
                 name);
        module_table.loaded[module_table.n++].ops = *ops;
    }
out:
    pthread_mutex_unlock(&module_table.lock);
    return rc;
}

const void *module_loaded(const char *name, const cairn_module *linked)
{
    const void *ops = NULL;
    const cairn_err rc = module_load(name, linked, &ops);
    assert(!rc && ops);
    (void)rc;
    return ops;
}
