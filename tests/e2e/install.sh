#!/bin/bash
# install.sh - cairn installs like a tool (issue 16, item 9): 'cmake
# --install' into a prefix and into a DESTDIR puts the binary, the manual page
# cairn(1) and the bash and zsh completions in place; the installed files are
# what the binary prints from its command tables ('cairn help --man',
# 'cairn help --completion bash|zsh'); the manual page renders with 'man -l'
# without warnings and has every command of 'cairn help' with every option of
# 'cairn help COMMAND'; the bash completion offers every command, each
# command's options (and the global ones), subcommands and fixed values; the
# zsh completion parses and declares the same.  Before item 9 nothing was
# installed.  Skips (77) when man or zsh is missing, after the other checks.
#
# usage: install.sh CAIRN CMAKE BUILD_DIR
. "$(dirname "$0")/lib.sh" "$@"
CMAKE=${2:?usage: $0 CAIRN CMAKE BUILD_DIR}
BUILD=${3:?usage: $0 CAIRN CMAKE BUILD_DIR}
skipped=""

# the commands of 'cairn help' (the overview), one a line
"$CAIRN" help >"$T/overview" || fail "cairn help exited $?"
sed -n '/^commands:$/,/^$/s/^  \([a-z][a-z0-9-]*\) .*/\1/p' "$T/overview" >"$T/commands"
[ "$(wc -l <"$T/commands")" -ge 20 ] || fail "cairn help lists $(wc -l <"$T/commands") commands"
# the long options of one command as its usage prints them (with the global ones)
options_of() {
    "$CAIRN" help "$1" | sed -n 's/^ *\(-[a-zA-Z], \)\{0,1\}\(--[a-z][a-z0-9-]*\).*/\2/p'
}
options_of init >"$T/o"
grep -qx -- --kdf "$T/o" && grep -qx -- --store "$T/o" || fail "options_of init: $(cat "$T/o")"

info "cmake --install into a prefix"
"$CMAKE" --install "$BUILD" --prefix "$T/prefix" >"$T/out" 2>"$T/err" ||
    fail "cmake --install --prefix exited $?"
P=$T/prefix
for f in bin/cairn share/man/man1/cairn.1 share/bash-completion/completions/cairn \
    share/zsh/site-functions/_cairn; do
    [ -s "$P/$f" ] || fail "$f not installed under the prefix"
done
[ -x "$P/bin/cairn" ] || fail "bin/cairn is not executable"
[ "$("$P/bin/cairn" --version | head -n 1)" = "$("$CAIRN" --version | head -n 1)" ] ||
    fail "the installed cairn says '$("$P/bin/cairn" --version | head -n 1)'"
# the modules (util/module.h) go to LIBDIR/cairn, where the installed cairn
# finds them before the build folder: an alarm command sink, cairn's child,
# names the cairn-alarm.so its parent mapped
MODS=$(dirname "$(find "$P" -name cairn-alarm.so | head -n 1)")
[ "$(basename "$MODS")" = cairn ] || fail "no LIBDIR/cairn/cairn-alarm.so under the prefix"
for m in s3 sftp mount web alarm device; do
    cmp -s "$MODS/cairn-$m.so" "$(dirname "$CAIRN")/cairn-$m.so" || fail "cairn-$m.so not installed"
done
printf '#!/bin/sh\ngrep -o "/.*/cairn-alarm\\.so" /proc/$PPID/maps | sort -u >"%s"\n' \
    "$T/loaded" >"$T/where.sh"
chmod +x "$T/where.sh"
"$P/bin/cairn" alarm test "command:$T/where.sh" >"$T/out" 2>"$T/err" || fail "alarm test exited $?"
[ "$(cat "$T/loaded")" = "$(cd "$MODS" && pwd -P)/cairn-alarm.so" ] ||
    fail "the installed cairn loaded '$(cat "$T/loaded")'"

info "the installed files are what the command tables give"
"$CAIRN" help --man >"$T/man.1" || fail "help --man exited $?"
"$CAIRN" help --completion bash >"$T/bash" || fail "help --completion bash exited $?"
"$CAIRN" help --completion zsh >"$T/zsh" || fail "help --completion zsh exited $?"
cmp -s "$T/man.1" "$P/share/man/man1/cairn.1" || fail "the installed cairn.1 is not 'help --man'"
cmp -s "$T/bash" "$P/share/bash-completion/completions/cairn" ||
    fail "the installed bash completion is not 'help --completion bash'"
cmp -s "$T/zsh" "$P/share/zsh/site-functions/_cairn" ||
    fail "the installed zsh completion is not 'help --completion zsh'"
run 2 help --completion fish
[ "$(cat "$T/err")" = "cairn: help: --completion takes bash or zsh, not 'fish'" ] ||
    fail "help --completion fish: $(cat "$T/err")"
[ ! -s "$T/out" ] || fail "help --completion fish printed a script"
run 2 help --man backup
grep -q "^cairn: usage: cairn help \[COMMAND\] | help --man" "$T/err" || fail "help --man backup"

info "DESTDIR staging (as a package build does)"
DESTDIR=$T/dest "$CMAKE" --install "$BUILD" --prefix /usr/local >"$T/out" 2>"$T/err" ||
    fail "DESTDIR=... cmake --install exited $?"
for f in bin/cairn share/man/man1/cairn.1 share/bash-completion/completions/cairn \
    share/zsh/site-functions/_cairn; do
    cmp -s "$P/$f" "$T/dest/usr/local/$f" || fail "$f not staged under DESTDIR/usr/local"
done

info "bash: every command, each command's options, subcommands and values"
# offer LINE: what the completion offers at the end of LINE, sorted, one a line
cat >"$T/complete.sh" <<'EOF'
. "$1"
complete -p cairn | grep -q -- '-F _cairn' || { echo "not registered: $(complete -p cairn)"; exit 1; }
line=$2
COMP_LINE=$line
COMP_POINT=${#line}
read -ra COMP_WORDS <<<"$line"
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
[[ $line == *' ' ]] && COMP_CWORD=${#COMP_WORDS[@]}
COMPREPLY=()
_cairn
printf '%s\n' "${COMPREPLY[@]}" | sort
EOF
offer() {
    bash "$T/complete.sh" "$P/share/bash-completion/completions/cairn" "$1" >"$T/offer" ||
        fail "bash completion of '$1': $(cat "$T/offer")"
}
offer "cairn "
sort "$T/commands" | cmp -s - "$T/offer" || fail "'cairn <TAB>' offers: $(cat "$T/offer")"
offer "cairn --store $T ch"
printf 'chain\nchains\ncheck\n' | cmp -s - "$T/offer" || fail "'cairn ch<TAB>': $(cat "$T/offer")"
while read -r cmd; do
    options_of "$cmd" | sort >"$T/want"
    offer "cairn $cmd --"
    cmp -s "$T/want" "$T/offer" ||
        fail "'cairn $cmd --<TAB>' offers $(tr '\n' ' ' <"$T/offer"), not $(tr '\n' ' ' <"$T/want")"
    # an option before the command word, with its value, does not hide the command
    offer "cairn -s $T $cmd --"
    cmp -s "$T/want" "$T/offer" || fail "'cairn -s DIR $cmd --<TAB>': $(cat "$T/offer")"
done <"$T/commands"
offer "cairn target "
printf 'add\nlist\nremove\n' | cmp -s - "$T/offer" || fail "'target <TAB>': $(cat "$T/offer")"
offer "cairn key "
printf 'add\nlist\npasswd\nremove\n' | cmp -s - "$T/offer" || fail "'key <TAB>': $(cat "$T/offer")"
offer "cairn device encryption "
printf 'off\non\n' | cmp -s - "$T/offer" || fail "'device encryption <TAB>': $(cat "$T/offer")"
offer "cairn target add nas sftp://h/x --media "
printf 'cloud\ndisk\nnas\n' | cmp -s - "$T/offer" || fail "'--media <TAB>': $(cat "$T/offer")"
offer "cairn target add nas sftp://h/x --media=c"
[ "$(cat "$T/offer")" = cloud ] || fail "'--media=c<TAB>': $(cat "$T/offer")"
offer "cairn help ba"
[ "$(cat "$T/offer")" = backup ] || fail "'help ba<TAB>': $(cat "$T/offer")"
mkdir -p "$T/dirs/photos" && : >"$T/dirs/pfile"
offer "cairn restore latest --to $T/dirs/p"
[ "$(cat "$T/offer")" = "$T/dirs/photos" ] || fail "'--to DIR<TAB>' offers $(cat "$T/offer")"
offer "cairn --password-file $T/dirs/pf"
[ "$(cat "$T/offer")" = "$T/dirs/pfile" ] || fail "'--password-file <TAB>': $(cat "$T/offer")"

info "zsh: the script parses and declares every command and option"
if command -v zsh >/dev/null; then
    zsh -n "$P/share/zsh/site-functions/_cairn" 2>"$T/err" || fail "zsh -n: $(cat "$T/err")"
    [ "$(head -n 1 "$P/share/zsh/site-functions/_cairn")" = "#compdef cairn" ] ||
        fail "_cairn does not start with #compdef cairn"
    # compsys stood in for: _describe and _arguments print what they were given
    cat >"$T/zsh-stub.zsh" <<'EOF'
compdef() { print -r -- "compdef $*"; }
_describe() { print -rl -- "${(@P)${@[-1]}}"; }
_arguments() { print -rl -- "$@"; }
source "$1"
if [[ $2 == commands ]]; then _cairn_commands; else "_cairn_cmd_$2"; fi
EOF
    zsh -f "$T/zsh-stub.zsh" "$P/share/zsh/site-functions/_cairn" commands >"$T/zout" 2>"$T/err" ||
        fail "zsh _cairn_commands: $(cat "$T/err")"
    grep -qx "compdef _cairn cairn" "$T/zout" || fail "sourcing _cairn does not register it"
    sed -n 's/^\([a-z][a-z0-9-]*\):.*/\1/p' "$T/zout" | cmp -s - "$T/commands" ||
        fail "zsh offers the commands $(tr '\n' ' ' <"$T/zout")"
    while read -r cmd; do
        zsh -f "$T/zsh-stub.zsh" "$P/share/zsh/site-functions/_cairn" "$cmd" >"$T/zout" \
            2>"$T/err" || fail "zsh _cairn_cmd_$cmd: $(cat "$T/err")"
        for o in $(options_of "$cmd"); do
            grep -q -e "^\(([^)]*)\)\{0,1\}$o[=\[]" "$T/zout" ||
                fail "zsh does not offer $o for $cmd: $(cat "$T/zout")"
        done
    done <"$T/commands"
    zsh -f "$T/zsh-stub.zsh" "$P/share/zsh/site-functions/_cairn" target >"$T/zout"
    grep -qx "1: :(add list remove)" "$T/zout" || fail "zsh target subcommands: $(cat "$T/zout")"
    grep -q "^--media=\[.*\]:disk|nas|cloud:(disk nas cloud)$" "$T/zout" ||
        fail "zsh --media values: $(cat "$T/zout")"
else
    skipped="$skipped zsh"
fi

info "man -l renders cairn(1): every command, with every option"
if command -v man >/dev/null && command -v groff >/dev/null; then
    groff -man -ww -z "$P/share/man/man1/cairn.1" 2>"$T/err" || fail "groff exited $?"
    [ ! -s "$T/err" ] || fail "groff warns: $(cat "$T/err")"
    MANWIDTH=200 man -l "$P/share/man/man1/cairn.1" >"$T/man.txt" 2>"$T/err" ||
        fail "man -l exited $?: $(cat "$T/err")"
    sed -n '/^GLOBAL OPTIONS$/,/^[A-Z]/p' "$T/man.txt" >"$T/globals"
    [ ! -s "$T/err" ] || fail "man -l says: $(cat "$T/err")"
    grep -q '^CAIRN(1) ' "$T/man.txt" || fail "no CAIRN(1) header: $(head -n 3 "$T/man.txt")"
    grep -qx "SYNOPSIS" "$T/man.txt" && grep -qx "EXIT STATUS" "$T/man.txt" &&
        grep -qx "ENVIRONMENT" "$T/man.txt" || fail "a section is missing"
    while read -r cmd; do
        # the command's subsection: from its heading to the next heading
        awk -v h="   $cmd" '$0 == h {on = 1; next} on && /^ ? ? ?[^ ]/ {on = 0} on' \
            "$T/man.txt" | tr -s ' ' >"$T/section"
        [ -s "$T/section" ] || fail "the manual page has no section for $cmd"
        "$CAIRN" help "$cmd" | sed -n 's/^\(usage:\|   or:\) //p' >"$T/synopsis"
        while read -r s; do
            grep -q -F -- "$s" "$T/section" ||
                fail "the $cmd section lacks the synopsis '$s'"
        done <"$T/synopsis"
        summary=$(grep -E "^  $cmd " "$T/overview" | head -n 1 | sed 's/^  [^ ]* *//')
        grep -q -F -- "$summary" "$T/section" || fail "the $cmd section lacks '$summary'"
        for o in $(options_of "$cmd"); do
            grep -q -e "^ *\(-[a-zA-Z], \)\{0,1\}$o\( \|$\)" "$T/section" ||
                grep -q -e "^ *\(-[a-zA-Z], \)\{0,1\}$o\( \|$\)" "$T/globals" ||
                fail "the manual page lacks $o of $cmd"
        done
    done <"$T/commands"
else
    skipped="$skipped man"
fi

if [ -n "$skipped" ]; then
    echo "SKIP: not installed:$skipped (scripts/deps.sh installs them)"
    exit 77
fi
echo "PASS: install"
