#!/usr/bin/env bash
# Creates the Python 3.10 environment the coprocessor.loihi node runs in (Lava needs 3.10):
#   bash tools/envs/make_lava_env.sh            -> .venv-lava/ at the repository root
#   STREAMER_LAVA_PYTHON=/path/to/venv/bin/python bash tools/envs/make_lava_env.sh
# The interpreter is found as $PYTHON310, `python3.10` on PATH, or pyenv's 3.10.
# Graphs then run the node with `python: .venv-lava/bin/python`.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
if [ -n "${STREAMER_LAVA_PYTHON:-}" ]; then
    venv="$(dirname "$(dirname "$STREAMER_LAVA_PYTHON")")"
else
    venv="$root/.venv-lava"
fi
base=""
for cand in "${PYTHON310:-}" "$(command -v python3.10 || true)" \
        $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.10*/bin/python 2>/dev/null | sort -rV); do
    if [ -n "$cand" ] && "$cand" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
        base="$cand"
        break
    fi
done
if [ -z "$base" ]; then
    echo "make_lava_env: no Python 3.10 found (set PYTHON310=/path/to/python3.10); Lava tests will skip" >&2
    exit 0
fi
if [ ! -x "$venv/bin/python" ]; then
    "$base" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -r "$root/tools/envs/lava-requirements.txt"
"$venv/bin/python" -m pip install --quiet --no-deps -e "$root"
"$venv/bin/python" -c 'import lava, streamer, nodes.coprocessors.loihi_node' 
echo "make_lava_env: Lava environment ready at $venv"
