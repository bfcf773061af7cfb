#!/usr/bin/env bash
# The main job on the embedded defaults: set up (the environment, then the offline default models), ingest the
# bundled sample set, summarise the store.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
.venv/bin/distill models setup
export DISTILL_DB=${DISTILL_DB:-distill.duckdb}
.venv/bin/distill ingest examples/sample --format obryan --source sample
.venv/bin/distill problems
echo "store: $DISTILL_DB  (query it with: .venv/bin/distill sql \"SELECT * FROM problem_counts\")"
