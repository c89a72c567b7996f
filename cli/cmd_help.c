/* cmd_help.c - cairn help [COMMAND]: the overview of the commands, or one
 * command's usage (the same as 'cairn COMMAND --help'). */
#include <stdio.h>

#include "cli.h"

int cmd_help(cli *c)
{
    if (c->nargs == 0) {
        cli_print_overview(stdout, cli_commands, cli_ncommands);
        return EXIT_OK;
    }
    if (c->nargs > 1)
        return cli_usage_error(&cli_cmd_help);
    const cli_command *const cmd = cli_find_command(cli_commands, cli_ncommands, c->args[0]);
    if (!cmd)
        return EXIT_USAGE;
    cli_print_usage(stdout, cmd);
    return EXIT_OK;
}

static const char *const help_synopsis[] = {"[COMMAND]", NULL};

const cli_command cli_cmd_help = {
    .name = "help",
    .summary = "show the commands, or one command's usage and options",
    .synopsis = help_synopsis,
    .run = cmd_help,
};
