#include "engine/service/policy.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/codec.h"
#include "util/fsutil.h"
#include "util/grow.h"

enum { LINE_MAX_LEN = 4096, SECTION_NAME_MAX = 256 };

typedef struct pf_pair {
    char *key, *value;
} pf_pair;

typedef struct pf_section {
    char *name; /* "default" or the device */
    pf_pair *pairs;
    size_t count, cap;
    int seen; /* its header was read ([default] exists before it is seen) */
} pf_section;

struct policy_file {
    pf_section *sections; /* [0] is default, always */
    size_t count, cap;
};

const char *const policy_keys[] = {
    "interval",
    "hours",
    "network",
    "keep-last",
    "keep-hourly",
    "keep-daily",
    "keep-weekly",
    "keep-monthly",
    "keep-yearly",
    "targets",
    "alarms",
    "overdue-days",
    "copies-behind-days",
    "check-subset",
    "store-password-file",
    "backup-password-file",
    NULL,
};

static void defaults(policy *p)
{
    memset(p, 0, sizeof *p);
    p->interval = 24 * 3600;
    p->wifi = 1;
    snprintf(p->targets, sizeof p->targets, "all");
    p->overdue_days = 3;
    p->copies_behind_days = 3;
    p->check_subset = 5;
}

cairn_err policy_parse_duration(const char *text, int64_t *seconds)
{
    const char *p = text;
    int64_t total = 0;
    if (!*p)
        return err_set(CAIRN_EINVAL, "'%s' is not a duration (30m, 24h, 7d)", text);
    while (*p) {
        if (!isdigit((unsigned char)*p))
            return err_set(CAIRN_EINVAL, "'%s' is not a duration (30m, 24h, 7d)", text);
        errno = 0;
        char *end;
        const unsigned long long v = strtoull(p, &end, 10);
        int64_t unit = 1;
        switch (*end) {
        case 's':
            unit = 1;
            end++;
            break;
        case 'm':
            unit = 60;
            end++;
            break;
        case 'h':
            unit = 3600;
            end++;
            break;
        case 'd':
            unit = 86400;
            end++;
            break;
        case '\0':
            if (p != text)
                return err_set(CAIRN_EINVAL, "'%s': a number needs a unit here (s, m, h, d)", text);
            break;
        default:
            return err_set(CAIRN_EINVAL, "'%s' is not a duration (30m, 24h, 7d)", text);
        }
        if (errno || v > (uint64_t)(INT64_MAX / 86400 / 4) || total > INT64_MAX / 4)
            return err_set(CAIRN_EINVAL, "'%s': too long", text);
        total += (int64_t)v * unit;
        p = end;
    }
    if (total <= 0)
        return err_set(CAIRN_EINVAL, "'%s': must be longer than nothing", text);
    *seconds = total;
    return CAIRN_OK;
}

static cairn_err parse_int(const char *key, const char *v, int min, int max, int *out)
{
    char *end;
    errno = 0;
    const long n = strtol(v, &end, 10);
    if (!isdigit((unsigned char)*v) || *end || errno || n < min || n > max)
        return err_set(CAIRN_EINVAL, "%s: '%s' is not a number from %d to %d", key, v, min, max);
    *out = (int)n;
    return CAIRN_OK;
}

static cairn_err parse_hours(const char *v, int *from, int *to)
{
    int a, b, n = 0;
    if (strcmp(v, "any") == 0) {
        *from = *to = 0;
        return CAIRN_OK;
    }
    if (sscanf(v, "%2d-%2d%n", &a, &b, &n) != 2 || (size_t)n != strlen(v) ||
        !isdigit((unsigned char)v[0]) || a < 0 || a > 23 || b < 0 || b > 24 || a == b)
        return err_set(CAIRN_EINVAL, "hours: '%s' is not 'any' or a range of hours like 01-06", v);
    *from = a;
    *to = b;
    return CAIRN_OK;
}

static int printable(const char *v)
{
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return 0;
    return 1;
}

static cairn_err copy_text(const char *key, const char *v, char *out, size_t cap)
{
    if (strlen(v) >= cap)
        return err_set(CAIRN_EINVAL, "%s: longer than %zu bytes", key, cap - 1);
    snprintf(out, cap, "%s", v);
    return CAIRN_OK;
}

static cairn_err parse_targets(const char *v, char *out, size_t cap)
{
    if (!*v)
        return err_set(CAIRN_EINVAL, "targets: empty (say 'all' or 'none')");
    for (const char *p = v; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("_.-,", *p))
            return err_set(CAIRN_EINVAL,
                           "targets: '%s' is not 'all', 'none' or target names separated by commas",
                           v);
    return copy_text("targets", v, out, cap);
}

static cairn_err parse_secret(const char *key, const char *v, char *out, size_t cap)
{
    if (strncmp(v, "credential:", 11) == 0 ? !v[11] || strchr(v + 11, '/') : v[0] != '/')
        return err_set(CAIRN_EINVAL, "%s: '%s' is not an absolute path or credential:NAME", key, v);
    return copy_text(key, v, out, cap);
}

/* Applies one key: the one place a value is validated. */
static cairn_err apply(policy *p, const char *key, const char *v)
{
    static const char *const keeps[] = {"keep-last",   "keep-hourly",  "keep-daily",
                                        "keep-weekly", "keep-monthly", "keep-yearly"};
    int *const keepv[] = {&p->keep.last,   &p->keep.hourly,  &p->keep.daily,
                          &p->keep.weekly, &p->keep.monthly, &p->keep.yearly};
    if (!printable(v))
        return err_set(CAIRN_EINVAL, "%s: the value holds a control character", key);
    for (size_t i = 0; i < sizeof keeps / sizeof keeps[0]; i++)
        if (strcmp(key, keeps[i]) == 0)
            return parse_int(key, v, 0, 100000, keepv[i]);
    if (strcmp(key, "interval") == 0) {
        const cairn_err rc = policy_parse_duration(v, &p->interval);
        return rc ? err_set(rc, "interval: %s", err_msg()) : CAIRN_OK;
    }
    if (strcmp(key, "hours") == 0)
        return parse_hours(v, &p->hour_from, &p->hour_to);
    if (strcmp(key, "network") == 0) {
        if (strcmp(v, "usb") != 0 && strcmp(v, "wifi") != 0)
            return err_set(CAIRN_EINVAL, "network: '%s' is not usb or wifi", v);
        p->wifi = strcmp(v, "wifi") == 0;
        return CAIRN_OK;
    }
    if (strcmp(key, "targets") == 0)
        return parse_targets(v, p->targets, sizeof p->targets);
    if (strcmp(key, "alarms") == 0)
        return copy_text(key, v, p->alarms, sizeof p->alarms);
    if (strcmp(key, "overdue-days") == 0)
        return parse_int(key, v, 1, 3650, &p->overdue_days);
    if (strcmp(key, "copies-behind-days") == 0)
        return parse_int(key, v, 1, 3650, &p->copies_behind_days);
    if (strcmp(key, "check-subset") == 0) {
        char num[16];
        const size_t n = strlen(v);
        if (n == 0 || n >= sizeof num)
            return err_set(CAIRN_EINVAL, "check-subset: '%s' is not a percentage", v);
        snprintf(num, sizeof num, "%s", v);
        if (num[n - 1] == '%')
            num[n - 1] = '\0';
        return parse_int(key, num, 0, 100, &p->check_subset);
    }
    if (strcmp(key, "store-password-file") == 0)
        return parse_secret(key, v, p->store_password_file, sizeof p->store_password_file);
    if (strcmp(key, "backup-password-file") == 0)
        return parse_secret(key, v, p->backup_password_file, sizeof p->backup_password_file);
    return err_set(CAIRN_EINVAL, "unknown key '%s' (see docs/SERVICE.md)", key);
}

void policy_format(const policy *p, const char *key, char *out, size_t cap)
{
    const forget_policy *const k = &p->keep;
    if (strcmp(key, "interval") == 0) {
        const int64_t s = p->interval;
        if (s % 86400 == 0)
            snprintf(out, cap, "%lldd", (long long)(s / 86400));
        else if (s % 3600 == 0)
            snprintf(out, cap, "%lldh", (long long)(s / 3600));
        else if (s % 60 == 0)
            snprintf(out, cap, "%lldm", (long long)(s / 60));
        else
            snprintf(out, cap, "%llds", (long long)s);
    } else if (strcmp(key, "hours") == 0) {
        if (p->hour_from == p->hour_to)
            snprintf(out, cap, "any");
        else
            snprintf(out, cap, "%02d-%02d", p->hour_from, p->hour_to);
    } else if (strcmp(key, "network") == 0) {
        snprintf(out, cap, "%s", p->wifi ? "wifi" : "usb");
    } else if (strcmp(key, "keep-last") == 0) {
        snprintf(out, cap, "%d", k->last);
    } else if (strcmp(key, "keep-hourly") == 0) {
        snprintf(out, cap, "%d", k->hourly);
    } else if (strcmp(key, "keep-daily") == 0) {
        snprintf(out, cap, "%d", k->daily);
    } else if (strcmp(key, "keep-weekly") == 0) {
        snprintf(out, cap, "%d", k->weekly);
    } else if (strcmp(key, "keep-monthly") == 0) {
        snprintf(out, cap, "%d", k->monthly);
    } else if (strcmp(key, "keep-yearly") == 0) {
        snprintf(out, cap, "%d", k->yearly);
    } else if (strcmp(key, "targets") == 0) {
        snprintf(out, cap, "%s", p->targets);
    } else if (strcmp(key, "alarms") == 0) {
        snprintf(out, cap, "%s", p->alarms);
    } else if (strcmp(key, "overdue-days") == 0) {
        snprintf(out, cap, "%d", p->overdue_days);
    } else if (strcmp(key, "copies-behind-days") == 0) {
        snprintf(out, cap, "%d", p->copies_behind_days);
    } else if (strcmp(key, "check-subset") == 0) {
        snprintf(out, cap, "%d%%", p->check_subset);
    } else if (strcmp(key, "store-password-file") == 0) {
        snprintf(out, cap, "%s", p->store_password_file);
    } else if (strcmp(key, "backup-password-file") == 0) {
        snprintf(out, cap, "%s", p->backup_password_file);
    } else {
        snprintf(out, cap, "?");
    }
}

cairn_err policy_default_path(char *out, size_t cap)
{
    const char *const xdg = getenv("XDG_CONFIG_HOME");
    const char *const home = getenv("HOME");
    int n;
    if (xdg && *xdg)
        n = snprintf(out, cap, "%s/cairn/policy.conf", xdg);
    else if (home && *home)
        n = snprintf(out, cap, "%s/.config/cairn/policy.conf", home);
    else
        return err_set(CAIRN_EINVAL, "no folder for policy.conf (set XDG_CONFIG_HOME or HOME)");
    return n < 0 || (size_t)n >= cap ? err_set(CAIRN_EINVAL, "policy path too long") : CAIRN_OK;
}

cairn_err policy_secret_path(const char *setting, char *out, size_t cap)
{
    if (strncmp(setting, "credential:", 11) != 0) {
        snprintf(out, cap, "%s", setting);
        return CAIRN_OK;
    }
    const char *const dir = getenv("CREDENTIALS_DIRECTORY");
    if (!dir || !*dir)
        return err_set(CAIRN_EINVAL,
                       "%s: $CREDENTIALS_DIRECTORY is not set (systemd's LoadCredential= sets it)",
                       setting);
    if (snprintf(out, cap, "%s/%s", dir, setting + 11) >= (int)cap)
        return err_set(CAIRN_EINVAL, "%s: path too long", setting);
    return CAIRN_OK;
}

/* ---- the file ---- */

void policy_file_free(policy_file *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->count; i++) {
        for (size_t k = 0; k < f->sections[i].count; k++) {
            free(f->sections[i].pairs[k].key);
            free(f->sections[i].pairs[k].value);
        }
        free(f->sections[i].pairs);
        free(f->sections[i].name);
    }
    free(f->sections);
    free(f);
}

static pf_section *find_section(const policy_file *f, const char *name)
{
    for (size_t i = 0; i < f->count; i++)
        if (strcmp(f->sections[i].name, name) == 0)
            return &f->sections[i];
    return NULL;
}

static cairn_err add_section(policy_file *f, const char *name)
{
    cairn_err rc = util_grow(&f->sections, &f->cap, f->count + 1, sizeof *f->sections);
    if (rc)
        return rc;
    pf_section *const s = &f->sections[f->count];
    memset(s, 0, sizeof *s);
    if (!(s->name = strdup(name)))
        return err_set(CAIRN_ENOMEM, "out of memory");
    f->count++;
    return CAIRN_OK;
}

static cairn_err add_pair(pf_section *s, const char *key, const char *value)
{
    cairn_err rc = util_grow(&s->pairs, &s->cap, s->count + 1, sizeof *s->pairs);
    if (rc)
        return rc;
    pf_pair *const p = &s->pairs[s->count];
    p->key = strdup(key);
    p->value = strdup(value);
    if (!p->key || !p->value) {
        free(p->key);
        free(p->value);
        return err_set(CAIRN_ENOMEM, "out of memory");
    }
    s->count++;
    return CAIRN_OK;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

typedef enum line_kind { LINE_OTHER, LINE_SECTION, LINE_PAIR } line_kind;

/* One line (modified in place): its kind, and the section name or key and
 * value it holds; CAIRN_EINVAL without file and line (the caller adds them). */
static cairn_err parse_line(char *line, line_kind *kind, char **a, char **b)
{
    char *const t = trim(line);
    *kind = LINE_OTHER;
    if (!*t || *t == '#' || *t == ';')
        return CAIRN_OK;
    if (!printable(t))
        return err_set(CAIRN_EINVAL, "a control character");
    if (*t == '[') {
        const size_t n = strlen(t);
        if (t[n - 1] != ']')
            return err_set(CAIRN_EINVAL, "a section header must end with ']'");
        t[n - 1] = '\0';
        char *const name = trim(t + 1);
        if (strcmp(name, "default") == 0) {
            *a = name;
        } else if (strncmp(name, "device", 6) == 0 &&
                   (name[6] == ' ' || name[6] == '\t' || name[6] == '\0')) {
            *a = name[6] ? trim(name + 7) : name + 6;
            if (!**a || strlen(*a) >= SECTION_NAME_MAX || strchr(*a, ']') || strchr(*a, '['))
                return err_set(CAIRN_EINVAL, "[device NAME]: a device name or UDID is needed");
            if (strcmp(*a, "default") == 0)
                return err_set(CAIRN_EINVAL, "a device cannot be named 'default'");
        } else {
            return err_set(CAIRN_EINVAL, "sections are [default] and [device NAME|UDID]");
        }
        *kind = LINE_SECTION;
        return CAIRN_OK;
    }
    char *const eq = strchr(t, '=');
    if (!eq)
        return err_set(CAIRN_EINVAL, "expected 'key = value'");
    *eq = '\0';
    *a = trim(t);
    *b = trim(eq + 1);
    if (!**a)
        return err_set(CAIRN_EINVAL, "a key is missing before '='");
    *kind = LINE_PAIR;
    return CAIRN_OK;
}

cairn_err policy_parse(const char *text, size_t len, const char *name, policy_file **out)
{
    policy_file *f = calloc(1, sizeof *f);
    char line[LINE_MAX_LEN + 1];
    pf_section *cur = NULL;
    size_t lineno = 0;
    cairn_err rc = CAIRN_OK;
    *out = NULL;
    if (!f)
        return err_set(CAIRN_ENOMEM, "out of memory");
    if (len > POLICY_MAX_BYTES) {
        rc = err_set(CAIRN_EINVAL, "%s: larger than %d bytes", name, POLICY_MAX_BYTES);
        goto fail;
    }
    if ((rc = add_section(f, "default")))
        goto fail;
    for (size_t pos = 0; pos < len;) {
        const char *const nl = memchr(text + pos, '\n', len - pos);
        const size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
        lineno++;
        if (n > LINE_MAX_LEN) {
            rc = err_set(CAIRN_EINVAL, "%s:%zu: line longer than %d bytes", name, lineno,
                         LINE_MAX_LEN);
            goto fail;
        }
        if (memchr(text + pos, '\0', n)) {
            rc = err_set(CAIRN_EINVAL, "%s:%zu: a NUL byte", name, lineno);
            goto fail;
        }
        memcpy(line, text + pos, n);
        line[n] = '\0';
        pos += n + (nl ? 1 : 0);
        line_kind kind;
        char *a = NULL, *b = NULL;
        if ((rc = parse_line(line, &kind, &a, &b))) {
            rc = err_set(rc, "%s:%zu: %s", name, lineno, err_msg());
            goto fail;
        }
        if (kind == LINE_SECTION) {
            cur = find_section(f, a);
            if (cur && cur->seen) {
                rc = err_set(CAIRN_EINVAL, "%s:%zu: section [%s%s] given twice", name, lineno,
                             cur == &f->sections[0] ? "" : "device ", a);
                goto fail;
            }
            if (!cur) {
                if ((rc = add_section(f, a)))
                    goto fail;
                cur = &f->sections[f->count - 1];
            }
            cur->seen = 1;
            continue;
        }
        if (kind != LINE_PAIR)
            continue;
        if (!cur) {
            rc = err_set(CAIRN_EINVAL, "%s:%zu: '%s' comes before any [section]", name, lineno, a);
            goto fail;
        }
        for (size_t k = 0; k < cur->count; k++)
            if (strcmp(cur->pairs[k].key, a) == 0) {
                rc = err_set(CAIRN_EINVAL, "%s:%zu: '%s' given twice in this section", name, lineno,
                             a);
                goto fail;
            }
        policy scratch;
        defaults(&scratch);
        if ((rc = apply(&scratch, a, b))) {
            rc = err_set(rc, "%s:%zu: %s", name, lineno, err_msg());
            goto fail;
        }
        if ((rc = add_pair(cur, a, b)))
            goto fail;
    }
    *out = f;
    return CAIRN_OK;
fail:
    policy_file_free(f);
    return rc;
}

cairn_err policy_load(const char *path, policy_file **out)
{
    uint8_t *data = NULL;
    size_t len = 0;
    cairn_err rc = fs_read_file(path, POLICY_MAX_BYTES, &data, &len);
    if (rc == CAIRN_ENOTFOUND)
        return policy_parse("", 0, path, out);
    if (rc)
        return rc;
    rc = policy_parse((const char *)data, len, path, out);
    free(data);
    return rc;
}

size_t policy_sections(const policy_file *f)
{
    return f->count;
}

static void apply_section(policy *p, const pf_section *s)
{
    for (size_t k = 0; k < s->count; k++)
        (void)apply(p, s->pairs[k].key, s->pairs[k].value); /* validated when parsed */
}

cairn_err policy_section(const policy_file *f, size_t i, const char **name, policy *out)
{
    if (i >= f->count)
        return err_set(CAIRN_ENOTFOUND, "no section %zu", i);
    defaults(out);
    apply_section(out, &f->sections[0]);
    if (i)
        apply_section(out, &f->sections[i]);
    *name = f->sections[i].name;
    return CAIRN_OK;
}

void policy_for(const policy_file *f, const char *udid, const char *name, policy *out)
{
    const pf_section *s = udid && *udid ? find_section(f, udid) : NULL;
    if (!s && name && *name)
        s = find_section(f, name);
    defaults(out);
    apply_section(out, &f->sections[0]);
    if (s && s != &f->sections[0])
        apply_section(out, s);
}

/* ---- policy_set: edit the lines, keep the rest ---- */

/* The new text: data with key's line in section replaced, or added after
 * the section's last line of substance, or a new section. */
static void edit_text(const char *data, size_t len, const char *section, const char *key,
                      const char *value, cbuf *out)
{
    const int is_default = strcmp(section, "default") == 0;
    int in = 0, replaced = 0, found = 0;
    size_t insert_at = 0;
    for (size_t pos = 0; pos < len;) {
        const char *const nl = memchr(data + pos, '\n', len - pos);
        const size_t n = nl ? (size_t)(nl - (data + pos)) : len - pos;
        char line[LINE_MAX_LEN + 1];
        line_kind kind;
        char *a = NULL, *b = NULL;
        snprintf(line, sizeof line, "%.*s", (int)n, data + pos);
        if (parse_line(line, &kind, &a, &b))
            kind = LINE_OTHER; /* cannot happen: the text parsed */
        if (kind == LINE_SECTION) {
            in = strcmp(a, section) == 0; /* no device is named "default" */
            found |= in;
        }
        if (in && kind == LINE_PAIR && strcmp(a, key) == 0) {
            cbuf_printf(out, "%s = %s\n", key, value);
            replaced = 1;
        } else {
            cbuf_put(out, data + pos, n);
            cbuf_put(out, "\n", 1);
        }
        if (in && kind != LINE_OTHER)
            insert_at = out->len;
        pos += n + (nl ? 1 : 0);
    }
    if (replaced)
        return;
    cbuf add;
    cbuf_init(&add);
    if (!found && is_default)
        cbuf_puts(&add, "[default]\n");
    else if (!found)
        cbuf_printf(&add, "%s[device %s]\n", out->len ? "\n" : "", section);
    cbuf_printf(&add, "%s = %s\n", key, value);
    if (!found && is_default)
        cbuf_put(&add, "\n", out->len ? 1 : 0);
    const size_t at = found ? insert_at : is_default ? 0 : out->len;
    /* insert add at offset at */
    if (cbuf_reserve(out, add.len + 1)) {
        memmove(out->data + at + add.len, out->data + at, out->len - at);
        memcpy(out->data + at, add.data, add.len);
        out->len += add.len;
        out->data[out->len] = '\0';
    }
    out->failed |= add.failed;
    cbuf_free(&add);
}

cairn_err policy_set(const char *path, const char *device, const char *assignment)
{
    uint8_t *data = NULL;
    size_t len = 0;
    policy_file *f = NULL;
    cbuf out;
    char key[128], dir[PATH_MAX];
    const char *const eq = strchr(assignment, '=');
    cbuf_init(&out);
    if (!eq || eq == assignment || (size_t)(eq - assignment) >= sizeof key)
        return err_set(CAIRN_EINVAL, "'%s' is not key=value", assignment);
    snprintf(key, sizeof key, "%.*s", (int)(eq - assignment), assignment);
    const char *const value = eq + 1;
    if (!*device || strlen(device) >= SECTION_NAME_MAX || strchr(device, ']') ||
        strchr(device, '[') || !printable(device) || device[0] == ' ' ||
        device[strlen(device) - 1] == ' ')
        return err_set(CAIRN_EINVAL, "'%s' cannot name a device section", device);
    if (!printable(value) || strlen(value) > LINE_MAX_LEN - 200)
        return err_set(CAIRN_EINVAL, "%s: the value holds a control character or is too long", key);
    policy scratch;
    defaults(&scratch);
    cairn_err rc = apply(&scratch, key, value);
    if (rc)
        return rc;
    rc = fs_read_file(path, POLICY_MAX_BYTES, &data, &len);
    if (rc == CAIRN_ENOTFOUND) {
        rc = CAIRN_OK;
        len = 0;
    }
    if (!rc) /* the file must be sound before it is edited */
        rc = policy_parse((const char *)data, len, path, &f);
    if (rc)
        goto done;
    edit_text((const char *)data, len, device, key, value, &out);
    if (out.failed) {
        rc = err_set(CAIRN_ENOMEM, "out of memory");
        goto done;
    }
    policy_file_free(f);
    f = NULL;
    rc = policy_parse((const char *)out.data, out.len, path, &f); /* what we write parses */
    if (rc)
        goto done;
    snprintf(dir, sizeof dir, "%s", path);
    char *const slash = strrchr(dir, '/');
    const char *const base = slash ? path + (slash - dir) + 1 : path;
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    rc = fs_mkdirs(dir, 0700);
    if (!rc)
        rc = fs_write_atomic(dir, base, out.data, out.len, 0600);
done:
    policy_file_free(f);
    free(data);
    cbuf_free(&out);
    return rc;
}
