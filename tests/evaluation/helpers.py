"""Stored evaluations made by hand for the evaluation tests: an evaluation row, and answers graded by the real
rule (or with a verdict forced, to craft exact aggregates), and a tiny MLX model that answers by script."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from evaluation.grading import answer_row
from models.mlx_runtime import load_mlx
from store import Store
from store import evaluation as db
from tests.support.tiny_mlx_model import write_tiny_model


def make_evaluation(store: Store, run: str, label: str, kind: str, seed: int = 0, *, level: str | None = None,
                    training_run: str | None = None, split: str = "test") -> int:
    return db.create_evaluation(store, {
        "run_name": run, "split": split, "split_seed": 0, "label": label, "kind": kind, "training_run": training_run,
        "level": level, "seed": seed, "model": "crafted", "settings": {"max_tokens": 64}, "manifest": {}})


def add_answer(store: Store, evaluation_id: int, problem_id: str, response: str, *, truncated: bool = False,
               tokens: int | None = None, verdict: str | None = None) -> dict[str, Any]:
    """Store one answer graded by the rule against the problem's gold (or with `verdict` forced)."""
    gold = store.scalar("SELECT answer FROM problems WHERE problem_id = ?", [problem_id])
    row = {"evaluation_id": evaluation_id, "problem_id": problem_id,
           **answer_row(response, gold, truncated=truncated), "finish_reason": "length" if truncated else "stop",
           "prompt_tokens": 10, "tokens": tokens if tokens is not None else len(response.split()),
           "latency_ms": 1.0, "batch_size": 1, "call_key": None}
    if verdict is not None:
        row["rule_verdict"] = verdict
    db.insert_items(store, [row])
    return row


def boxed(value: str) -> str:
    return f"Some steps.\nAnswer: \\boxed{{{value}}}"


ANSWER_CHAIN = ["so", "the", "result", "is", "42", "."]  # then <|im_end|>: "so the result is 42 ." (6 tokens)


def write_scripted_model(path: Path, texts: list[str], chain: list[str] = ANSWER_CHAIN, hidden: int = 128) -> Path:
    """A real (tiny) llama whose greedy continuation after the assistant turn opens is `chain`, then the end of
    sequence: every layer's output projections are zero, so the residual stream is the token's one-hot
    embedding and the untied head maps each token to the next one of the chain (any other token to <|im_end|>).
    Used where a test needs to know exactly what, and how many tokens, a model generates."""
    mx = load_mlx()
    write_tiny_model(path, [*texts, " ".join(chain)], hidden=hidden)
    config = json.loads((path / "config.json").read_text())
    tokenizer = json.loads((path / "tokenizer.json").read_text())
    vocab = tokenizer["model"]["vocab"]
    size = config["vocab_size"]
    if size > hidden:
        raise ValueError(f"vocabulary {size} > hidden {hidden}: one-hot embeddings need hidden >= vocabulary")
    weights = dict(mx.load(str(path / "model.safetensors")))
    eye = np.eye(size, hidden, dtype=np.float32)
    weights["model.embed_tokens.weight"] = mx.array(eye)
    weights["model.norm.weight"] = mx.ones((hidden,))
    for name in list(weights):
        if name.endswith(("o_proj.weight", "down_proj.weight")):
            weights[name] = mx.zeros(weights[name].shape)
    successor = {vocab["\n"]: vocab[chain[0]]}
    successor.update({vocab[a]: vocab[b] for a, b in zip(chain, chain[1:], strict=False)})
    head = np.zeros((size, hidden), dtype=np.float32)
    for token in range(size):
        head[successor.get(token, vocab["<|im_end|>"]), token] = 1.0
    weights["lm_head.weight"] = mx.array(head)
    mx.save_safetensors(str(path / "model.safetensors"), weights, metadata={"format": "mlx"})
    (path / "config.json").write_text(json.dumps({**config, "tie_word_embeddings": False}, indent=2))
    return path
