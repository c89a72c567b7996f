/* fuzz_alarm_sink.c - libFuzzer target for alarm_sink_parse.
 *
 * Input: an alarm sink spec (from the policy file or the command line).
 * Parsing never contacts anything; it either gives a sink of one of the
 * four types, or fails with CAIRN_EINVAL (or ENOMEM), no sink, and a
 * one-line message (no control character: it goes into logs as one line).
 * Seeds in fuzz/corpus/alarm_sink cover each type. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/service/alarm_sink.h"
#include "fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *const spec = malloc(size + 1);
    if (!spec)
        return 0;
    memcpy(spec, data, size);
    spec[size] = '\0';
    alarm_sink *s = NULL;
    const cairn_err rc = alarm_sink_parse(spec, &s);
    if (rc == CAIRN_OK) {
        const char *const type = alarm_sink_type(s);
        if (!s || (strcmp(type, "dbus") && strcmp(type, "smtp") && strcmp(type, "webhook") &&
                   strcmp(type, "command")))
            abort();
        alarm_sink_set_timeout(s, 1);
    } else {
        if (s || (rc != CAIRN_EINVAL && rc != CAIRN_ENOMEM) || !err_msg()[0])
            abort();
        for (const unsigned char *p = (const unsigned char *)err_msg(); *p; p++)
            if (*p < ' ' || *p == 0x7f)
                abort();
    }
    alarm_sink_free(s);
    free(spec);
    return 0;
}
