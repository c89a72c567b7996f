/* fuzz_policy.c - libFuzzer target for the service's two parsers of local,
 * user-editable text: the policy file (engine/service/policy.h) and the
 * state file (engine/service/state.h).
 *
 * Input: the first byte picks the parser (even: policy, odd: state), the
 * rest is the file.  A policy that parses must show every section, and the
 * values it shows must parse again as a file of their own (what 'policy
 * show' prints is what 'policy set' accepts).  Seeds in fuzz/corpus/policy. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/codec.h"
#include "engine/service/policy.h"
#include "engine/service/state.h"
#include "fuzz/fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static void policy_roundtrip(const policy_file *f)
{
    char value[1200];
    for (size_t i = 0; i < policy_sections(f); i++) {
        const char *name;
        policy p;
        cbuf text;
        policy_file *again = NULL;
        if (policy_section(f, i, &name, &p) != CAIRN_OK)
            abort();
        cbuf_init(&text);
        cbuf_puts(&text, "[default]\n");
        for (size_t k = 0; policy_keys[k]; k++) {
            policy_format(&p, policy_keys[k], value, sizeof value);
            if (*value)
                cbuf_printf(&text, "%s = %s\n", policy_keys[k], value);
        }
        if (!text.failed && policy_parse((const char *)text.data, text.len, "shown", &again))
            abort(); /* what show prints must read back */
        policy_file_free(again);
        cbuf_free(&text);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *const text = (const char *)data + 1;
    const size_t len = size - 1;
    if (data[0] % 2 == 0) {
        policy_file *f = NULL;
        if (policy_parse(text, len, "fuzz", &f) == CAIRN_OK) {
            policy_roundtrip(f);
            policy p;
            policy_for(f, "00008110-000A1B2C3D4E5F60", "Phone", &p);
            policy_file_free(f);
        }
        return 0;
    }
    svcstate st;
    if (svcstate_parse(text, len, "fuzz", &st) == CAIRN_OK) {
        for (size_t i = 0; i < st.ndevices; i++)
            if (!memchr(st.devices[i].udid, 0, sizeof st.devices[i].udid) || !*st.devices[i].udid)
                abort();
        svcstate_free(&st);
    }
    return 0;
}
