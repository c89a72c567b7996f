/* cairn - the command line: the table of commands, then parse and run.
 * Each command's options and usage live in its own file (parse_options.h).
 * Every error ends as one line on stderr and a documented exit code. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cli.h"

/* In the order 'cairn help' lists them. */
const cli_command *const cli_commands[] = {
    &cli_cmd_init,    &cli_cmd_backup,  &cli_cmd_snapshots, &cli_cmd_restore, &cli_cmd_check,
    &cli_cmd_verify,  &cli_cmd_diff,    &cli_cmd_forget,    &cli_cmd_prune,   &cli_cmd_key,
    &cli_cmd_index,   &cli_cmd_repair,  &cli_cmd_chains,    &cli_cmd_chain,   &cli_cmd_info,
    &cli_cmd_ls,      &cli_cmd_extract, &cli_cmd_target,    &cli_cmd_copy,    &cli_cmd_status,
    &cli_cmd_devices, &cli_cmd_device,  &cli_cmd_messages,  &cli_cmd_photos,  &cli_cmd_contacts,
    &cli_cmd_pin,     &cli_cmd_unpin,   &cli_cmd_usage,     &cli_cmd_mount,   &cli_cmd_serve,
    &cli_cmd_daemon,  &cli_cmd_service, &cli_cmd_policy,    &cli_cmd_alarm,   &cli_cmd_help,
    &cli_cmd_version, &cli_cmd_unlock,  &cli_cmd_lock,
};
const size_t cli_ncommands = sizeof cli_commands / sizeof cli_commands[0];

int main(int argc, char **argv)
{
    cli c;
    const cli_command *cmd = NULL;
    int code = EXIT_USAGE;
    memset(&c, 0, sizeof c);
    c.max_unused = 20;
    if (sodium_init() < 0) {
        fprintf(stderr, "cairn: libsodium failed to initialise\n");
        return EXIT_ERROR;
    }
    switch (cli_parse(cli_commands, cli_ncommands, argc, argv, &c, &cmd)) {
    case CLI_PARSE_RUN:
        code = cmd->run(&c);
        break;
    case CLI_PARSE_HELP:
        if (cmd)
            cli_print_usage(stdout, cmd);
        else
            cli_print_overview(stdout, cli_commands, cli_ncommands);
        code = EXIT_OK;
        break;
    case CLI_PARSE_VERSION:
        code = cmd_version(&c);
        break;
    case CLI_PARSE_OVERVIEW:
        cli_print_overview(stderr, cli_commands, cli_ncommands);
        break;
    case CLI_PARSE_USAGE:
        break;
    }
    free(c.args);
    return code;
}
