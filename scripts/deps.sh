#!/usr/bin/env bash
# Installs the Debian packages cairn needs to build and test, skipping what is
# already installed (so a second run needs no network and no root).
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libsodium-dev libzstd-dev liblmdb-dev libxxhash-dev libsqlite3-dev libplist-dev libssl-dev
  libssh-dev libcurl4-openssl-dev
  libmicrohttpd-dev
  libdbus-1-dev dbus python3-dbus python3-gi python3-aiosmtpd
  libcmocka-dev
  libfuse3-dev fuse3
  sqlite3 util-linux python3 libplist-utils openssl procps curl iproute2
  libimobiledevice-dev libimobiledevice-utils usbmuxd
  clang libclang-rt-14-dev
  groff-base man-db zsh
  keyutils time strace
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
