#!/usr/bin/env bash
# Set up, then run the test suite (extra arguments go to pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
# The real_models tests need the default models and llama.cpp; set them up first (fast when already there).
# Best effort: if this fails, those tests skip and print why, and the rest of the suite still runs.
if ! .venv/bin/distill models setup; then
    echo "note: 'distill models setup' failed; the real_models tests will be skipped with the reason" >&2
fi
exec .venv/bin/python -m pytest "$@"
