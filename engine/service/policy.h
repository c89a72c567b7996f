/* policy.h - what the service does for each device: the policy file.
 *
 * One text file, $XDG_CONFIG_HOME/cairn/policy.conf (else
 * ~/.config/cairn/policy.conf), INI-like (docs/SERVICE.md):
 *
 *   # comments and blank lines are kept by policy_set
 *   [default]
 *   interval = 24h
 *   keep-daily = 7
 *   [device Anna's iPhone]        # or [device UDID]
 *   network = wifi
 *
 * A device's policy is the built-in defaults, then [default], then its own
 * section (matched by UDID first, then by name).  The parser is strict: an
 * unknown key, a value out of range, a key given twice in a section, a
 * section given twice or a key outside any section is an error naming the
 * file and line (the file is untrusted text: fuzz/fuzz_policy.c).  Password
 * files are named, never given: a path, or "credential:NAME" for
 * $CREDENTIALS_DIRECTORY/NAME (systemd's LoadCredential=). */
#ifndef CAIRN_POLICY_H
#define CAIRN_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "engine/core/prune.h"

enum { POLICY_MAX_BYTES = 1 << 20 };

/* One device's effective policy (or a section's, merged over the defaults). */
typedef struct policy {
    int64_t interval;       /* seconds between backups (default 24 h) */
    int hour_from, hour_to; /* backups start only in [from, to) local hours; from == to: any */
    int wifi;               /* 1: over Wi-Fi too; 0: USB only (default 1) */
    forget_policy keep;     /* retention (all 0: none applied) */
    char targets[512];      /* target names, comma-separated; "all" (default) or "none" */
    char alarms[1024];      /* alarm sink specs separated by ';' ("" none) */
    int overdue_days;       /* default 3 */
    int copies_behind_days; /* default 3 */
    int check_subset;       /* percent of packs read after each backup (default 5; 0 none) */
    char store_password_file[512];  /* path or credential:NAME ("" none) */
    char backup_password_file[512]; /* path or credential:NAME ("" none) */
} policy;

typedef struct policy_file policy_file;

/* The path: $XDG_CONFIG_HOME/cairn/policy.conf, else ~/.config/cairn/... */
cairn_err policy_default_path(char *out, size_t cap);

/* Parses text (name is used in messages: "NAME:LINE: ...").  CAIRN_EINVAL
 * with the first problem. */
cairn_err policy_parse(const char *text, size_t len, const char *name, policy_file **out);
/* Reads and parses path; a missing file is an empty one (all defaults). */
cairn_err policy_load(const char *path, policy_file **out);
void policy_file_free(policy_file *f);

/* The sections: 0 is always "default" (present or not); then each [device
 * X] in file order.  *name is "default" or X. */
size_t policy_sections(const policy_file *f);
cairn_err policy_section(const policy_file *f, size_t i, const char **name, policy *out);

/* The policy of the device udid (named name, may be NULL). */
void policy_for(const policy_file *f, const char *udid, const char *name, policy *out);

/* The keys, in the order they are shown, NULL-terminated. */
extern const char *const policy_keys[];
/* A key's value as text (as the file would hold it). */
void policy_format(const policy *p, const char *key, char *out, size_t cap);

/* Sets key=value in the section of device ("default" or a name/UDID) of
 * the file at path: validates it, then rewrites the file atomically,
 * keeping every other line (comments too); a missing section is added at
 * the end. */
cairn_err policy_set(const char *path, const char *device, const char *assignment);

/* Resolves a password file setting: a path as it is, credential:NAME as
 * $CREDENTIALS_DIRECTORY/NAME (CAIRN_EINVAL when that is not set). */
cairn_err policy_secret_path(const char *setting, char *out, size_t cap);

/* "90", "30s", "10m", "2h", "1d", "1h30m" as seconds (> 0). */
cairn_err policy_parse_duration(const char *text, int64_t *seconds);

#endif
