/* alarm_sink.h - where an alarm goes: a desktop notification over D-Bus, an
 * e-mail over SMTP, a webhook (HTTP POST of a JSON body) or a command.
 *
 * A sink is named by one spec string (the policy file's "alarms" entries,
 * `cairn alarm test SPEC`):
 *   dbus                                  org.freedesktop.Notifications.Notify
 *                                         on the session bus
 *   smtp://HOST[:PORT]?from=A&to=B[&to=C][&user=U&password-file=F][&ca-file=F]
 *   smtps://...                           the same over TLS from the start
 *                                         (smtp:// upgrades with STARTTLS when
 *                                         the server offers it)
 *   webhook:http://...  webhook:https://...   POST {"kind","device","title",
 *                                         "body","time"} as application/json
 *   command:/path/to/program [ARG...]     run without a shell (arguments split
 *                                         on spaces), the alarm in CAIRN_ALARM_*
 *                                         environment variables
 * Parsing checks the spec only (nothing is contacted, no file is read);
 * sending does the work, bounded by a timeout (network sinks and the
 * command alike), and fails with a one-line message naming the sink and the
 * reason, never a password.  A sink is immutable once parsed and may be
 * sent from any thread; the module keeps no global state (libcurl is
 * initialised by curl_global_init the first time, as the backends do). */
#ifndef CAIRN_ALARM_SINK_H
#define CAIRN_ALARM_SINK_H

#include <stdint.h>

#include "util/err.h"

typedef enum alarm_kind {
    ALARM_OVERDUE,       /* no successful backup of a known device for N days */
    ALARM_COPIES_BEHIND, /* 3-2-1 not met for N days */
    ALARM_CHECK_FAILED,  /* a verification found damage */
    ALARM_JOB_FAILED,    /* a backup, copy or prune failed */
    ALARM_UNLOCK_DEVICE, /* the device waits for its passcode to start a backup */
    ALARM_DISK_FULL,     /* the store or a target is full */
    ALARM_PAIRING_LOST,  /* the device no longer trusts this computer */
    ALARM_DELETION       /* more was to be deleted than the cap allows */
} alarm_kind;
enum { ALARM_KIND_COUNT = ALARM_DELETION + 1 };

/* What an alarm says.  device may be NULL (an alarm about the store);
 * title is one line; body may be several; time is Unix seconds.
 * Always written "struct alarm": a typedef named alarm would clash with
 * alarm(2) of <unistd.h> in every file that includes both. */
struct alarm {
    alarm_kind kind;
    const char *device;
    const char *title;
    const char *body;
    int64_t time;
};

typedef struct alarm_sink alarm_sink;

/* Parses spec into *out (alarm_sink_free it).  CAIRN_EINVAL with a message
 * naming the spec's problem (never the password-file's content: it is not
 * read here). */
cairn_err alarm_sink_parse(const char *spec, alarm_sink **out);

/* Delivers a to the sink.  CAIRN_EREMOTE when the receiver is absent, down,
 * refuses or answers an error (no session bus for "dbus", a webhook's non-2xx
 * status, an SMTP reply, a command's non-zero exit or timeout); CAIRN_EINVAL
 * when an SMTP password file cannot be read or is empty. */
cairn_err alarm_sink_send(const alarm_sink *s, const struct alarm *a);

void alarm_sink_free(alarm_sink *s);

/* How long a send may take, whole (default 30 s for the network sinks and
 * D-Bus, 60 s for a command, which is then killed with its process group);
 * seconds > 0. */
void alarm_sink_set_timeout(alarm_sink *s, unsigned seconds);

/* The sink's kind as a word: "dbus", "smtp", "webhook", "command". */
const char *alarm_sink_type(const alarm_sink *s);

/* A stable lower-case name for a kind: "overdue", "copies-behind",
 * "check-failed", "job-failed", "unlock-device", "disk-full",
 * "pairing-lost", "deletion"; "unknown" outside the enum. */
const char *alarm_kind_name(alarm_kind k);

/* The kind named name (as alarm_kind_name gives it); CAIRN_EINVAL if none. */
cairn_err alarm_kind_parse(const char *name, alarm_kind *out);

#endif
