#!/usr/bin/env bash
# Creates the Python 3.10 environment the coprocessor.loihi node runs in (Lava needs 3.10):
#   bash tools/envs/make_lava_env.sh            -> .venv-lava/ at the repository root
#   STREAMER_LAVA_PYTHON=/path/to/venv/bin/python bash tools/envs/make_lava_env.sh
# The interpreter is found as $PYTHON310, `python3.10` on PATH, or pyenv's 3.10.
# Graphs then run the node with `python: .venv-lava/bin/python`.
# An environment made from the same requirements and pyproject.toml is kept as it is (their
# hash is written inside it once it works); otherwise it is made anew.
# Exit status: 0 when the environment works, or when there is no Python 3.10 at all (then
# the Lava tests skip); 1 with the step that failed otherwise.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
default_venv="$root/.venv-lava"
if [ -n "${STREAMER_LAVA_PYTHON:-}" ]; then
    venv="$(dirname "$(dirname "$STREAMER_LAVA_PYTHON")")"
else
    venv="$default_venv"
fi
stamp_file="$venv/.made-from"
stamp="$(cat "$root/tools/envs/lava-requirements.txt" "$root/pyproject.toml" | sha256sum | cut -d' ' -f1)"
check='import lava, streamer, nodes.coprocessors.loihi_node'

fail() {
    echo "make_lava_env: could not $1; the Lava environment at $venv is not usable (see above)" >&2
    exit 1
}

if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp_file" 2>/dev/null)" = "$stamp" ] \
        && "$venv/bin/python" -c "$check" 2>/dev/null; then
    echo "make_lava_env: Lava environment at $venv is up to date"
    exit 0
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

rm -f "$stamp_file"
if [ "$venv" = "$default_venv" ] || [ ! -x "$venv/bin/python" ]; then
    # Ours: made from scratch, so that nothing of other requirements stays behind.
    "$base" -m venv --clear "$venv" || fail "create a virtual environment with $base"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip || fail "upgrade pip"
"$venv/bin/python" -m pip install --quiet -r "$root/tools/envs/lava-requirements.txt" \
    || fail "install tools/envs/lava-requirements.txt"
"$venv/bin/python" -m pip install --quiet --no-deps -e "$root" || fail "install the project (pip install -e)"
"$venv/bin/python" -c "$check" || fail "import Lava and the coprocessor.loihi node ($check)"
echo "$stamp" > "$stamp_file"
echo "make_lava_env: Lava environment ready at $venv"
