/* cli.h - what the command implementations share: parsed options, exit
 * codes, output helpers and opening the store.  Each command file declares
 * its options and usage as a cli_command (parse_options.h); main.c holds
 * the table of them. */
#ifndef CAIRN_CLI_H
#define CAIRN_CLI_H

#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "engine/core/progress.h"
#include "engine/core/snapshot.h"
#include "engine/core/snapshot_list.h"
#include "engine/ios/device_workflow.h"
#include "store/store.h"
#include "parse_options.h"
#include "password.h"

/* Exit codes: documented in docs/CLI.md. */
enum {
    EXIT_OK = 0,
    EXIT_ERROR = 1,
    EXIT_USAGE = 2,
    EXIT_PARTIAL = 3,
    EXIT_PASSWORD = 4,
    EXIT_NOSTORE = 5,
    EXIT_VERSION = 6,
    EXIT_KEYFILE = 7,
    EXIT_LOCKED = 8,
    EXIT_DAMAGED = 9,
    EXIT_SOURCE = 10,
    EXIT_NOSPACE = 11,
    EXIT_NOTFOUND = 12,
    EXIT_EXISTS = 13,
    EXIT_REMOTE = 14,
    EXIT_REFUSED = 15,
    EXIT_UNSUPPORTED = 16, /* unlock: the kernel refuses keyrings here */
    EXIT_MODULE = 17,      /* an optional module (cairn-s3.so ...) is missing or unloadable */
};

typedef struct cli {
    const char *store_arg;
    const char *password_file;
    const char *new_password_file;
    const char *backup_password_file;     /* an encrypted device backup's password */
    const char *new_backup_password_file; /* restore --reencrypt */
    int reencrypt;
    const char *to;
    const char *kdf;
    const char *sqlite_chunk; /* init: KiB */
    const char *media_chunk;  /* init: KiB */
    int zstd_level;           /* init */
    int sqlite_fixed;         /* init */
    const char *device;
    int threads;
    int json;
    int overwrite;
    int read_data;
    const char *read_data_subset; /* check --read-data-subset N% */
    int subset_pct;               /* its percentage, once parsed */
    int force;
    int allow_incomplete;
    int as_folder; /* backup --as-folder */
    int dry_run;
    int max_unused;
    const char *chain;
    const char *wait; /* --wait DURATION: for the writer lock */
    int keep[6];      /* last, hourly, daily, weekly, monthly, yearly */
    /* copy targets (cmd_copy.c) */
    const char *target;          /* copy, check: --target NAME */
    const char *from_target;     /* restore: --from-target NAME */
    const char *media;           /* target add: --media disk|nas|cloud */
    int offsite;                 /* target add: --offsite */
    int append_only;             /* target add: --append-only */
    const char *lock_mode;       /* target add: --lock-mode GOVERNANCE|COMPLIANCE (S3) */
    int lock_days;               /* target add: --lock-days N (S3) */
    int allow_deletes;           /* copy --allow-deletes */
    int max_delete;              /* copy --max-delete-percent */
    int all_targets;             /* copy --all */
    int only_snapshots;          /* copy --snapshots: the arguments are snapshot IDs */
    char target_store[PATH_MAX]; /* the folder a target is opened from */
    struct copy_view *view;      /* restore --from-target of a network target: read on demand */
    int cache_mb;                /* restore --from-target, check --target: --cache-size-mb */
    const char *from_url;        /* repair: --from URL (repair also takes --from-target) */
    /* devices (cmd_devices.c) */
    int full;             /* backup --device --full */
    int restore_system;   /* restore --device --system */
    int restore_settings; /* restore --device --settings */
    int no_reboot;        /* restore --device --no-reboot */
    int restore_remove;   /* restore --device --remove */
    /* the service (cmd_daemon.c, cmd_service.c, cmd_policy.c) */
    int once;             /* daemon --once */
    const char *policy;   /* daemon, policy, status: --policy FILE */
    int unit_user;        /* service install --user */
    int unit_system;      /* service install --system */
    const char *unit_dir; /* service install --unit-dir DIR */
    /* alarm test (cmd_alarm.c) */
    const char *alarm_kind;    /* --kind */
    const char *alarm_timeout; /* --timeout DURATION */
    /* content (cmd_messages.c, cmd_photos.c, cmd_contacts.c, cmd_diff.c, cmd_pin.c) */
    const char *chat;       /* messages --chat ID */
    int csv;                /* messages --csv */
    const char *html;       /* messages --html DIR */
    const char *export_dir; /* photos --export DIR */
    const char *vcard;      /* contacts --vcard FILE */
    int content;            /* diff --content */
    int photo_alarm;        /* backup --photo-alarm PERCENT (-1: default) */
    /* help (help_gen.h) */
    int man;                /* help --man: cairn(1) in roff */
    const char *completion; /* help --completion bash|zsh */
    const char *port;       /* serve --port N */
    /* unlock (cmd_unlock.c) */
    const char *unlock_for; /* --for DURATION */
    const char *keyring;    /* --keyring user|session */
    int unlock_status;      /* --status */
    char **args;
    int nargs;
    char store_path[PATH_MAX];
} cli;

/* Prints err_msg() as one line and returns the exit code for rc. */
int cli_fail(cairn_err rc);
int cli_exit_code(cairn_err rc);
void cli_human(uint64_t n, char *out, size_t cap);
void cli_time(int64_t sec, char *out, size_t cap, int iso);
void cli_json_str(const char *s);
/* A snapshot as a JSON object ('snapshots --json', 'info --json'), with
 * extra members ("\"k\":v", or NULL) before its meta. */
void cli_snapshot_json(const snapshot *sn, const char *extra);
/* Opens the store c names; with STORE_WRITE, waits for another writer as
 * --wait says, with one line on stderr while it waits. */
cairn_err cli_open_store(cli *c, unsigned flags, store **out);
/* "30s", "10m", "2h", "1h30m", "90" (seconds) in *seconds; CAIRN_EINVAL,
 * naming the option and the text, if it is not a duration. */
cairn_err cli_parse_duration(const char *option, const char *text, unsigned *seconds);

/* --wait: every command (in the modes, CLI_MODE bits, 0: all) that takes
 * the store's writer lock has it. */
#define CLI_OPT_WAIT(mode_bits)                                                                    \
    {                                                                                              \
        .name = "wait", .kind = OPT_STRING, .offset = offsetof(struct cli, wait),                  \
        .arg_name = "DURATION",                                                                    \
        .help = "if another cairn process has the store, wait up to DURATION (30s, 10m, 2h)",      \
        .modes = (mode_bits)                                                                       \
    }
/* --cache-size-mb MIB: the bound of a cache (check and restore of a network
 * target: its packs on disk; mount: opened chunks in memory). */
#define CLI_OPT_CACHE_SIZE(what, mode_bits)                                                        \
    {                                                                                              \
        .name = "cache-size-mb", .kind = OPT_INT, .offset = offsetof(struct cli, cache_mb),        \
        .min = 1, .max = 1 << 20, .arg_name = "MIB", .help = (what), .modes = (mode_bits)          \
    }
#define CLI_TARGET_CACHE_HELP                                                                      \
    "keep at most this much of a network target's packs in its local cache (default 256)"
/* --policy FILE: the service's policy file (daemon, policy, service, status). */
#define CLI_OPT_POLICY(mode_bits)                                                                  \
    {                                                                                              \
        .name = "policy", .kind = OPT_STRING, .offset = offsetof(struct cli, policy),              \
        .arg_name = "FILE",                                                                        \
        .help = "the policy file (default $XDG_CONFIG_HOME/cairn/policy.conf)",                    \
        .modes = (mode_bits)                                                                       \
    }
/* --device NAME|UDID where it scopes 'latest' to a device (info, ls,
 * extract, diff, restore to a folder). */
#define CLI_OPT_DEVICE_SCOPE(mode_bits)                                                            \
    {                                                                                              \
        .name = "device", .kind = OPT_STRING, .offset = offsetof(struct cli, device),              \
        .arg_name = "NAME|UDID", .help = "'latest' is this device's newest snapshot",              \
        .modes = (mode_bits)                                                                       \
    }
void cli_warn_item(void *ctx, const char *path, const char *msg);

/* Device workflows (device_ui.c): the backup password a workflow asks for,
 * answered from --backup-password-file / CAIRN_BACKUP_PASSWORD
 * (a new one from --new-backup-password-file / CAIRN_NEW_BACKUP_PASSWORD)
 * or a prompt.  ctx is the cli. */
cairn_err cli_device_password(void *ctx, const device_password_request *req, char **text,
                              size_t *len);

/* What the user sees while a device workflow runs (device_ui.c): notes
 * on stdout, events and warnings on stderr, progress on stderr (one line
 * redrawn on a terminal, else every few seconds). */
typedef struct cli_device_ui {
    cli *c;
    int tty;          /* stderr is a terminal: one line, redrawn */
    time_t last;      /* last progress line (not a terminal) */
    atomic_int drawn; /* a progress line is on the terminal (events come from
                       * libimobiledevice's notification thread) */
} cli_device_ui;
device_callbacks cli_device_callbacks(cli_device_ui *ui, cli *c);
/* Ends a progress line still on the terminal. */
void cli_device_ui_end(cli_device_ui *ui);

/* Progress and Ctrl-C of a long command (progress_ui.c).  begin returns
 * the hooks to hand to the engine; catch (once the store is open: Ctrl-C at
 * a password prompt still ends cairn at once) catches SIGINT, so that the
 * engine ends with CAIRN_EINTERRUPTED; end restores SIGINT, emits the last
 * JSON event and clears the terminal line. */
typedef struct cli_progress {
    work_hooks hooks;
    int json, tty;
    int json_stderr; /* progress events on stderr (stdout holds one JSON value) */
    int shown, pending, drawn, caught;
    double start, last;
    work_progress last_state;
    const char *last_unit, *last_phase; /* of the last event */
    struct sigaction old_sigint;
} cli_progress;
const work_hooks *cli_progress_begin(cli_progress *p, const cli *c);
void cli_progress_catch(cli_progress *p);
void cli_progress_end(cli_progress *p);
int cli_interrupted(void);
/* n with thousands separators: 1,204 */
void cli_count(uint64_t n, char *out, size_t cap);
/* Ctrl-C: the conventional 128 + SIGINT */
enum { EXIT_INTERRUPTED = 130 };

int cmd_init(cli *c);
int cmd_backup(cli *c);
int cmd_snapshots(cli *c);
int cmd_restore(cli *c);
int cmd_check(cli *c);
int cmd_index(cli *c);
int cmd_info(cli *c);
int cmd_ls(cli *c);
int cmd_extract(cli *c);
int cmd_chains(cli *c);
int cmd_diff(cli *c);
int cmd_forget(cli *c);
int cmd_prune(cli *c);
int cmd_key(cli *c);
int cmd_chain(cli *c);
int cmd_target(cli *c);
int cmd_copy(cli *c);
int cmd_status(cli *c);
int cmd_repair(cli *c);
int cmd_help(cli *c);
int cmd_messages(cli *c);
int cmd_photos(cli *c);
int cmd_contacts(cli *c);
int cmd_pin(cli *c);
int cmd_unpin(cli *c);
int cmd_usage(cli *c);

/* What the content commands share (content_ui.c): the store open, the
 * snapshot named by the first argument opened as a device backup's
 * content, and schema notes as warnings on stderr. */
struct content_snap;
cairn_err cli_open_content(cli *c, store **s, snaplist *l, struct content_snap **cs);
void cli_content_warn(void *ctx, const char *message);
int cmd_daemon(cli *c);
int cmd_service(cli *c);
int cmd_policy(cli *c);
int cmd_version(cli *c);
int cmd_mount(cli *c);
int cmd_serve(cli *c);
int cmd_verify(cli *c);

/* restore --from-target points the store at the target's folder (a network
 * target is first brought into its local mirror) (target_common.c). */
cairn_err cli_from_target(cli *c);
/* After the command: what a view of a network target fetched, and its close. */
void cli_from_target_end(cli *c);

/* A device straight through libimobiledevice (cmd_devices.c): backup
 * --device and restore --device run here whole. */
int cmd_devices(cli *c);
int cmd_device(cli *c);

/* cairn alarm test: sends a test alarm to a sink (engine/service/alarm_sink.h). */
int cmd_alarm(cli *c);
extern const cli_command cli_cmd_alarm;

/* The commands, each defined in its own file (cmd_NAME.c), and the
 * table of them in main.c (in the order 'cairn help' lists them). */
extern const cli_command cli_cmd_init, cli_cmd_backup, cli_cmd_snapshots, cli_cmd_restore,
    cli_cmd_check, cli_cmd_diff, cli_cmd_forget, cli_cmd_prune, cli_cmd_key, cli_cmd_index,
    cli_cmd_repair, cli_cmd_chains, cli_cmd_chain, cli_cmd_info, cli_cmd_ls, cli_cmd_extract,
    cli_cmd_target, cli_cmd_copy, cli_cmd_status, cli_cmd_devices, cli_cmd_device, cli_cmd_help,
    cli_cmd_version, cli_cmd_messages, cli_cmd_photos, cli_cmd_contacts, cli_cmd_pin, cli_cmd_unpin,
    cli_cmd_usage, cli_cmd_mount, cli_cmd_serve, cli_cmd_daemon, cli_cmd_service, cli_cmd_policy,
    cli_cmd_verify;
/* cairn unlock and cairn lock: an unlocked session (store/session_key.h). */
int cmd_unlock(cli *c);
int cmd_lock(cli *c);
extern const cli_command cli_cmd_unlock, cli_cmd_lock;

extern const cli_command *const cli_commands[];
extern const size_t cli_ncommands;

#endif
