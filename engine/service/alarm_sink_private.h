/* alarm_sink_private.h - (private to engine/service/alarm_*.c) a parsed
 * sink and the senders of each type.
 *
 * alarm_sink.c parses every spec and sends to commands; alarm_net.c sends
 * over SMTP and HTTP (libcurl); alarm_dbus.c to the desktop (libdbus-1).
 * Those three are the module cairn-alarm.so (util/module.h), so that only
 * an alarm loads libcurl and libdbus-1; alarm_load.c, in the executable,
 * implements alarm_sink.h through the module's ops.
 * Every sender returns a cairn_err whose message starts with the sink's
 * shown name (alarm_sink.shown), which never holds a password or a URL's
 * path or query (a webhook's secret token lives there). */
#ifndef CAIRN_ALARM_SINK_PRIVATE_H
#define CAIRN_ALARM_SINK_PRIVATE_H

#include "engine/service/alarm_sink.h"
#include "util/codec.h"
#include "util/module.h"

typedef enum sink_type { SINK_DBUS, SINK_SMTP, SINK_WEBHOOK, SINK_COMMAND } sink_type;

struct alarm_sink {
    sink_type type;
    char *shown; /* "dbus", "smtp://host:25", "webhook http://host:80", "command /x" */
    char *url;   /* smtp(s)://host:port/ or the webhook's URL */
    char *from;  /* smtp */
    char **to;   /* smtp: the recipients */
    size_t nto;
    char *user;          /* smtp: NULL without login */
    char *password_file; /* smtp: read at each send, never kept */
    char *ca_file;       /* smtp: trust this CA (a private mail server), else the system's */
    char **argv;         /* command: NULL-terminated, argv[0] absolute */
    unsigned timeout_ms; /* the whole send */
};

/* What cairn-alarm.so does behind alarm_sink.h's functions of the same
 * names. */
typedef struct alarm_module_ops {
    cairn_err (*parse)(const char *spec, alarm_sink **out);
    cairn_err (*send)(const alarm_sink *s, const struct alarm *a);
    void (*free)(alarm_sink *s);
    void (*set_timeout)(alarm_sink *s, unsigned seconds);
    const char *(*type)(const alarm_sink *s);
} alarm_module_ops;
extern const cairn_module alarm_module;

cairn_err alarm_send_smtp(const alarm_sink *s, const struct alarm *a);
cairn_err alarm_send_webhook(const alarm_sink *s, const struct alarm *a);
cairn_err alarm_send_dbus(const alarm_sink *s, const struct alarm *a);

/* A malloc'd copy of text (NULL stays NULL, in *out) that is valid UTF-8:
 * if text is not, its bytes from 0x80 up become '?'.  D-Bus, JSON and a
 * mail declared UTF-8 all need it; 0 when out of memory. */
int alarm_utf8_copy(const char *text, char **out);

/* The alarm's time as "2026-12-06T11:20:00Z" (UTC). */
void alarm_time_iso(int64_t t, char *out, size_t cap);

#endif
