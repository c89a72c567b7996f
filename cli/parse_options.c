/* parse_options.c - argv against one command's option table (see
 * parse_options.h for the contract). */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "parse_options.h"

/* Accepted by every command, so that a script can always pass them (as it
 * can always set $CAIRN_STORE); commands without a store do not use them. */
static const cli_option global_options[] = {
    {"store", 's', OPT_STRING, offsetof(cli, store_arg), 0, 0, "DIR",
     "the store (else $CAIRN_STORE, else ~/.local/share/cairn/store)", 0},
    {"password-file", 'p', OPT_STRING, offsetof(cli, password_file), 0, 0, "FILE",
     "the store password (else $CAIRN_PASSWORD, else a prompt)", 0},
    {"help", 'h', OPT_FLAG, 0, 0, 0, NULL, "show this usage", 0},
    CLI_OPT_END,
};

const cli_option *cli_global_option_table(void)
{
    return global_options;
}

enum { GLOBAL_HELP = 2, MAX_SUGGEST = 2, USAGE_COLUMN = 32 };

int cli_edit_distance(const char *a, const char *b)
{
    enum { CAP = 9, LEN = 64 };
    const size_t la = strlen(a), lb = strlen(b);
    int d[LEN + 1][LEN + 1];
    if (la > LEN || lb > LEN)
        return CAP;
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            const int cost = a[i - 1] != b[j - 1];
            int v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v)
                v = d[i - 1][j - 1] + cost;
            /* a transposition counts as one edit: "jsno" is one from "json" */
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    }
    return d[la][lb] < CAP ? d[la][lb] : CAP;
}

static size_t table_len(const cli_option *t)
{
    size_t n = 0;
    while (t && t[n].kind != OPT_END)
        n++;
    return n;
}

/* A long option of the command (or a global one), by its exact name or an
 * unambiguous prefix, as getopt_long matched them.  *ambiguous is set when
 * a prefix names several. */
static const cli_option *find_long(const cli_option *table, const char *name, size_t len,
                                   int *ambiguous)
{
    const cli_option *const tables[] = {table, global_options};
    const cli_option *prefix = NULL;
    *ambiguous = 0;
    for (size_t k = 0; k < 2; k++) {
        for (size_t i = 0; i < table_len(tables[k]); i++) {
            const cli_option *const o = &tables[k][i];
            if (strncmp(o->name, name, len) != 0)
                continue;
            if (strlen(o->name) == len) {
                *ambiguous = 0;
                return o;
            }
            if (prefix)
                *ambiguous = 1;
            prefix = o;
        }
    }
    return *ambiguous ? NULL : prefix;
}

static const cli_option *find_short(const cli_option *table, char letter)
{
    const cli_option *const tables[] = {table, global_options};
    for (size_t k = 0; k < 2; k++)
        for (size_t i = 0; i < table_len(tables[k]); i++)
            if (tables[k][i].short_name == letter)
                return &tables[k][i];
    return NULL;
}

/* The nearest option the command takes, or NULL when none is within reach. */
static const cli_option *nearest(const cli_option *table, const char *name, size_t len)
{
    const cli_option *const tables[] = {table, global_options};
    const cli_option *best = NULL;
    int best_d = MAX_SUGGEST + 1;
    char word[65];
    if (len >= sizeof word)
        return NULL;
    memcpy(word, name, len);
    word[len] = '\0';
    for (size_t k = 0; k < 2; k++) {
        for (size_t i = 0; i < table_len(tables[k]); i++) {
            const int d = cli_edit_distance(word, tables[k][i].name);
            if (d < best_d && (size_t)d < len) {
                best_d = d;
                best = &tables[k][i];
            }
        }
    }
    return best;
}

static void say_not_taken(const char *who, const char *cmd, const char *arg, size_t len,
                          const cli_option *near)
{
    if (near)
        fprintf(stderr, "cairn: %s does not take %.*s (did you mean --%s?)\n", who, (int)len, arg,
                near->name);
    else
        fprintf(stderr, "cairn: %s does not take %.*s (see 'cairn help %s')\n", who, (int)len, arg,
                cmd);
}

/* Stores value into c as o says; 0, or -1 after printing why not. */
static int set_value(const cli_command *cmd, const cli_option *o, const char *value, cli *c)
{
    char *const field = (char *)c + o->offset;
    switch (o->kind) {
    case OPT_FLAG:
        *(int *)field = 1;
        return 0;
    case OPT_STRING:
    case OPT_MAYBE_VALUE:
        *(const char **)field = value;
        return 0;
    case OPT_INT: {
        char *end;
        const long v = strtol(value, &end, 10);
        if (!*value || *end || v < o->min || v > o->max) {
            fprintf(stderr, "cairn: %s: --%s takes a number from %d to %d\n", cmd->name, o->name,
                    o->min, o->max);
            return -1;
        }
        *(int *)field = (int)v;
        return 0;
    }
    case OPT_END:
        break;
    }
    return -1;
}

/* One option word at argv[*i] (and its value, which may be the next word).
 * Returns 1 for --help, 0 when parsed, -1 after printing an error. */
static int parse_one(const cli_command *cmd, int argc, char **argv, int *i, cli *c,
                     const cli_option **which)
{
    const char *const arg = argv[*i];
    const cli_option *o;
    const char *value = NULL;
    *which = NULL;
    if (arg[1] == '-') {
        const char *const name = arg + 2;
        const char *const eq = strchr(name, '=');
        const size_t len = eq ? (size_t)(eq - name) : strlen(name);
        int ambiguous;
        o = find_long(cmd->options, name, len, &ambiguous);
        if (ambiguous) {
            fprintf(stderr, "cairn: %s: --%.*s is ambiguous (see 'cairn help %s')\n", cmd->name,
                    (int)len, name, cmd->name);
            return -1;
        }
        if (!o) {
            say_not_taken(cmd->name, cmd->name, arg, len + 2, nearest(cmd->options, name, len));
            return -1;
        }
        if (eq && o->kind == OPT_FLAG) {
            fprintf(stderr, "cairn: %s: --%s takes no value\n", cmd->name, o->name);
            return -1;
        }
        if (eq)
            value = eq + 1;
    } else {
        o = find_short(cmd->options, arg[1]);
        if (!o) {
            say_not_taken(cmd->name, cmd->name, arg, 2, NULL);
            return -1;
        }
        if (arg[2] && o->kind == OPT_FLAG) {
            fprintf(stderr, "cairn: %s: -%c takes no value\n", cmd->name, arg[1]);
            return -1;
        }
        if (arg[2])
            value = arg + 2;
    }
    if (o == &global_options[GLOBAL_HELP])
        return 1;
    if (!value && (o->kind == OPT_STRING || o->kind == OPT_INT)) {
        if (*i + 1 >= argc) {
            fprintf(stderr, "cairn: %s: --%s needs a value (%s)\n", cmd->name, o->name,
                    o->arg_name ? o->arg_name : "a value");
            return -1;
        }
        value = argv[++*i];
    } else if (!value && o->kind == OPT_MAYBE_VALUE) {
        /* "backup --device" may leave out the UDID: the only device */
        value = *i + 1 < argc && argv[*i + 1][0] != '-' ? argv[++*i] : "";
    }
    *which = o;
    return set_value(cmd, o, value, c);
}

/* Whether an option word seen before the command word consumes the next
 * word, judged by every command's table (the command is not known yet). */
static int takes_next_word(const cli_command *const *commands, size_t n, int argc, char **argv,
                           int i)
{
    const char *const arg = argv[i];
    const cli_option *o = NULL;
    int ambiguous;
    if (arg[1] == '-' && strchr(arg, '='))
        return 0;
    for (size_t k = 0; k < n && !o; k++) {
        if (arg[1] == '-') {
            o = find_long(commands[k]->options, arg + 2, strlen(arg + 2), &ambiguous);
            /* "--keep 3 forget": the command's table will call it ambiguous;
             * its value must not be taken for the command word meanwhile */
            for (size_t j = 0; !o && ambiguous && j < table_len(commands[k]->options); j++)
                if (strncmp(commands[k]->options[j].name, arg + 2, strlen(arg + 2)) == 0)
                    o = &commands[k]->options[j];
        } else if (!arg[2]) {
            o = find_short(commands[k]->options, arg[1]);
        }
    }
    if (!o || i + 1 >= argc)
        return 0;
    if (o->kind == OPT_MAYBE_VALUE)
        return argv[i + 1][0] != '-';
    return o->kind == OPT_STRING || o->kind == OPT_INT;
}

const cli_command *cli_find_command(const cli_command *const *commands, size_t n, const char *name)
{
    const cli_command *best = NULL;
    int best_d = MAX_SUGGEST + 1;
    for (size_t k = 0; k < n; k++) {
        if (strcmp(commands[k]->name, name) == 0)
            return commands[k];
        const int d = cli_edit_distance(name, commands[k]->name);
        /* "x" is two edits from "ls", but no misspelling of it */
        if (d < best_d && (size_t)d < strlen(name)) {
            best_d = d;
            best = commands[k];
        }
    }
    if (best)
        fprintf(stderr, "cairn: unknown command '%s' (did you mean '%s'?)\n", name, best->name);
    else
        fprintf(stderr, "cairn: unknown command '%s' (see 'cairn help')\n", name);
    return NULL;
}

/* Each option given must be one the selected mode takes. */
static int check_mode(const cli_command *cmd, const cli *c, const cli_option *const *seen,
                      const char *const *words, size_t nseen)
{
    if (!cmd->mode_of)
        return 0;
    const int mode = cmd->mode_of(c);
    if (mode < 0)
        return 0; /* no mode yet: the command says its usage */
    for (size_t k = 0; k < nseen; k++) {
        if (!seen[k]->modes || (seen[k]->modes & CLI_MODE(mode)))
            continue;
        const char *const w = words[k];
        const size_t len = strcspn(w, "=");
        say_not_taken(cmd->mode_names[mode], cmd->name, w, len, NULL);
        return -1;
    }
    return 0;
}

#ifndef NDEBUG
/* A value that may be left out (--device on backup and restore) and one
 * that may not (--device scoping 'latest' on ls) both take a following word
 * that is not an option, which is all the search for the command word asks. */
static int same_reading(cli_option_kind a, cli_option_kind b)
{
    const int a_value = a == OPT_STRING || a == OPT_MAYBE_VALUE;
    const int b_value = b == OPT_STRING || b == OPT_MAYBE_VALUE;
    return a == b || (a_value && b_value);
}

/* The contract's promise: a name means the same in every table, so that
 * the words before the command word are read alike for every command. */
static int tables_agree(const cli_command *const *commands, size_t n)
{
    for (size_t a = 0; a < n; a++)
        for (size_t i = 0; i < table_len(commands[a]->options); i++)
            for (size_t b = a + 1; b < n; b++)
                for (size_t k = 0; k < table_len(commands[b]->options); k++) {
                    const cli_option *const x = &commands[a]->options[i];
                    const cli_option *const y = &commands[b]->options[k];
                    if (strcmp(x->name, y->name) == 0 &&
                        (!same_reading(x->kind, y->kind) || x->short_name != y->short_name))
                        return 0;
                }
    return 1;
}
#endif

cli_parse_result cli_parse(const cli_command *const *commands, size_t n, int argc, char **argv,
                           cli *c, const cli_command **cmd)
{
    int word = -1, dashdash = argc;
    assert(tables_agree(commands, n));
    *cmd = NULL;
    c->nargs = 0;
    c->args = calloc((size_t)argc + 1, sizeof *c->args);
    if (!c->args) {
        fprintf(stderr, "cairn: out of memory\n");
        return CLI_PARSE_USAGE;
    }
    /* the command word: the first word that is neither an option nor its value */
    for (int i = 1; i < argc && word < 0; i++) {
        const char *const a = argv[i];
        if (strcmp(a, "--") == 0) {
            dashdash = i;
            word = i + 1 < argc ? i + 1 : -1;
            break;
        }
        if (a[0] != '-' || !a[1])
            word = i;
        else if (takes_next_word(commands, n, argc, argv, i))
            i++;
    }
    if (word < 0) {
        for (int i = 1; i < dashdash; i++) {
            if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
                return CLI_PARSE_HELP;
            if (strcmp(argv[i], "--version") == 0)
                return CLI_PARSE_VERSION;
        }
        return CLI_PARSE_OVERVIEW;
    }
    *cmd = cli_find_command(commands, n, argv[word]);
    if (!*cmd)
        return CLI_PARSE_USAGE;
    const cli_option **seen = calloc((size_t)argc, sizeof *seen);
    const char **words = calloc((size_t)argc, sizeof *words);
    size_t nseen = 0;
    cli_parse_result result = CLI_PARSE_RUN;
    if (!seen || !words) {
        fprintf(stderr, "cairn: out of memory\n");
        result = CLI_PARSE_USAGE;
    }
    for (int i = 1; i < argc && result == CLI_PARSE_RUN; i++) {
        const char *const a = argv[i];
        if (i == word || i == dashdash)
            continue;
        if (i > dashdash || a[0] != '-' || !a[1]) {
            c->args[c->nargs++] = argv[i];
            continue;
        }
        if (strcmp(a, "--") == 0) {
            dashdash = i;
            continue;
        }
        const cli_option *o;
        const int r = parse_one(*cmd, argc, argv, &i, c, &o);
        if (r > 0)
            result = CLI_PARSE_HELP;
        else if (r < 0)
            result = CLI_PARSE_USAGE;
        else if (o->modes) {
            seen[nseen] = o;
            words[nseen++] = a;
        }
    }
    if (result == CLI_PARSE_RUN && check_mode(*cmd, c, seen, words, nseen) < 0)
        result = CLI_PARSE_USAGE;
    free(seen);
    free(words);
    return result;
}

/* "-s, --store DIR" or "    --json", padded to the help column. */
static void print_option(FILE *f, const cli_option *o)
{
    char left[128], value[48] = "";
    if (o->arg_name)
        snprintf(value, sizeof value, o->kind == OPT_MAYBE_VALUE ? " [%s]" : " %s", o->arg_name);
    int w;
    if (o->short_name)
        w = snprintf(left, sizeof left, "    -%c, --%s%s", o->short_name, o->name, value);
    else
        w = snprintf(left, sizeof left, "        --%s%s", o->name, value);
    if (w >= USAGE_COLUMN - 1)
        fprintf(f, "%s\n%*s%s\n", left, USAGE_COLUMN, "", o->help);
    else
        fprintf(f, "%-*s%s\n", USAGE_COLUMN, left, o->help);
}

int cli_usage_error(const cli_command *cmd)
{
    fprintf(stderr, "cairn: usage: cairn");
    for (size_t i = 0; cmd->synopsis[i]; i++)
        fprintf(stderr, "%s %s%s%s", i ? " |" : "", cmd->name, *cmd->synopsis[i] ? " " : "",
                cmd->synopsis[i]);
    fprintf(stderr, " (see 'cairn help %s')\n", cmd->name);
    return EXIT_USAGE;
}

void cli_print_usage(FILE *f, const cli_command *cmd)
{
    for (size_t i = 0; cmd->synopsis[i]; i++)
        fprintf(f, "%s cairn %s%s%s\n", i ? "   or:" : "usage:", cmd->name,
                *cmd->synopsis[i] ? " " : "", cmd->synopsis[i]);
    fprintf(f, "\n%s\n", cmd->summary);
    if (table_len(cmd->options)) {
        fprintf(f, "\noptions:\n");
        for (size_t i = 0; i < table_len(cmd->options); i++)
            print_option(f, &cmd->options[i]);
    }
    fprintf(f, "\nglobal options (before or after the command):\n");
    for (size_t i = 0; i < table_len(global_options); i++)
        print_option(f, &global_options[i]);
}

void cli_print_overview(FILE *f, const cli_command *const *commands, size_t n)
{
    fprintf(f, "usage: cairn [--store DIR] [--password-file FILE] COMMAND [options] [ARGS]\n"
               "       cairn help COMMAND | cairn COMMAND --help\n"
               "       cairn --version\n\ncommands:\n");
    for (size_t k = 0; k < n; k++)
        fprintf(f, "  %-10s %s\n", commands[k]->name, commands[k]->summary);
    fprintf(f,
            "\n"
            "The store is --store, else $CAIRN_STORE, else $XDG_DATA_HOME/cairn/store\n"
            "(~/.local/share/cairn/store).  The password comes from --password-file FILE,\n"
            "else $CAIRN_PASSWORD, else a prompt on the terminal; an encrypted device\n"
            "backup's password likewise from --backup-password-file, $CAIRN_BACKUP_PASSWORD\n"
            "(new: --new-backup-password-file, $CAIRN_NEW_BACKUP_PASSWORD).  SNAPSHOT is an ID, a\n"
            "unique ID prefix or 'latest'.  Exit codes: see docs/CLI.md.\n");
}
