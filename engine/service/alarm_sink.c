/* alarm_sink.c - the contract's kind names; the sinks come next. */
#include "engine/service/alarm_sink.h"

#include <string.h>

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
    return err_set(CAIRN_EINVAL, "unknown alarm kind '%s'", name);
}

cairn_err alarm_sink_parse(const char *spec, alarm_sink **out)
{
    *out = NULL;
    return err_set(CAIRN_EINVAL, "alarm sink '%s': sinks are not implemented yet", spec);
}

cairn_err alarm_sink_send(const alarm_sink *s, const alarm *a)
{
    (void)s;
    (void)a;
    return err_set(CAIRN_EINVAL, "alarm sinks are not implemented yet");
}

void alarm_sink_free(alarm_sink *s)
{
    (void)s;
}

const char *alarm_sink_type(const alarm_sink *s)
{
    (void)s;
    return "none";
}
