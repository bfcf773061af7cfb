"""Curator's half of `corpus_throughput.py --vs-curator`: runs in curator's own virtual environment (its litellm pins
pydantic and openai below distill's; `scripts/bench_env.sh` makes it) and prints one JSON line.

Reads a JSON job on stdin: {"base_url", "model", "concurrency", "requests": [messages, ...], "sampling": {...}}.
Curator runs offline against that server: telemetry off, its cache in a fresh temporary folder and disabled,
no viewer, no rich display, litellm's bundled cost map and tokenizer. Its rate limits are set far above what the
run can reach, so `max_concurrent_requests` is the only limit, as `concurrency` is distill's.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import tempfile
import time

# Before curator is imported: its telemetry client reads these at import, and writes an id under ~/.cache.
CURATOR_ENV = {
    "TELEMETRY_ENABLED": "false",  # no PostHog events
    "CURATOR_DISABLE_CACHE": "true",  # a random fingerprint per run: nothing is reused between runs
    "CURATOR_DISABLE_RICH_DISPLAY": "1",  # distill's benchmark renders no progress either
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # litellm's bundled price table, not a download
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "OPENAI_API_KEY": "not-needed",
}


def bundled_tokenizers() -> str:
    """litellm ships tiktoken's cl100k_base file; without this tiktoken would download it."""
    spec = importlib.util.find_spec("litellm")
    return os.path.join(spec.submodule_search_locations[0], "litellm_core_utils", "tokenizers")


def main() -> None:
    job = json.load(sys.stdin)
    with tempfile.TemporaryDirectory(prefix="curator-bench-") as home:
        os.environ.update(CURATOR_ENV, HOME=home, CURATOR_CACHE_DIR=os.path.join(home, "cache"),
                          HF_HOME=os.path.join(home, "hf"))
        os.environ.pop("CURATOR_VIEWER", None)
        os.environ["TIKTOKEN_CACHE_DIR"] = bundled_tokenizers()  # curator counts tokens with cl100k_base
        from bespokelabs import curator

        rate = 100_000_000  # per minute: never the limit at any concurrency this benchmark runs
        llm = curator.LLM(
            model_name=job["model"], backend="openai", generation_params=job["sampling"],
            backend_params={"base_url": job["base_url"], "api_key": "not-needed",
                            "max_concurrent_requests": job["concurrency"], "max_requests_per_minute": rate,
                            "max_tokens_per_minute": rate, "max_retries": 3, "require_all_responses": True})
        requests = job["requests"]
        started_cpu, started = time.process_time(), time.perf_counter()
        response = llm(requests)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - started_cpu
        answered = len(response.dataset)
    print(json.dumps({"calls": len(requests), "answered": answered, "seconds": elapsed, "cpu_s": cpu}), flush=True)


if __name__ == "__main__":
    main()
