#!/usr/bin/env bash
# Create benchmarks/.venv-peers with Lifetimes and the old pandas/numpy/scipy it needs.
# Usage: bash benchmarks/peers/make_peer_venv.sh [python3.11]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/../.venv-peers"
py="${1:-python3.11}"
"$py" -m venv "$venv"
# a venv is not ignored by the repo's .gitignore (it matches .venv/ only): ignore it from inside
echo "*" > "$venv/.gitignore"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -r "$here/requirements-lifetimes.txt"
"$venv/bin/python" -c "import lifetimes, pandas, numpy, scipy; print('lifetimes', lifetimes.__version__, 'pandas', pandas.__version__, 'numpy', numpy.__version__, 'scipy', scipy.__version__)"
