#!/usr/bin/env bash
# The main job on the embedded defaults: set up (the environment, then the offline default models), then the whole
# study on generated speed-round problems (examples/demo.toml): ingest, corpus, levels, split, train, evaluate, report.
# A rerun resumes where it stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
.venv/bin/distill models setup
exec .venv/bin/distill study --config examples/demo.toml "$@"
