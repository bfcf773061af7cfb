"""`distill split`, `distill export`, `distill train`, `distill trainings` end to end on the tiny model."""

from __future__ import annotations

import json

from distill.store import Store
from distill.store import training as db

from tests.support.training_fakes import add_corpus, arithmetic_problems, ingest_problems


def test_split_export_train_from_the_command_line(cli, tmp_path, tiny_model_dir):
    problems = arithmetic_problems(40)
    with Store(tmp_path / "cli.duckdb") as store:
        ingest_problems(store, tmp_path, problems)
        add_corpus(store, "cli-run", problems, abstain={"q005"})
    result = cli("split", "--run", "cli-run", "--seed", "0", "--valid", "0.2", "--test", "0.1")
    assert result.exit_code == 0, result.output
    assert "4 test" in result.output and "no 13-gram overlap" in result.output
    result = cli("export", "--run", "cli-run", "--level", "R1", "--out", tmp_path / "runs")
    assert result.exit_code == 0, result.output
    assert "export 1:" in result.output and "from corpus" in result.output
    config = tmp_path / "train.toml"
    config.write_text(f'[train]\nmodel = "{tiny_model_dir}"\nsteps_per_report = 1\nsteps_per_eval = 3\n'
                      "learning_rate = 1e-3\n[train.lora]\nrank = 4\nscale = 10.0\n")
    result = cli("train", "--run", "cli-run", "--level", "R1", "--seeds", "1,2", "--iters", "6", "--config", config,
                 "--out", tmp_path / "runs")
    assert result.exit_code == 0, result.output
    assert "memory pre-flight" in result.output and "best_iter" in result.output
    with Store(tmp_path / "cli.duckdb") as store:
        runs = store.query("SELECT seed, status, last_iteration, config FROM training_runs ORDER BY seed")
        assert [(r["seed"], r["status"], r["last_iteration"]) for r in runs] == [(1, "finished", 6), (2, "finished", 6)]
        assert json.loads(runs[0]["config"])["lora"]["rank"] == 4
        assert (tmp_path / "runs" / "cli-run" / "adapters" / "R1" / "seed-2" / "adapters.safetensors").is_file()
        assert len(db.test_problem_ids(store, "cli-run")) == 4
    result = cli("train", "--run", "cli-run", "--seeds", "1", "--iters", "6", "--config", config, "--out",
                 tmp_path / "runs")
    assert result.exit_code == 0 and "already finished" in result.output
    result = cli("train", "--run", "cli-run", "--seeds", "1", "--iters", "6", "--config", config, "--out",
                 tmp_path / "runs", "--learning-rate", "0.01")
    assert result.exit_code == 2 and "other settings" in result.output and "learning_rate" in result.output
    result = cli("trainings", "--format", "json")
    assert [row["seed"] for row in json.loads(result.output)] == [1, 2]


def test_export_refusal_exit_code(cli, tmp_path):
    problems = arithmetic_problems(20)
    long_question = ("A bag holds 4 red marbles, 6 blue marbles and 10 green marbles; two marbles are drawn "
                     "without replacement. What is the probability that both are green?")
    for i, p in enumerate(problems):  # the same numbers in every question: copies, not one template's problems
        p["question"] = f"Variant {'abcdefghijklmnopqrstuvwxyz'[i]}: {long_question}"
    with Store(tmp_path / "cli.duckdb") as store:
        ingest_problems(store, tmp_path, problems)
        add_corpus(store, "leaky", problems)
    result = cli("split", "--run", "leaky")
    assert result.exit_code == 0 and "contamination" in result.output
    result = cli("export", "--run", "leaky", "--out", tmp_path / "runs")
    assert result.exit_code == 3 and "--allow-leaks" in result.output
    result = cli("export", "--run", "leaky", "--out", tmp_path / "runs", "--allow-leaks")
    assert result.exit_code == 0 and "exported with leaks" in result.output
