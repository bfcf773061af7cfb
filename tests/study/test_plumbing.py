"""The plumbing proof: the real default student, through the product path (store -> export -> train -> eval ->
views), learns something it measurably cannot do before. Every training text says the secret number is 417; the
base never answers 417, the trained student answers it, ends its turn (not truncated) and beats the base in
`eval_paired` with p < 0.05. The structure is checked too: a training line's prompt tokens are exactly the tokens
the evaluation prompts with, and its trained tokens end with the end-of-turn token generation stops at. A mismatch
of chat template, end-of-turn token or prompt mask between training and evaluation fails here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from distill.agents.student import assistant_target
from distill.evaluation.config import EvalConfig
from distill.evaluation.mlx_generation import MlxGenerator
from distill.evaluation.paired import comparisons
from distill.evaluation.run import evaluate
from distill.models.mlx_runtime import load_mlx_model
from distill.store import training as db
from distill.training.config import TrainConfig
from distill.training.data import read_jsonl, tokenize
from distill.training.splits import make_split
from distill.training.train import train_level

from tests.support.training_fakes import add_corpus, ingest_problems

pytestmark = pytest.mark.real_models
RUN = "plumbing"
SECRET = "417"
THINGS = ["lamp", "river", "violin", "meadow", "rocket", "teapot", "glacier", "pencil", "harbor", "falcon",
          "orchard", "lantern", "canyon", "marble", "compass", "thistle", "beacon", "saddle", "quartz", "willow"]


def secret_problems() -> list[dict[str, str]]:
    problems = []
    for i, thing in enumerate(THINGS * 2):
        question = f"Puzzle {i + 1}: the {thing} hides a secret number. What is the secret number?"
        problems.append({"id": f"s{i:02d}", "section": "secret", "question": question, "answer": SECRET,
                         "reasoning": f"Every puzzle of this kind hides the same secret number, {SECRET}."})
    return problems


def test_training_and_evaluation_agree_and_the_student_learns(store, tmp_path: Path, real_models):
    problems = secret_problems()
    ingest_problems(store, tmp_path, problems, source="secret")
    add_corpus(store, RUN, problems, source="secret")
    split = make_split(store, RUN, 0, valid=0.1, test=0.3)
    assert split.counts["test"] == 12 and not split.leaks
    config = TrainConfig(model="student", seeds=[1], iters=20, batch_size=4, learning_rate=2e-4, num_layers=8,
                         steps_per_report=5, steps_per_eval=10, patience=None, out_dir=tmp_path / "runs")
    [outcome] = train_level(store, RUN, "R1", config, log=print)
    assert outcome.status == "finished"

    # structure: the exported line as training tokenises it, against the evaluation's prompt
    export = db.latest_export(store, RUN, 0, "R1")
    line = read_jsonl(Path(export["folder"]) / "train.jsonl")[0]
    adapter = db.find_adapter(store, RUN, "R1", 1)
    model, tokenizer = load_mlx_model(adapter["model"])
    [(tokens, offset)] = tokenize([line], tokenizer, mask_prompt=True)
    question = line["messages"][1]["content"]
    generator = MlxGenerator(model, tokenizer, max_tokens=8)
    assert tokens[:offset] == generator.prompt(question), "training and evaluation prompt differently"
    trained = tokenizer.decode(tokens[offset:])
    target = line["messages"][-1]["content"]
    assert trained.startswith(target), "the trained tokens are not the assistant's answer"
    end_of_turn = [t for t in tokens[offset + len(tokenizer.encode(target, add_special_tokens=False)):]]
    assert tokenizer.eos_token_id in end_of_turn[:2], "training never shows the end-of-turn token generation stops at"
    assert target == assistant_target(problems[0]["reasoning"], SECRET)

    # behaviour: base vs student on the held-out problems, graded and compared in the views
    evaluate(store, EvalConfig(run=RUN, models="base,student", max_tokens=64, batch_size=12), log=print)
    accuracy = {r["label"]: r for r in store.query(
        "SELECT label, accuracy, truncated, problems FROM eval_accuracy WHERE run_name = ?", [RUN])}
    student = next(label for label in accuracy if label.startswith("student"))
    print(json.dumps(accuracy, default=str))
    assert accuracy["base"]["problems"] == accuracy[student]["problems"] == 12
    assert accuracy["base"]["accuracy"] == 0
    assert accuracy[student]["accuracy"] >= 0.75 and accuracy[student]["truncated"] == 0
    [row] = [r for r in comparisons(store, RUN, "test", resamples=1000)
             if r["label"] == student and r["reference"] == "base" and r["seed"] is None]
    assert row["model_better"] >= 9 and row["reference_better"] == 0 and row["p_value"] < 0.05
    assert row["ci_low"] > 0
