"""Stored evaluations made by hand for the evaluation tests: an evaluation row, and answers graded by the real
rule (or with a verdict forced, to craft exact aggregates), and a tiny MLX model that answers by script."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from distill.evaluation.grading import answer_row
from distill.models.mlx_runtime import load_mlx
from distill.store import Store
from distill.store import evaluation as db
from distill.store.rows import EvalItemRow, EvaluationRow, LevelRow
from distill.store.rows_training import TrainingLossRow, TrainingRunRow
from distill.store.writer import insert, insert_returning
from distill.training.splits import make_split

from tests.support.tiny_mlx_model import write_tiny_model
from tests.support.training_fakes import add_corpus, ingest_problems


def make_evaluation(store: Store, run: str, label: str, kind: str, seed: int = 0, *, level: str | None = None,
                    training_run: str | None = None, split: str = "test") -> int:
    return db.create_evaluation(store, EvaluationRow(
        run_name=run, split=split, split_seed=0, label=label, kind=kind, training_run=training_run,
        level=level, seed=seed, model="crafted", settings={"max_tokens": 64}, manifest={}))


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
    db.insert_items(store, [EvalItemRow(**row)])
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


# The crafted study: 5 O'Bryan-like problems (two sections, two years) answered by base, teacher and students R1
# (3 seeds) and R2 (2 seeds). Outcome letters: c correct, i incorrect, u undecided, t truncated.
STUDY_PROBLEMS = [
    {"id": "p1", "year": 2001, "section": "alpha", "question": "What is 1 plus 1?", "answer": "2"},
    {"id": "p2", "year": 2001, "section": "alpha", "question": "What is 2 plus 2?", "answer": "4"},
    {"id": "p3", "year": 2001, "section": "alpha", "question": "What is 3 plus 3?", "answer": "6"},
    {"id": "p4", "year": 2002, "section": "beta", "question": "What is 4 plus 4?", "answer": "8"},
    {"id": "p5", "year": 2002, "section": "beta", "question": "What is 5 plus 5?", "answer": "10"},
]
STUDY = {  # (label, kind, level, seed): (outcomes of p1..p5, words of each answer)
    ("base", "base", None, 0): ("ccitt", (10, 20, 30, 40, 50)),
    ("teacher", "teacher", None, 0): ("ccccu", (100, 100, 100, 100, 100)),
    ("student:study/R1", "student", "R1", 1): ("cccii", (80, 80, 80, 80, 80)),
    ("student:study/R1", "student", "R1", 2): ("ciiii", (60, 60, 60, 60, 60)),
    ("student:study/R1", "student", "R1", 3): ("cccci", (70, 70, 70, 70, 70)),
    ("student:study/R2", "student", "R2", 1): ("cciit", (30, 30, 30, 30, 30)),
    ("student:study/R2", "student", "R2", 2): ("cccii", (20, 20, 20, 20, 20)),
}
VERDICT = {"c": "correct", "i": "incorrect", "u": "undecided", "t": "undecided"}


def craft_study(store: Store, tmp_path: Path, run: str = "study") -> None:
    path = tmp_path / "study.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in STUDY_PROBLEMS))
    from distill.store.ingest import ingest

    ingest(store, path, "jsonl", source="ob")
    for (label, kind, level, seed), (outcomes, words) in STUDY.items():
        evaluation_id = make_evaluation(store, run, label, kind, seed, level=level,
                                        training_run=run if kind == "student" else None)
        for problem, outcome, count in zip(STUDY_PROBLEMS, outcomes, words, strict=True):
            add_answer(store, evaluation_id, f"ob/{problem['id']}", " ".join(["word"] * count),
                       truncated=outcome == "t", tokens=2 * count, verdict=VERDICT[outcome])


def craft_training(store: Store, run: str = "study") -> None:
    """Training runs for R1 seeds 1..3 with validation curves whose minimum is the kept iteration, and level texts."""
    cur = store.cursor()
    for seed, best in ((1, 20), (2, 10), (3, 30)):
        training_id = insert_returning(cur, TrainingRunRow(
            run_name=run, level="R1", split_seed=0, seed=seed, export_id=1, model="m", adapter_dir=f"/a/{seed}",
            config={}, manifest={}, status="finished", iters=40, last_iteration=40, best_iteration=best,
            best_val_loss=1.0 / seed, max_seq_length=64, truncated_train=0, truncated_valid=0), "training_id")
        for iteration in range(0, 41, 10):
            loss = 1.0 / seed + abs(iteration - best) / 100
            insert(cur, TrainingLossRow(training_id=training_id, split="valid", iteration=iteration, loss=loss))
            if iteration:
                insert(cur, TrainingLossRow(training_id=training_id, split="train", iteration=iteration,
                                            loss=loss + 0.1))
    for level, words in (("R1", 90), ("R2", 40)):
        for problem in STUDY_PROBLEMS:
            insert(cur, LevelRow(run_name=run, problem_id=f"ob/{problem['id']}", level=level, status="ok", text="t",
                                 answer=problem["answer"], words=words, tokens=2 * words, target_words=None,
                                 source_level=None, attempts=1, reason=None, call_key=None))


SUMS_RUN = "sums"


def sums_with_split(store: Store, tmp_path: Path) -> list[dict]:
    """sum_problems() ingested (source 'sums'), a corpus run SUMS_RUN that accepted them all, and its split
    (seed 0); returns the problems."""
    problems = sum_problems()
    ingest_problems(store, tmp_path, problems, source="sums")
    add_corpus(store, SUMS_RUN, problems, source="sums")
    make_split(store, SUMS_RUN, 0)
    return problems


def sum_problems(count: int = 40) -> list[dict]:
    """Half of them sum to 42 (what the scripted model always answers)."""
    problems = []
    for i in range(count):
        a, b = (i + 1, 41 - i) if i % 2 == 0 else (i, i + 3)
        problems.append({"id": f"s{i:02d}", "section": "alpha" if i % 4 < 2 else "beta",
                         "question": f"What is {a} plus {b} ?", "answer": str(a + b),
                         "reasoning": f"{a} plus {b} is {a + b} ."})
    return problems
