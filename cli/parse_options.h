/* parse_options.h - per-command option tables, in the spirit of git's
 * parse_options: each command declares the options it takes and its usage
 * lines, and the usage text is built from that table.
 *
 * Contract:
 * - A command is a const cli_command: its name, a one-line summary (the
 *   overview of 'cairn help'), its synopsis lines, its option table and the
 *   function that runs it.  An option entry says where the parsed value
 *   lands in struct cli (offsetof), its kind and, for numbers, the range.
 * - cli_parse() takes the whole argv.  Options may come before or after the
 *   command word, as '--name VALUE', '--name=VALUE', an unambiguous prefix
 *   of a long name, '-x VALUE' or '-xVALUE'; '--' ends the options.  Every
 *   option is checked against the command's table and the global options
 *   (--store, --password-file, --help): one the command does not take is
 *   an error, never ignored.  The words that are not options become
 *   c->args in order.
 * - A command with several modes (backup SOURCE_DIR vs backup --device)
 *   names them and says which mode the parsed options select (mode_of);
 *   each option lists the modes that take it (a bit per mode, 0 for all),
 *   and an option given in a mode that does not take it is an error.
 * - Errors are one line on stderr and exit code 2 (docs/CLI.md):
 *     cairn: CMD does not take --OPT (did you mean --NEAR?)
 *     cairn: CMD does not take --OPT (see 'cairn help CMD')
 *     cairn: CMD MODE does not take --OPT (see 'cairn help CMD')
 *   A near option is one within Damerau-Levenshtein distance 2 of an
 *   option the command (or mode) takes.
 * - An option name means the same in every table (same kind, same short
 *   letter): before the command word is known, whether an option takes the
 *   next word as its value is judged from all the tables.
 * - The parser prints nothing on success and never exits; cli_parse
 *   returns what main() does next.
 */
#ifndef CAIRN_CLI_PARSE_OPTIONS_H
#define CAIRN_CLI_PARSE_OPTIONS_H

#include <stddef.h>
#include <stdio.h>

struct cli;

typedef enum cli_option_kind {
    OPT_END = 0,     /* ends a table */
    OPT_FLAG,        /* int set to 1 */
    OPT_STRING,      /* const char *, a value required */
    OPT_MAYBE_VALUE, /* const char *: the next word unless it starts with '-'
                      * (or none: then ""), or --name=VALUE */
    OPT_INT,         /* int in [min, max] */
} cli_option_kind;

typedef struct cli_option {
    const char *name; /* the long name, without "--" */
    char short_name;  /* 0 for none */
    cli_option_kind kind;
    size_t offset;        /* offsetof(struct cli, field) */
    int min, max;         /* OPT_INT */
    const char *arg_name; /* the value in the usage: "DIR", "N" */
    const char *help;     /* one line */
    unsigned modes;       /* bit i: mode i takes it; 0: every mode */
} cli_option;

#define CLI_OPT_FLAG(name, field, help)                                                            \
    {                                                                                              \
        name, 0, OPT_FLAG, offsetof(struct cli, field), 0, 0, NULL, help, 0                        \
    }
#define CLI_OPT_END                                                                                \
    {                                                                                              \
        NULL, 0, OPT_END, 0, 0, 0, NULL, NULL, 0                                                   \
    }
#define CLI_MODE(i) (1u << (i))

typedef struct cli_command {
    const char *name;
    const char *summary;                 /* one line for 'cairn help' */
    const char *const *synopsis;         /* NULL-terminated; each after "cairn NAME " */
    const cli_option *options;           /* ends with CLI_OPT_END; NULL for none */
    const char *const *mode_names;       /* "backup --device"; NULL: one mode */
    int (*mode_of)(const struct cli *c); /* the mode the parsed options select */
    int (*run)(struct cli *c);
} cli_command;

/* What main() does after cli_parse. */
typedef enum cli_parse_result {
    CLI_PARSE_RUN,      /* run *cmd with the parsed options */
    CLI_PARSE_HELP,     /* print the usage of *cmd (the overview if NULL), exit 0 */
    CLI_PARSE_VERSION,  /* 'cairn --version' */
    CLI_PARSE_USAGE,    /* an error was printed: exit 2 */
    CLI_PARSE_OVERVIEW, /* no command: the overview on stderr, exit 2 */
} cli_parse_result;

/* Parses argv against the commands table (n entries) into c; c->args is
 * an array (owned by the caller: free(c->args)) of the words left. */
cli_parse_result cli_parse(const cli_command *const *commands, size_t n, int argc, char **argv,
                           struct cli *c, const cli_command **cmd);

/* The usage of one command (synopsis and options) and the overview of all. */
void cli_print_usage(FILE *f, const cli_command *cmd);
void cli_print_overview(FILE *f, const cli_command *const *commands, size_t n);

/* Wrong arguments for cmd: one line on stderr, "cairn: usage: cairn CMD
 * SYNOPSIS | CMD SYNOPSIS2 ...", built from its synopsis; returns 2. */
int cli_usage_error(const cli_command *cmd);

/* The command named name, or NULL after printing an error that suggests
 * the nearest one. */
const cli_command *cli_find_command(const cli_command *const *commands, size_t n, const char *name);

/* The global options (--store, --password-file, --help), ending with
 * CLI_OPT_END: the manual page and the completions list them (help_gen.h). */
const cli_option *cli_global_option_table(void);

/* Damerau-Levenshtein (optimal string alignment) distance, capped at 9. */
int cli_edit_distance(const char *a, const char *b);

#endif
