#!/usr/bin/env bash
# Creates ./.venv-curator with curator, for `benchmarks/corpus_throughput.py --vs-curator`. Curator lives apart from
# distill's .venv: its litellm pins pydantic==2.12.5 and click==8.1.8, below distill's own pins (and openai==2.30.0).
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
if [ ! -x .venv-curator/bin/python ]; then
    "$python" -m venv .venv-curator
fi
.venv-curator/bin/python -m pip install --quiet -r benchmarks/curator-requirements.txt \
    2> >(grep -v 'is neither a file nor a directory' >&2)
