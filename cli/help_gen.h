/* help_gen.h - the manual page cairn(1) and the bash and zsh completion
 * scripts, generated from the same command tables the parser uses
 * (parse_options.h), so that none of them can drift from the code.
 *
 * Contract:
 * - Everything comes from the cli_command tables: the commands in table
 *   order, their summaries, synopsis lines and options (and the global
 *   options).  Nothing here lists commands or options by hand; only the
 *   prose common to all commands (environment, exit codes) is written here.
 * - cli_print_man writes roff for man(7) to f: one subsection per command
 *   with its synopsis lines, summary and options.
 * - cli_print_completion writes the completion script for shell ("bash" or
 *   "zsh") to f and returns 0, or returns -1 (writing nothing) for another
 *   shell.  The scripts offer the commands, each command's options and the
 *   global ones, subcommand words (the lowercase words that open a synopsis
 *   line: "target add"), fixed values ("--media disk|nas|cloud"), and
 *   files or folders for FILE and DIR values.
 * - Output goes to f only; nothing is allocated.  The caller checks f for
 *   write errors.
 */
#ifndef CAIRN_CLI_HELP_GEN_H
#define CAIRN_CLI_HELP_GEN_H

#include <stddef.h>
#include <stdio.h>

#include "parse_options.h"

void cli_print_man(FILE *f, const cli_command *const *commands, size_t n);
int cli_print_completion(FILE *f, const char *shell, const cli_command *const *commands, size_t n);

#endif
