#!/usr/bin/env bash
# Create .venv and install ienfd with every extra the tests use. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"

# System packages the tests need: Xvfb and two xcb libraries Qt loads for the napari tests
# (docs/napari.md); Chromium, the headless browser that opens and prints every HTML report
# (docs/clinical.md). Installed only when missing; a failure to install stops the setup.
APT_PACKAGES=(xvfb xauth libxcb-icccm4 libxcb-keysyms1 chromium)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup.sh: installing system packages: ${missing[*]}" >&2
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        SUDO="sudo"
    fi
    if ! { $SUDO apt-get update -qq && \
           DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"; }; then
        echo "setup.sh: error: could not install ${missing[*]} (needed by the tests)" >&2
        exit 1
    fi
fi

if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[dask,napari,test,formats,docs]"
