#!/usr/bin/env bash
# Install Debian's chromium for the browser tests (pytest -m browser), when it is missing.
#
# Idempotent: does nothing when a chromium binary is already on PATH. Uses the system's
# package manager because `playwright install` downloads a browser build, which fails
# where only package registries are reachable.
set -euo pipefail

for name in chromium chromium-browser; do
    if command -v "$name" >/dev/null 2>&1; then
        echo "chromium already installed: $(command -v "$name")"
        exit 0
    fi
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install-chromium.sh: not root and no sudo; install chromium with your package manager" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core
command -v chromium
