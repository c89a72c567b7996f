/* cmd_policy.c - cairn policy show | set: the service's policy file
 * (engine/service/policy.h): what it holds, each section as it applies
 * (built-in defaults, then [default], then the device's section). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "engine/service/policy.h"
#include "cli.h"

static cairn_err policy_path(const cli *c, char *out, size_t cap)
{
    if (!c->policy)
        return policy_default_path(out, cap);
    snprintf(out, cap, "%s", c->policy);
    return CAIRN_OK;
}

static int policy_show(const cli *c, const char *path)
{
    policy_file *f = NULL;
    char value[1100];
    const cairn_err rc = policy_load(path, &f);
    if (rc)
        return cli_fail(rc);
    if (c->json) {
        printf("{\"path\":");
        cli_json_str(path);
        printf(",\"sections\":[");
    } else {
        printf("# %s (effective values: built-in defaults, [default], then the device's)\n", path);
    }
    for (size_t i = 0; i < policy_sections(f); i++) {
        const char *name;
        policy p;
        policy_section(f, i, &name, &p);
        if (c->json) {
            printf("%s{\"section\":", i ? "," : "");
            cli_json_str(name);
            printf(",\"values\":{");
        } else {
            printf("%s[%s%s]\n", i ? "\n" : "", i ? "device " : "", name);
        }
        for (size_t k = 0; policy_keys[k]; k++) {
            policy_format(&p, policy_keys[k], value, sizeof value);
            if (c->json) {
                printf("%s\"%s\":", k ? "," : "", policy_keys[k]);
                cli_json_str(value);
            } else {
                printf("%s = %s\n", policy_keys[k], value);
            }
        }
        if (c->json)
            printf("}}");
    }
    if (c->json)
        printf("]}\n");
    policy_file_free(f);
    return EXIT_OK;
}

int cmd_policy(cli *c)
{
    char path[4096];
    const int show = c->nargs == 1 && strcmp(c->args[0], "show") == 0;
    const int set = c->nargs >= 3 && strcmp(c->args[0], "set") == 0;
    if (!show && !set)
        return cli_usage_error(&cli_cmd_policy);
    cairn_err rc = policy_path(c, path, sizeof path);
    if (rc)
        return cli_fail(rc);
    if (show)
        return policy_show(c, path);
    for (int i = 2; i < c->nargs; i++) {
        rc = policy_set(path, c->args[1], c->args[i]);
        if (rc)
            return cli_fail(rc);
        printf("%s: [%s%s] %s\n", path, strcmp(c->args[1], "default") ? "device " : "", c->args[1],
               c->args[i]);
    }
    return EXIT_OK;
}

enum { MODE_SHOW, MODE_SET };

static const char *const policy_modes[] = {"policy show", "policy set"};

static int policy_mode(const cli *c)
{
    if (c->nargs > 0 && strcmp(c->args[0], "show") == 0)
        return MODE_SHOW;
    if (c->nargs > 0 && strcmp(c->args[0], "set") == 0)
        return MODE_SET;
    return -1;
}

static const cli_option policy_options[] = {
    CLI_OPT_POLICY(0),
    {.name = "json",
     .kind = OPT_FLAG,
     .offset = offsetof(cli, json),
     .help = "print one JSON object",
     .modes = CLI_MODE(MODE_SHOW)},
    CLI_OPT_END,
};

static const char *const policy_synopsis[] = {
    "show [--json] [--policy FILE]",
    "set default|DEVICE KEY=VALUE... [--policy FILE]",
    NULL,
};

const cli_command cli_cmd_policy = {
    .name = "policy",
    .summary = "show or change what the service does for each device",
    .synopsis = policy_synopsis,
    .options = policy_options,
    .mode_names = policy_modes,
    .mode_of = policy_mode,
    .run = cmd_policy,
};
