#!/usr/bin/env bash
# Installs the C libraries inpars builds against (Debian/Ubuntu): only the missing ones, with
# apt-get run directly as root (containers, CI) or through sudo otherwise.
#
#   Scripts/setup.sh
#
# The README's set-up command calls this script, and .ci/run runs the README's commands.
set -euo pipefail

packages=(libopenblas-dev libcurl4-openssl-dev zlib1g-dev libssl-dev pkg-config libdnnl-dev)

missing=()
for package in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
    [[ $status == "install ok installed" ]] || missing+=("$package")
done
if ((${#missing[@]} == 0)); then
    echo "setup: ${packages[*]} already installed" >&2
    exit 0
fi

echo "setup: installing ${missing[*]}" >&2
if [[ $(id -u) == 0 ]]; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
elif command -v sudo >/dev/null; then
    sudo apt-get update
    sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
else
    echo "setup: not root and no sudo; as root, run: apt-get install -y ${missing[*]}" >&2
    exit 1
fi
