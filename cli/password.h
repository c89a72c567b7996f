/* password.h - where passwords come from: --password-file, an environment
 * variable, or a terminal prompt without echo.  Never argv.  A password
 * file that its group or others can read is used, with a warning on
 * stderr. */
#ifndef CAIRN_PASSWORD_H
#define CAIRN_PASSWORD_H

#include <stddef.h>

#include "util/err.h"

typedef struct password {
    char *text; /* sodium_malloc'd, NUL-terminated */
    size_t len;
} password;

/* file: a path or NULL; env: the variable to try; prompt: shown on the
 * terminal; confirm: ask twice (new passwords). */
cairn_err password_get(const char *file, const char *env, const char *prompt, int confirm,
                       password *out);
/* The same for a password that may be left out: *have is 0 (and out holds
 * nothing) when neither file nor env gives one and there is no terminal,
 * or the answer at the prompt is empty. */
cairn_err password_get_optional(const char *file, const char *env, const char *prompt,
                                password *out, int *have);
/* A warning on stderr if the store's password file (file may be NULL) can
 * be read by its group or others; it is still used. */
void password_warn_readable(const char *file);
/* Its length in characters (UTF-8), for the warning about short ones. */
size_t password_chars(const password *p);
/* A new password shorter than this is warned about (init). */
enum { PASSWORD_WARN_BELOW = 12 };
void password_free(password *p);

#endif
