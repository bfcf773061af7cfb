#!/usr/bin/env bash
# Set up, then run the test suite (extra arguments go to pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
# The dashboard's browser test drives Debian's chromium through chromedriver (no browser download): install them
# as root with apt when missing; elsewhere that test skips and says why.
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing Debian's chromium and chromium-driver (the dashboard's browser test)"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
    else
        echo "note: chromium/chromedriver missing; the dashboard's browser test will be skipped" >&2
    fi
fi
# DISTILL_TEST_PEFT=1: also install the `peft` extra (torch + peft) for the test that loads a PEFT export with the
# real peft; without it that test skips and says why (the tensor mapping is checked with numpy either way).
if [ "${DISTILL_TEST_PEFT:-0}" = 1 ]; then
    .venv/bin/python -m pip install --quiet -e ".[dev,peft]" 2> >(grep -v 'is neither a file nor a directory' >&2) ||
        echo "note: the peft extra did not install; the PEFT load test will be skipped" >&2
fi
# The real_models tests need the default models and llama.cpp; set them up first (fast when already there).
# Best effort: if this fails, those tests skip and print why, and the rest of the suite still runs.
if ! .venv/bin/distill models setup; then
    echo "note: 'distill models setup' failed; the real_models tests will be skipped with the reason" >&2
fi
exec .venv/bin/python -m pytest "$@"
