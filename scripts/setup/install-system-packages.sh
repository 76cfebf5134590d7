#!/usr/bin/env bash
# Installs the Debian packages listed in system-packages.txt that are not installed yet (as root, or with sudo).
set -euo pipefail
list="$(dirname "$0")/system-packages.txt"
mapfile -t packages < <(sed -e 's/#.*//' "$list" | awk 'NF { print $1 }')
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if ((${#missing[@]} == 0)); then
  echo "system packages: all ${#packages[@]} from scripts/setup/system-packages.txt are installed"
  exit 0
fi
sudo=()
if [[ $(id -u) -ne 0 ]]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "system packages: missing ${missing[*]}; as root, run: apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  sudo=(sudo)
fi
echo "system packages: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
