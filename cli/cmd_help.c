/* cmd_help.c - cairn help [COMMAND]: the overview of the commands, or one
 * command's usage (the same as 'cairn COMMAND --help'); --man and
 * --completion print the manual page and the shell completions, written
 * from the same tables (help_gen.h) and installed by 'cmake --install'. */
#include <stddef.h>
#include <stdio.h>

#include "cli.h"
#include "help_gen.h"

/* stdout in full, or exit 1: a truncated manual page must not install */
static int flushed(void)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "cairn: help: cannot write to standard output\n");
        return EXIT_ERROR;
    }
    return EXIT_OK;
}

int cmd_help(cli *c)
{
    if (c->man || c->completion) {
        if (c->nargs != 0 || (c->man && c->completion))
            return cli_usage_error(&cli_cmd_help);
        if (c->man)
            cli_print_man(stdout, cli_commands, cli_ncommands);
        else if (cli_print_completion(stdout, c->completion, cli_commands, cli_ncommands) < 0) {
            fprintf(stderr, "cairn: help: --completion takes bash or zsh, not '%s'\n",
                    c->completion);
            return EXIT_USAGE;
        }
        return flushed();
    }
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

static const char *const help_synopsis[] = {"[COMMAND]", "--man", "--completion bash|zsh", NULL};

static const cli_option help_options[] = {
    CLI_OPT_FLAG("man", man, "print the manual page cairn(1) (roff)"),
    {.name = "completion",
     .kind = OPT_STRING,
     .offset = offsetof(cli, completion),
     .arg_name = "bash|zsh",
     .help = "print the completion script for bash or zsh"},
    CLI_OPT_END,
};

const cli_command cli_cmd_help = {
    .name = "help",
    .summary = "show the commands, or one command's usage and options",
    .synopsis = help_synopsis,
    .options = help_options,
    .run = cmd_help,
};
