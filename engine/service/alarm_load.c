/* alarm_load.c - alarm_sink.h in the executable: the kinds' names here,
 * the sinks through the module cairn-alarm.so (alarm_sink.c, alarm_net.c,
 * alarm_dbus.c), loaded by the first parse, so that only a process that
 * sends alarms maps libcurl and libdbus-1. */
#include "engine/service/alarm_sink_private.h"

#include <string.h>

/* Present only where the static library cairn_alarm is linked (tests,
 * fuzzers); the cairn executable loads the module instead. */
extern const cairn_module alarm_module __attribute__((weak));

static cairn_err ops_of(const alarm_module_ops **ops)
{
    const void *p = NULL;
    const cairn_err rc = module_load("alarm", &alarm_module, &p);
    *ops = p;
    return rc;
}

/* A sink exists only once parse loaded the module: later calls find it. */
static const alarm_module_ops *loaded_ops(void)
{
    return module_loaded("alarm", &alarm_module);
}

cairn_err alarm_sink_parse(const char *spec, alarm_sink **out)
{
    *out = NULL;
    const alarm_module_ops *ops = NULL;
    const cairn_err rc = ops_of(&ops);
    return rc ? rc : ops->parse(spec, out);
}

cairn_err alarm_sink_send(const alarm_sink *s, const struct alarm *a)
{
    return loaded_ops()->send(s, a);
}

void alarm_sink_free(alarm_sink *s)
{
    if (s)
        loaded_ops()->free(s);
}

void alarm_sink_set_timeout(alarm_sink *s, unsigned seconds)
{
    loaded_ops()->set_timeout(s, seconds);
}

const char *alarm_sink_type(const alarm_sink *s)
{
    return loaded_ops()->type(s);
}

static const char *const kind_names[ALARM_KIND_COUNT] = {
    [ALARM_OVERDUE] = "overdue",
    [ALARM_COPIES_BEHIND] = "copies-behind",
    [ALARM_CHECK_FAILED] = "check-failed",
    [ALARM_JOB_FAILED] = "job-failed",
    [ALARM_UNLOCK_DEVICE] = "unlock-device",
    [ALARM_DISK_FULL] = "disk-full",
    [ALARM_PAIRING_LOST] = "pairing-lost",
    [ALARM_DELETION] = "deletion",
};

const char *alarm_kind_name(alarm_kind k)
{
    return (unsigned)k < ALARM_KIND_COUNT ? kind_names[k] : "unknown";
}

cairn_err alarm_kind_parse(const char *name, alarm_kind *out)
{
    for (int k = 0; k < ALARM_KIND_COUNT; k++)
        if (!strcmp(name, kind_names[k])) {
            *out = (alarm_kind)k;
            return CAIRN_OK;
        }
    return err_set(CAIRN_EINVAL,
                   "unknown alarm kind '%s' (overdue, copies-behind, check-failed, job-failed, "
                   "unlock-device, disk-full, pairing-lost, deletion)",
                   name);
}
