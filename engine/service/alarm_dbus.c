/* alarm_dbus.c - the desktop notification: org.freedesktop.Notifications.
 * Notify on the session bus, through libdbus-1.
 *
 * Only a bus that exists is used: $DBUS_SESSION_BUS_ADDRESS, else the
 * user's bus socket $XDG_RUNTIME_DIR/bus (systemd).  libdbus's X11
 * autolaunch is never tried: a daemon has no display, and starting a bus
 * there would show the notification to nobody.  Each send opens a private
 * connection and closes it, so nothing is shared between threads. */
#include "engine/service/alarm_sink_private.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <dbus/dbus.h>

/* Where the session bus is ("" if none): the address to open. */
static void bus_address(char *out, size_t cap)
{
    const char *const env = getenv("DBUS_SESSION_BUS_ADDRESS");
    const char *const run = getenv("XDG_RUNTIME_DIR");
    struct stat st;
    out[0] = '\0';
    if (env && *env) {
        snprintf(out, cap, "%s", env);
    } else if (run && *run) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/bus", run);
        if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode))
            snprintf(out, cap, "unix:path=%s", path);
    }
}

int alarm_utf8_copy(const char *text, char **out)
{
    *out = NULL;
    if (!text)
        return 1;
    char *const t = strdup(text);
    if (!t)
        return 0;
    /* libdbus's own check: it refuses any string that fails it */
    if (!dbus_validate_utf8(t, NULL))
        for (unsigned char *p = (unsigned char *)t; *p; p++)
            if (*p >= 0x80)
                *p = '?';
    *out = t;
    return 1;
}

/* The urgency hint: what needs the user now stays on screen ("critical"). */
static unsigned char urgency(alarm_kind k)
{
    switch (k) {
    case ALARM_CHECK_FAILED:
    case ALARM_JOB_FAILED:
    case ALARM_DISK_FULL:
    case ALARM_PAIRING_LOST:
    case ALARM_DELETION:
    case ALARM_UNLOCK_DEVICE:
        return 2;
    default:
        return 1;
    }
}

/* Notify(app_name, replaces_id, app_icon, summary, body, actions, hints,
 * expire_timeout) */
static int append_notify(DBusMessage *m, const char *summary, const char *body, alarm_kind kind)
{
    DBusMessageIter it, arr, entry, var;
    const char *const app = "cairn", *const icon = "drive-harddisk";
    const char *const key = "urgency", *const category = "category";
    const char *const category_value = "device.error";
    const dbus_uint32_t replaces = 0;
    const dbus_int32_t expire = -1;
    const unsigned char level = urgency(kind);
    dbus_message_iter_init_append(m, &it);
    if (!dbus_message_iter_append_basic(&it, DBUS_TYPE_STRING, &app) ||
        !dbus_message_iter_append_basic(&it, DBUS_TYPE_UINT32, &replaces) ||
        !dbus_message_iter_append_basic(&it, DBUS_TYPE_STRING, &icon) ||
        !dbus_message_iter_append_basic(&it, DBUS_TYPE_STRING, &summary) ||
        !dbus_message_iter_append_basic(&it, DBUS_TYPE_STRING, &body))
        return 0;
    if (!dbus_message_iter_open_container(&it, DBUS_TYPE_ARRAY, "s", &arr) ||
        !dbus_message_iter_close_container(&it, &arr))
        return 0;
    if (!dbus_message_iter_open_container(&it, DBUS_TYPE_ARRAY, "{sv}", &arr))
        return 0;
    if (!dbus_message_iter_open_container(&arr, DBUS_TYPE_DICT_ENTRY, NULL, &entry) ||
        !dbus_message_iter_append_basic(&entry, DBUS_TYPE_STRING, &key) ||
        !dbus_message_iter_open_container(&entry, DBUS_TYPE_VARIANT, "y", &var) ||
        !dbus_message_iter_append_basic(&var, DBUS_TYPE_BYTE, &level) ||
        !dbus_message_iter_close_container(&entry, &var) ||
        !dbus_message_iter_close_container(&arr, &entry))
        return 0;
    if (level == 2 &&
        (!dbus_message_iter_open_container(&arr, DBUS_TYPE_DICT_ENTRY, NULL, &entry) ||
         !dbus_message_iter_append_basic(&entry, DBUS_TYPE_STRING, &category) ||
         !dbus_message_iter_open_container(&entry, DBUS_TYPE_VARIANT, "s", &var) ||
         !dbus_message_iter_append_basic(&var, DBUS_TYPE_STRING, &category_value) ||
         !dbus_message_iter_close_container(&entry, &var) ||
         !dbus_message_iter_close_container(&arr, &entry)))
        return 0;
    return dbus_message_iter_close_container(&it, &arr) &&
           dbus_message_iter_append_basic(&it, DBUS_TYPE_INT32, &expire);
}

cairn_err alarm_send_dbus(const alarm_sink *s, const struct alarm *a)
{
    char address[1024];
    DBusError de;
    DBusConnection *conn = NULL;
    DBusMessage *m = NULL, *reply = NULL;
    char *summary = NULL, *body = NULL;
    cairn_err rc = CAIRN_OK;
    bus_address(address, sizeof address);
    if (!address[0])
        return err_set(CAIRN_EREMOTE,
                       "alarm sink dbus: no session bus (DBUS_SESSION_BUS_ADDRESS is not set and "
                       "there is no $XDG_RUNTIME_DIR/bus): a desktop notification needs a "
                       "logged-in desktop session");
    dbus_error_init(&de);
    cbuf sum;
    cbuf_init(&sum);
    cbuf_printf(&sum, "cairn: %s%s%s", a->device ? a->device : "", a->device ? ": " : "",
                a->title ? a->title : alarm_kind_name(a->kind));
    summary = sum.failed ? NULL : strdup(cbuf_text(&sum));
    cbuf_free(&sum);
    body = strdup(a->body ? a->body : "");
    if (!summary || !body) {
        rc = err_set(CAIRN_ENOMEM, "alarm sink dbus: out of memory");
        goto fail;
    }
    conn = dbus_connection_open_private(address, &de);
    if (!conn || !dbus_bus_register(conn, &de)) {
        rc = err_set(CAIRN_EREMOTE, "alarm sink dbus: cannot connect to the session bus: %s",
                     dbus_error_is_set(&de) ? de.message : "no reason given");
        goto fail;
    }
    m = dbus_message_new_method_call("org.freedesktop.Notifications",
                                     "/org/freedesktop/Notifications",
                                     "org.freedesktop.Notifications", "Notify");
    if (!m || !append_notify(m, summary, body, a->kind)) {
        rc = err_set(CAIRN_ENOMEM, "alarm sink dbus: out of memory");
        goto fail;
    }
    const int ms = s->timeout_ms > INT_MAX ? INT_MAX : (int)s->timeout_ms;
    reply = dbus_connection_send_with_reply_and_block(conn, m, ms, &de);
    if (!reply) {
        rc = err_set(CAIRN_EREMOTE, "alarm sink dbus: no notification shown: %s%s",
                     dbus_error_is_set(&de) ? de.message : "no reason given",
                     dbus_error_has_name(&de, DBUS_ERROR_SERVICE_UNKNOWN)
                         ? " (no notification daemon runs in this session)"
                         : "");
        goto fail;
    }
fail:
    if (reply)
        dbus_message_unref(reply);
    if (m)
        dbus_message_unref(m);
    if (conn) {
        dbus_connection_close(conn);
        dbus_connection_unref(conn);
    }
    dbus_error_free(&de);
    free(summary);
    free(body);
    return rc;
}
