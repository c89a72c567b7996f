#!/usr/bin/env bash
# The main job on the embedded defaults: installs what is missing, builds,
# makes a sample iPhone backup, backs it up twice (a day apart) into the
# default store, lists snapshots and chains, shows the diff and restores the
# first snapshot, proving it byte-identical.
#
# Store: $CAIRN_STORE, else ~/.local/share/cairn/store.  Password:
# $CAIRN_PASSWORD, else a random one kept in ~/.config/cairn/demo-password
# (mode 0600), so the demo runs without a terminal.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh"
"$top/scripts/build.sh" "$top/build"
cairn="$top/build/cairn"
gen="$top/build/cairn-gen"

if [ -z "${CAIRN_PASSWORD:-}" ]; then
  pwfile="${XDG_CONFIG_HOME:-$HOME/.config}/cairn/demo-password"
  if [ ! -s "$pwfile" ]; then
    mkdir -p "$(dirname "$pwfile")"
    (umask 077 && head -c 24 /dev/urandom | base64 > "$pwfile")
  fi
  pw=(--password-file "$pwfile")
else
  pw=()
fi
store="${CAIRN_STORE:-${XDG_DATA_HOME:-$HOME/.local/share}/cairn/store}"
work="${XDG_CACHE_HOME:-$HOME/.cache}/cairn/demo"
udid=00008120-001A2B3C4D5E6F70
rm -rf "$work"
mkdir -p "$work"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

if [ ! -f "$store/config" ]; then
  step "cairn init (store: $store)"
  "$cairn" init --store "$store" "${pw[@]}"
fi

step "a sample iPhone backup (64 MB, generated) in $work/$udid"
"$gen" device "$work/$udid" --seed 7 --size-mb 64 --udid "$udid" --name "Demo iPhone"
cp -a "$work/$udid" "$work/day0"

step "cairn backup (day 0)"
"$cairn" backup --store "$store" "${pw[@]}" "$work/$udid"

step "the next day: new photos, edited databases, deleted files"
"$gen" mutate "$work/$udid" --seed 7 --day 1
step "cairn backup (day 1): only what changed is read and stored"
"$cairn" backup --store "$store" "${pw[@]}" "$work/$udid"

step "cairn snapshots"
"$cairn" snapshots --store "$store" "${pw[@]}" --device "$udid"
step "cairn chains"
"$cairn" chains --store "$store" "${pw[@]}"
step "cairn diff latest (day 0 -> day 1)"
"$cairn" diff --store "$store" "${pw[@]}" latest | tail -n 12
step "cairn ls latest HomeDomain/Library/SMS"
"$cairn" ls --store "$store" "${pw[@]}" latest HomeDomain/Library/SMS

first=$("$cairn" snapshots --store "$store" "${pw[@]}" --device "$udid" --json |
  grep -o '"short_id":"[0-9a-f]*"' | tail -n 2 | head -n 1 | cut -d'"' -f4)
step "cairn restore $first (day 0) --to $work/restored"
"$cairn" restore --store "$store" "${pw[@]}" "$first" --to "$work/restored"
if diff -r "$work/day0" "$work/restored" >/dev/null; then
  echo "restored day-0 backup is byte-identical to the original"
else
  echo "restored backup differs from the original" >&2
  exit 1
fi
step "cairn check --read-data"
"$cairn" check --store "$store" "${pw[@]}" --read-data
