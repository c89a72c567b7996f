#include "password.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

enum { PASSWORD_MAX = 4096 };

static cairn_err alloc_text(password *out)
{
    out->text = sodium_malloc(PASSWORD_MAX + 1);
    if (!out->text)
        return err_set(CAIRN_ENOMEM, "out of memory for the password");
    out->len = 0;
    out->text[0] = '\0';
    return CAIRN_OK;
}

static cairn_err from_file(const char *path, password *out)
{
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    /* no password available is a usage error (exit 2), not "not found" (12,
     * which scripts read as a missing snapshot) */
    if (fd < 0)
        return err_set(CAIRN_EINVAL, "%s: cannot read the password file: %s", path,
                       strerror(errno));
    ssize_t n;
    do
        n = read(fd, out->text, PASSWORD_MAX);
    while (n < 0 && errno == EINTR);
    const int e = errno;
    close(fd);
    /* a folder given by mistake fails here, not at open: the same usage error */
    if (n < 0)
        return err_set(CAIRN_EINVAL, "%s: cannot read the password file: %s", path, strerror(e));
    out->len = (size_t)n;
    out->text[out->len] = '\0';
    out->len = strcspn(out->text, "\r\n"); /* the first line is the password */
    out->text[out->len] = '\0';
    if (out->len == 0)
        return err_set(CAIRN_EINVAL, "%s: password file is empty", path);
    return CAIRN_OK;
}

static cairn_err prompt_tty(const char *prompt, char *buf, size_t *len)
{
    struct termios old, quiet;
    const int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return err_set(CAIRN_EINVAL, "no password given: use --password-file FILE, set the "
                                     "environment variable, or run in a terminal");
    if (tcgetattr(fd, &old) != 0) {
        close(fd);
        return err_set(CAIRN_EINVAL, "no password given and no terminal to ask on");
    }
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
    quiet.c_lflag |= ICANON;
    if (write(fd, prompt, strlen(prompt)) < 0 || tcsetattr(fd, TCSAFLUSH, &quiet) != 0) {
        close(fd);
        return err_set(CAIRN_EIO, "cannot turn off echo on the terminal");
    }
    size_t n = 0;
    for (;;) {
        char ch;
        const ssize_t r = read(fd, &ch, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || ch == '\n' || ch == '\r')
            break;
        if (n < PASSWORD_MAX)
            buf[n++] = ch;
    }
    buf[n] = '\0';
    tcsetattr(fd, TCSAFLUSH, &old);
    if (write(fd, "\n", 1) < 0) {
        /* only cosmetic */
    }
    close(fd);
    *len = n;
    return CAIRN_OK;
}

cairn_err password_get(const char *file, const char *env, const char *prompt, int confirm,
                       password *out)
{
    cairn_err rc = alloc_text(out);
    if (rc)
        return rc;
    if (file) {
        rc = from_file(file, out);
    } else if (env && getenv(env) && *getenv(env)) {
        const char *const v = getenv(env);
        out->len = strlen(v);
        if (out->len > PASSWORD_MAX)
            rc = err_set(CAIRN_EINVAL, "%s: password too long", env);
        else
            memcpy(out->text, v, out->len + 1);
    } else {
        rc = prompt_tty(prompt, out->text, &out->len);
        if (rc == CAIRN_EINVAL && env)
            rc = err_set(CAIRN_EINVAL,
                         "no password given (%.*s): use its --*password-file "
                         "option, set $%s, or run in a terminal",
                         (int)strcspn(prompt, ":"), prompt, env);
        if (!rc && out->len == 0)
            rc = err_set(CAIRN_EINVAL, "empty password");
        if (!rc && confirm) {
            char *const again = sodium_malloc(PASSWORD_MAX + 1);
            size_t len2 = 0;
            if (!again)
                rc = err_set(CAIRN_ENOMEM, "out of memory");
            if (!rc)
                rc = prompt_tty("Repeat password: ", again, &len2);
            if (!rc && (len2 != out->len || sodium_memcmp(again, out->text, len2) != 0))
                rc = err_set(CAIRN_EINVAL, "the passwords do not match");
            if (again)
                sodium_free(again);
        }
    }
    if (rc)
        password_free(out);
    return rc;
}

cairn_err password_get_optional(const char *file, const char *env, const char *prompt,
                                password *out, int *have)
{
    *have = 0;
    if (file || (env && getenv(env) && *getenv(env))) {
        const cairn_err rc = password_get(file, env, prompt, 0, out);
        *have = rc == CAIRN_OK;
        return rc;
    }
    const int tty = open("/dev/tty", O_RDWR | O_CLOEXEC);
    if (tty < 0)
        return CAIRN_OK;
    close(tty);
    cairn_err rc = alloc_text(out);
    if (!rc)
        rc = prompt_tty(prompt, out->text, &out->len);
    if (rc || out->len == 0) {
        password_free(out);
        return rc;
    }
    *have = 1;
    return CAIRN_OK;
}

void password_warn_readable(const char *file)
{
    struct stat st;
    /* as ssh does for a private key: whoever can read it can open the store */
    if (file && stat(file, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & (S_IRGRP | S_IROTH)))
        fprintf(stderr, "cairn: warning: %s: password file is readable by %s (chmod 600 %s)\n",
                file, (st.st_mode & S_IROTH) ? "others" : "its group", file);
}

size_t password_chars(const password *p)
{
    size_t n = 0;
    for (size_t i = 0; i < p->len; i++)
        n += ((unsigned char)p->text[i] & 0xC0) != 0x80; /* not a UTF-8 continuation */
    return n;
}

void password_free(password *p)
{
    if (p->text)
        sodium_free(p->text);
    p->text = NULL;
    p->len = 0;
}
