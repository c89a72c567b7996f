/* password.h - where passwords come from: --password-file, an environment
 * variable, or a terminal prompt without echo.  Never argv. */
#ifndef CAIRN_PASSWORD_H
#define CAIRN_PASSWORD_H

#include <stddef.h>

#include "../store/err.h"

typedef struct password {
    char *text; /* sodium_malloc'd, NUL-terminated */
    size_t len;
} password;

/* file: a path or NULL; env: the variable to try; prompt: shown on the
 * terminal; confirm: ask twice (new passwords). */
cairn_err password_get(const char *file, const char *env, const char *prompt, int confirm,
                       password *out);
void password_free(password *p);

#endif
