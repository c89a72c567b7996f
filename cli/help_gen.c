/* help_gen.c - cairn(1) and the bash and zsh completions, written from the
 * command tables (see help_gen.h for the contract).  CMakeLists.txt runs
 * 'cairn help --man' and 'cairn help --completion SHELL' at build time and
 * installs what they print. */
#include <string.h>

#include "cli.h"
#include "help_gen.h"

#ifndef CAIRN_VERSION
#define CAIRN_VERSION "unknown"
#endif

/* Words that open a synopsis line and are typed as they are ("target
 * add", "device encryption on|off"): at most MAX_LITERAL of them. */
enum { MAX_LITERAL = 4, WORD_CAP = 48, MAX_CHOICES = 32 };

static size_t table_len(const cli_option *t)
{
    size_t n = 0;
    while (t && t[n].kind != OPT_END)
        n++;
    return n;
}

/* Lowercase letters, digits, '-' and '|' (alternatives): typed as is. */
static int is_literal(const char *w, size_t len)
{
    if (len == 0 || len >= WORD_CAP || w[0] < 'a' || w[0] > 'z')
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!((w[i] >= 'a' && w[i] <= 'z') || (w[i] >= '0' && w[i] <= '9') || w[i] == '-' ||
              w[i] == '|'))
            return 0;
    return 1;
}

/* The literal words that open one synopsis line; returns how many. */
static size_t literal_prefix(const char *line, char words[MAX_LITERAL][WORD_CAP])
{
    size_t n = 0;
    const char *p = line;
    while (n < MAX_LITERAL) {
        while (*p == ' ')
            p++;
        const size_t len = strcspn(p, " ");
        if (!is_literal(p, len))
            break;
        memcpy(words[n], p, len);
        words[n][len] = '\0';
        n++;
        p += len;
    }
    return n;
}

/* A synopsis whose first word is COMMAND ('help'): the command names. */
static int takes_command(const cli_command *cmd)
{
    for (size_t i = 0; cmd->synopsis[i]; i++)
        if (strncmp(cmd->synopsis[i], "COMMAND", 7) == 0 ||
            strncmp(cmd->synopsis[i], "[COMMAND]", 9) == 0)
            return 1;
    return 0;
}

/* Fixed values of an option: "disk|nas|cloud" (lowercase alternatives). */
static int has_choices(const cli_option *o)
{
    return o->arg_name && strchr(o->arg_name, '|') && is_literal(o->arg_name, strlen(o->arg_name));
}

static int arg_is(const cli_option *o, const char *what)
{
    return o->arg_name && strcmp(o->arg_name, what) == 0;
}

/* Prints s with c replaced by sep: "disk|nas|cloud" -> "disk nas cloud". */
static void print_replaced(FILE *f, const char *s, char c, char sep)
{
    for (; *s; s++)
        fputc(*s == c ? sep : *s, f);
}

/* The option was seen in an earlier table (global first, then commands in
 * order): a name means the same everywhere, so it is written once. */
static int seen_before(const cli_command *const *commands, size_t k, size_t i, const char *name)
{
    const cli_option *const globals = cli_global_option_table();
    for (size_t g = 0; g < table_len(globals); g++)
        if (strcmp(globals[g].name, name) == 0)
            return 1;
    for (size_t a = 0; a <= k; a++)
        for (size_t j = 0; j < (a == k ? i : table_len(commands[a]->options)); j++)
            if (strcmp(commands[a]->options[j].name, name) == 0)
                return 1;
    return 0;
}

/* ---- the manual page ---- */

/* Text for roff: backslashes and hyphens escaped ("\-" is the minus that
 * copies and pastes as '-'), a leading '.' or '\'' kept from being a request. */
static void roff(FILE *f, const char *s)
{
    if (*s == '.' || *s == '\'')
        fputs("\\&", f);
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\e", f);
        else if (*s == '-')
            fputs("\\-", f);
        else
            fputc(*s, f);
    }
}

static void man_option(FILE *f, const cli_option *o)
{
    fputs(".TP\n", f);
    if (o->short_name)
        fprintf(f, "\\fB\\-%c\\fR, ", o->short_name);
    fputs("\\fB", f);
    roff(f, "--");
    roff(f, o->name);
    fputs("\\fR", f);
    if (o->arg_name) {
        fputs(o->kind == OPT_MAYBE_VALUE ? " [\\fI" : " \\fI", f);
        roff(f, o->arg_name);
        fputs(o->kind == OPT_MAYBE_VALUE ? "\\fR]" : "\\fR", f);
    }
    fputc('\n', f);
    roff(f, o->help);
    fputc('\n', f);
}

/* The exit codes of docs/CLI.md, in short. */
static const struct {
    int code;
    const char *meaning;
} exit_codes[] = {
    {EXIT_OK, "success"},
    {EXIT_ERROR, "another error (I/O, out of memory)"},
    {EXIT_USAGE, "usage error: unknown command or option, bad argument, no password available"},
    {EXIT_PARTIAL, "partial: some items could not be backed up or restored (each named)"},
    {EXIT_PASSWORD, "wrong password (the store's, or an encrypted device backup's)"},
    {EXIT_NOSTORE, "no store at that path"},
    {EXIT_VERSION, "the store's format version is not supported"},
    {EXIT_KEYFILE, "a key file is damaged"},
    {EXIT_LOCKED, "the store is in use by another writer"},
    {EXIT_DAMAGED, "damaged data"},
    {EXIT_SOURCE, "bad source: a missing or unreadable folder, or a device that failed"},
    {EXIT_NOSPACE, "disk full"},
    {EXIT_NOTFOUND, "snapshot or copy target not found, or an ambiguous prefix"},
    {EXIT_EXISTS, "the target exists (a store, a non-empty folder, a copy target)"},
    {EXIT_REMOTE, "a copy target or an alarm receiver cannot be reached or answers wrongly"},
    {EXIT_MODULE, "an optional module (cairn-s3.so, cairn-mount.so ...) is missing or cannot be "
                  "loaded"},
};

void cli_print_man(FILE *f, const cli_command *const *commands, size_t n)
{
    const cli_option *const globals = cli_global_option_table();
    fprintf(f,
            ".\\\" cairn(1), generated by 'cairn help \\-\\-man' from the command tables:\n"
            ".\\\" do not edit.\n"
            ".TH CAIRN 1 \"\" \"cairn %s\" \"User Commands\"\n"
            /* option names are typed as printed: never hyphenated or stretched */
            ".ad l\n"
            ".nh\n"
            ".SH NAME\n"
            "cairn \\- deduplicating, encrypted snapshots of iPhone and iPad backups\n"
            ".SH SYNOPSIS\n"
            ".B cairn\n"
            "[\\fB\\-\\-store\\fR \\fIDIR\\fR] [\\fB\\-\\-password\\-file\\fR \\fIFILE\\fR]\n"
            "\\fICOMMAND\\fR [\\fIoptions\\fR] [\\fIARGS\\fR]\n"
            ".br\n"
            ".B cairn help\n"
            "[\\fICOMMAND\\fR]\n"
            ".br\n"
            ".B cairn \\-\\-version\n"
            ".SH DESCRIPTION\n"
            "cairn keeps every iPhone and iPad backup (Finder, iTunes, idevicebackup2, or\n"
            "straight from the device) as a snapshot in one deduplicating, encrypted store.\n"
            "Snapshots of one device form a chain; they can be listed, compared, browsed,\n"
            "extracted file by file and restored byte-identical.\n"
            ".PP\n"
            "Options may come before or after the command word.  An option a command does\n"
            "not take is an error, never ignored.  \\fISNAPSHOT\\fR is an ID, a unique ID\n"
            "prefix or \\fBlatest\\fR.\n"
            ".SH COMMANDS\n",
            CAIRN_VERSION);
    for (size_t k = 0; k < n; k++) {
        const cli_command *const cmd = commands[k];
        fputs(".SS ", f);
        roff(f, cmd->name);
        fputc('\n', f);
        for (size_t i = 0; cmd->synopsis[i]; i++) {
            /* a hanging indent: a long synopsis wraps under itself */
            fputs(i ? ".br\n" : ".PP\n.in +4n\n", f);
            fputs(".ti -4n\n\\fBcairn ", f);
            roff(f, cmd->name);
            fputs("\\fR", f);
            if (*cmd->synopsis[i]) {
                fputc(' ', f);
                roff(f, cmd->synopsis[i]);
            }
            fputc('\n', f);
        }
        fputs(".in\n.PP\n", f);
        roff(f, cmd->summary);
        fputs(".\n", f);
        if (table_len(cmd->options)) {
            fputs(".PP\nOptions:\n", f);
            for (size_t i = 0; i < table_len(cmd->options); i++)
                man_option(f, &cmd->options[i]);
        }
    }
    fputs(".SH GLOBAL OPTIONS\nEvery command takes these, before or after the command word.\n", f);
    for (size_t i = 0; i < table_len(globals); i++)
        man_option(f, &globals[i]);
    fputs(".SH ENVIRONMENT\n"
          ".TP\n.B CAIRN_STORE\n"
          "The store when \\fB\\-\\-store\\fR is not given; else\n"
          "\\fI$XDG_DATA_HOME/cairn/store\\fR (\\fI~/.local/share/cairn/store\\fR).\n"
          ".TP\n.B CAIRN_PASSWORD\n"
          "The store password when \\fB\\-\\-password\\-file\\fR is not given; else a prompt\n"
          "on the terminal.  A password is never taken from the command line.\n"
          ".TP\n.B CAIRN_NEW_PASSWORD\n"
          "The new password of \\fBkey add\\fR and \\fBkey passwd\\fR.\n"
          ".TP\n.B CAIRN_BACKUP_PASSWORD\n"
          "An encrypted device backup's password (else \\fB\\-\\-backup\\-password\\-file\\fR\n"
          "or a prompt).\n"
          ".TP\n.B CAIRN_NEW_BACKUP_PASSWORD\n"
          "The new backup password of \\fBrestore \\-\\-reencrypt\\fR.\n"
          ".TP\n.B CAIRN_MODULE_DIR\n"
          "The only folder to load the optional modules from (S3, SFTP, mount, serve, alarms);\n"
          "else next to the executable, then the install's \\fILIBDIR/cairn\\fR.\n"
          ".SH EXIT STATUS\n",
          f);
    for (size_t i = 0; i < sizeof exit_codes / sizeof exit_codes[0]; i++) {
        fprintf(f, ".TP\n.B %d\n", exit_codes[i].code);
        roff(f, exit_codes[i].meaning);
        fputc('\n', f);
    }
    fputs(".PP\nErrors are one line on standard error; a failed command never alters what\n"
          "is already stored.\n"
          ".SH SEE ALSO\n"
          "\\fBcairn help\\fR \\fICOMMAND\\fR; docs/CLI.md in the cairn sources (every option,\n"
          "output and exit code).\n",
          f);
}

/* ---- bash ---- */

/* What an option's value is, for the scripts: "file", "dir",
 * "words:a b c", "maybe" (an optional value) or "value". */
static void bash_value_kind(FILE *f, const cli_option *o)
{
    if (o->kind == OPT_MAYBE_VALUE)
        fputs("maybe", f);
    else if (arg_is(o, "FILE"))
        fputs("file", f);
    else if (arg_is(o, "DIR"))
        fputs("dir", f);
    else if (has_choices(o)) {
        fputs("'words:", f);
        print_replaced(f, o->arg_name, '|', ' ');
        fputc('\'', f);
    } else
        fputs("value", f);
}

static void bash_value_case(FILE *f, const cli_option *o)
{
    if (o->kind == OPT_FLAG)
        return;
    fprintf(f, "    --%s", o->name);
    if (o->short_name)
        fprintf(f, " | -%c", o->short_name);
    fputs(") echo ", f);
    bash_value_kind(f, o);
    fputs(" ;;\n", f);
}

/* One case branch per path of literal words ("key", "device encryption"):
 * the words that may come next, gathered from every synopsis line. */
static void bash_words(FILE *f, const cli_command *const *commands, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        const cli_command *const cmd = commands[k];
        if (takes_command(cmd))
            fprintf(f, "    '%s') echo \"$_cairn_commands\" ;;\n", cmd->name);
        for (size_t i = 0; cmd->synopsis[i]; i++) {
            char wi[MAX_LITERAL][WORD_CAP];
            const size_t ni = literal_prefix(cmd->synopsis[i], wi);
            for (size_t d = 0; d < ni; d++) {
                /* written already for an earlier line with the same path? */
                int dup = 0;
                for (size_t j = 0; j < i && !dup; j++) {
                    char wj[MAX_LITERAL][WORD_CAP];
                    const size_t nj = literal_prefix(cmd->synopsis[j], wj);
                    dup = nj > d;
                    for (size_t e = 0; dup && e < d; e++)
                        dup = strcmp(wi[e], wj[e]) == 0;
                }
                if (dup)
                    continue;
                fprintf(f, "    '%s", cmd->name);
                for (size_t e = 0; e < d; e++)
                    fprintf(f, " %s", wi[e]);
                fputs("') echo '", f);
                char seen[MAX_CHOICES][WORD_CAP];
                size_t nseen = 0;
                for (size_t j = i; cmd->synopsis[j]; j++) {
                    char wj[MAX_LITERAL][WORD_CAP];
                    const size_t nj = literal_prefix(cmd->synopsis[j], wj);
                    int same = nj > d;
                    for (size_t e = 0; same && e < d; e++)
                        same = strcmp(wi[e], wj[e]) == 0;
                    /* a word twice ("add" in two lines) is written once */
                    for (size_t c = 0; same && c < nseen; c++)
                        same = strcmp(seen[c], wj[d]) != 0;
                    if (!same || nseen == MAX_CHOICES)
                        continue;
                    memcpy(seen[nseen], wj[d], WORD_CAP);
                    if (nseen++)
                        fputc(' ', f);
                    print_replaced(f, wj[d], '|', ' ');
                }
                fputs("' ;;\n", f);
            }
        }
    }
}

static void print_bash(FILE *f, const cli_command *const *commands, size_t n)
{
    const cli_option *const globals = cli_global_option_table();
    fputs("# bash completion for cairn(1), generated by 'cairn help --completion bash'\n"
          "# from cairn's command tables: do not edit.\n\n_cairn_commands='",
          f);
    for (size_t k = 0; k < n; k++)
        fprintf(f, "%s%s", k ? " " : "", commands[k]->name);
    fputs("'\n_cairn_globals='", f);
    for (size_t i = 0; i < table_len(globals); i++)
        fprintf(f, "%s--%s", i ? " " : "", globals[i].name);
    fputs("'\n\n# The long options of a command (the global ones aside).\n"
          "_cairn_options() {\n    case $1 in\n",
          f);
    for (size_t k = 0; k < n; k++) {
        fprintf(f, "    '%s') echo '", commands[k]->name);
        for (size_t i = 0; i < table_len(commands[k]->options); i++)
            fprintf(f, "%s--%s", i ? " " : "", commands[k]->options[i].name);
        fputs("' ;;\n", f);
    }
    fputs("    esac\n}\n\n"
          "# What an option's value is (file, dir, words:LIST, maybe for an optional\n"
          "# one, value); fails for an option without one.  A name means the same in\n"
          "# every command.\n"
          "_cairn_value() {\n    case $1 in\n",
          f);
    for (size_t i = 0; i < table_len(globals); i++)
        bash_value_case(f, &globals[i]);
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; i < table_len(commands[k]->options); i++)
            if (!seen_before(commands, k, i, commands[k]->options[i].name))
                bash_value_case(f, &commands[k]->options[i]);
    fputs("    *) return 1 ;;\n    esac\n}\n\n"
          "# The words that may come next after a command and the words typed so far\n"
          "# (subcommands, fixed values); fails where any word goes.\n"
          "_cairn_words() {\n    case \"$*\" in\n",
          f);
    bash_words(f, commands, n);
    fputs("    *) return 1 ;;\n    esac\n}\n\n"
          "_cairn_reply() {\n"
          "    mapfile -t COMPREPLY < <(compgen \"$@\")\n"
          "}\n\n"
          "_cairn() {\n"
          "    local line=${COMP_LINE:0:COMP_POINT} cur='' cmd='' opt val kind w i dashdash=''\n"
          "    local -a words pos=()\n"
          "    COMPREPLY=()\n"
          "    read -ra words <<<\"$line\"\n"
          "    if [[ ${#words[@]} -gt 1 && $line != *[[:space:]] ]]; then\n"
          "        cur=${words[-1]}\n"
          "        unset 'words[-1]'\n"
          "    fi\n"
          "    # the command word: the first that is neither an option nor its value\n"
          "    for ((i = 1; i < ${#words[@]}; i++)); do\n"
          "        w=${words[i]}\n"
          "        if [[ -z $dashdash && $w == -- ]]; then\n"
          "            dashdash=1\n"
          "        elif [[ -z $dashdash && $w == -?* ]]; then\n"
          "            [[ $w != *=* ]] && kind=$(_cairn_value \"$w\") || continue\n"
          "            if [[ $kind != maybe ]]; then\n"
          "                ((i++))\n"
          "            elif ((i + 1 < ${#words[@]})) && [[ ${words[i + 1]} != -* ]]; then\n"
          "                ((i++))\n"
          "            fi\n"
          "        elif [[ -z $cmd ]]; then\n"
          "            cmd=$w\n"
          "        else\n"
          "            pos+=(\"$w\")\n"
          "        fi\n"
          "    done\n"
          "    # the value of an option: --opt VALUE or --opt=VALUE\n"
          "    if [[ -z $dashdash && $cur == --*=* ]]; then\n"
          "        opt=${cur%%=*} val=${cur#*=}\n"
          "    elif [[ -z $dashdash && ${#words[@]} -gt 1 && $cur != -* ]]; then\n"
          "        opt=${words[-1]} val=$cur\n"
          "    else\n"
          "        opt=''\n"
          "    fi\n"
          "    if [[ $opt == -?* && $opt != *=* ]] && kind=$(_cairn_value \"$opt\"); then\n"
          "        case $kind in\n"
          "        file) _cairn_reply -f -- \"$val\"; return 0 ;;\n"
          "        dir) _cairn_reply -d -- \"$val\"; return 0 ;;\n"
          "        words:*) _cairn_reply -W \"${kind#words:}\" -- \"$val\"; return 0 ;;\n"
          "        maybe) [[ $cur == --*=* ]] && return 0 ;;\n"
          "        *) return 0 ;;\n"
          "        esac\n"
          "    fi\n"
          "    if [[ -z $dashdash && $cur == -* ]]; then\n"
          "        _cairn_reply -W \"$(_cairn_options \"$cmd\") $_cairn_globals\" -- \"$cur\"\n"
          "    elif [[ -z $cmd ]]; then\n"
          "        _cairn_reply -W \"$_cairn_commands\" -- \"$cur\"\n"
          "    elif w=$(_cairn_words \"$cmd\" \"${pos[@]}\"); then\n"
          "        _cairn_reply -W \"$w\" -- \"$cur\"\n"
          "    else\n"
          "        _cairn_reply -f -- \"$cur\"\n"
          "    fi\n"
          "    return 0\n"
          "}\n\n"
          "complete -o filenames -F _cairn cairn\n",
          f);
}

/* ---- zsh ---- */

/* Text inside '...' of an _arguments spec or a _describe entry: quotes
 * closed and reopened, and (in a description) brackets and colons escaped. */
static void zsh_quoted(FILE *f, const char *s, int in_spec)
{
    for (; *s; s++) {
        if (*s == '\'')
            fputs("'\\''", f);
        else if (in_spec && (*s == '[' || *s == ']' || *s == ':' || *s == '\\')) {
            fputc('\\', f);
            fputc(*s, f);
        } else
            fputc(*s, f);
    }
}

/* One _arguments spec: '(-s --store)--store=[the store]:DIR:_files -/'. */
static void zsh_spec(FILE *f, const cli_option *o, int short_form)
{
    fputs(" \\\n        '", f);
    if (o->short_name)
        fprintf(f, "(-%c --%s)", o->short_name, o->name);
    if (short_form)
        fprintf(f, "-%c", o->short_name);
    else
        fprintf(f, "--%s", o->name);
    if (o->kind != OPT_FLAG)
        fputs(short_form ? "+" : "=", f);
    fputc('[', f);
    zsh_quoted(f, o->help, 1);
    fputc(']', f);
    if (o->kind != OPT_FLAG) {
        fputs(o->kind == OPT_MAYBE_VALUE ? "::" : ":", f);
        zsh_quoted(f, o->arg_name ? o->arg_name : "VALUE", 1);
        if (arg_is(o, "FILE"))
            fputs(":_files", f);
        else if (arg_is(o, "DIR"))
            fputs(":_files -/", f);
        else if (has_choices(o)) {
            fputs(":(", f);
            print_replaced(f, o->arg_name, '|', ' ');
            fputc(')', f);
        } else
            fputs(": ", f);
    }
    fputc('\'', f);
}

static void zsh_options(FILE *f, const cli_option *t)
{
    for (size_t i = 0; i < table_len(t); i++) {
        if (t[i].short_name)
            zsh_spec(f, &t[i], 1);
        zsh_spec(f, &t[i], 0);
    }
}

static void print_zsh(FILE *f, const cli_command *const *commands, size_t n)
{
    const cli_option *const globals = cli_global_option_table();
    fputs("#compdef cairn\n"
          "# zsh completion for cairn(1), generated by 'cairn help --completion zsh'\n"
          "# from cairn's command tables: do not edit.\n\n"
          "_cairn_commands() {\n    local -a commands\n    commands=(\n",
          f);
    for (size_t k = 0; k < n; k++) {
        fputs("        '", f);
        zsh_quoted(f, commands[k]->name, 0);
        fputc(':', f);
        zsh_quoted(f, commands[k]->summary, 0);
        fputs("'\n", f);
    }
    fputs("    )\n    _describe -t commands 'cairn command' commands\n}\n", f);
    for (size_t k = 0; k < n; k++) {
        const cli_command *const cmd = commands[k];
        fprintf(f, "\n_cairn_cmd_%s() {\n    _arguments -S :", cmd->name);
        zsh_options(f, cmd->options);
        zsh_options(f, globals);
        if (takes_command(cmd))
            fputs(" \\\n        '1: :_cairn_commands'", f);
        /* the literal words at each place, from every synopsis line */
        for (size_t d = 0; d < MAX_LITERAL; d++) {
            int any = 0;
            for (size_t i = 0; cmd->synopsis[i]; i++) {
                char w[MAX_LITERAL][WORD_CAP];
                if (literal_prefix(cmd->synopsis[i], w) <= d)
                    continue;
                int again = 0;
                for (size_t j = 0; j < i && !again; j++) {
                    char wj[MAX_LITERAL][WORD_CAP];
                    again = literal_prefix(cmd->synopsis[j], wj) > d && !strcmp(wj[d], w[d]);
                }
                if (again)
                    continue;
                fprintf(f, any ? " " : " \\\n        '%zu: :(", d + 1);
                print_replaced(f, w[d], '|', ' ');
                any = 1;
            }
            if (any)
                fputs(")'", f);
        }
        fputs(" \\\n        '*: :_files'\n}\n", f);
    }
    fputs("\n_cairn() {\n"
          "    local curcontext=$curcontext state line ret=1\n"
          "    _arguments -C -S :",
          f);
    zsh_options(f, globals);
    fputs(" \\\n        '1: :_cairn_commands' \\\n"
          "        '*:: :->args' && ret=0\n"
          "    if [[ $state == args ]] && (( $+functions[_cairn_cmd_$words[1]] )); then\n"
          "        curcontext=${curcontext%:*:*}:cairn-$words[1]:\n"
          "        _cairn_cmd_$words[1] && ret=0\n"
          "    fi\n"
          "    return ret\n"
          "}\n\n"
          "if [[ $funcstack[1] == _cairn ]]; then\n"
          "    _cairn \"$@\"\n"
          "else\n"
          "    compdef _cairn cairn\n"
          "fi\n",
          f);
}

int cli_print_completion(FILE *f, const char *shell, const cli_command *const *commands, size_t n)
{
    if (strcmp(shell, "bash") == 0)
        print_bash(f, commands, n);
    else if (strcmp(shell, "zsh") == 0)
        print_zsh(f, commands, n);
    else
        return -1;
    return 0;
}
