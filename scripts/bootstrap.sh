#!/usr/bin/env bash
# Creates ./.venv and installs distill with everything it needs. Safe to run again (fast when up to date).
# On Linux as root with apt, it also installs Debian's OpenBLAS, which makes MLX on the CPU ~13x faster.
set -euo pipefail
cd "$(dirname "$0")/.."

python=""
for candidate in ${PYTHON:-} python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
        "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        python=$candidate
        break
    fi
done
if [ -z "$python" ]; then
    echo "distill needs Python >= 3.11 (set PYTHON=/path/to/python3.11 if it is not on PATH)" >&2
    exit 1
fi

openblas=libopenblas0-pthread
if [ "$(uname -s)" = Linux ] && command -v dpkg >/dev/null 2>&1 && ! dpkg -s "$openblas" >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing $openblas (fast float32 matmul for MLX on the CPU)"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$openblas" >/dev/null
    else
        echo "note: $openblas is not installed; MLX will use its slow reference BLAS" \
             "(sudo apt-get install $openblas)" >&2
    fi
fi

if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
stamp=.venv/.distill-installed
want=$(cat pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    # (the grep drops pip's warnings about this machine's unused local index folders, nothing else)
    .venv/bin/python -m pip install --quiet --upgrade pip 2> >(grep -v 'is neither a file nor a directory' >&2)
    .venv/bin/python -m pip install --quiet -e ".[dev]" 2> >(grep -v 'is neither a file nor a directory' >&2)
    echo "$want" > "$stamp"
fi
