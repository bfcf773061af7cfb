"""Aggregation for the report, from the store's views: accuracy per model, level and seed (mean and sample std
across seeds from `eval_model_summary`), a percentile bootstrap 95% CI over problems (numpy), breakdowns by
section/year and subject/difficulty, response length against accuracy per level, and the loss curves.

Bootstrap: problems are resampled with replacement `RESAMPLES` times with `numpy.random.default_rng(SEED)`; a
resample's accuracy is the mean over its problems of each problem's correctness averaged over the model's seeds
(equal to the mean of per-seed accuracies when every seed answered every problem); the CI is the 2.5th and
97.5th percentiles (numpy's linear interpolation) of those accuracies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from distill.store import Store

RESAMPLES = 10_000
SEED = 0
MODEL_ORDER = {"base": 0, "teacher": 1, "student": 2}


def bootstrap_ci(correct: np.ndarray, resamples: int = RESAMPLES, seed: int = SEED) -> tuple[float, float]:
    """95% percentile CI of the accuracy; `correct` is problems x seeds of 0/1 (NaN: that seed has no answer)."""
    matrix = np.asarray(correct, dtype=float)
    if matrix.ndim == 1:
        matrix = matrix[:, None]
    matrix = matrix[~np.isnan(matrix).all(axis=1)]  # problems no seed answered
    if matrix.shape[0] == 0:
        return float("nan"), float("nan")
    per_problem = np.nanmean(matrix, axis=1)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, per_problem.size, size=(resamples, per_problem.size))
    low, high = np.percentile(per_problem[picks].mean(axis=1), [2.5, 97.5])
    return float(low), float(high)


def correctness_matrix(store: Store, run: str, split: str, label: str) -> np.ndarray:
    """Problems x seeds of 1 (correct) / 0 (anything else) / NaN (not answered by that seed)."""
    rows = store.query("SELECT problem_id, seed, outcome = 'correct' AS correct FROM eval_results "
                       "WHERE run_name = ? AND split = ? AND label = ?", [run, split, label])
    problems = sorted({r["problem_id"] for r in rows})
    seeds = sorted({r["seed"] for r in rows})
    matrix = np.full((len(problems), len(seeds)), np.nan)
    p_index, s_index = {p: i for i, p in enumerate(problems)}, {s: i for i, s in enumerate(seeds)}
    for r in rows:
        matrix[p_index[r["problem_id"]], s_index[r["seed"]]] = float(r["correct"])
    return matrix


def _ordered(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (MODEL_ORDER.get(r["kind"], 9), r.get("training_run") or "",
                                       r.get("level") or "", r.get("seed") or 0))


def splits_of(store: Store, run: str) -> list[str]:
    return [r["split"] for r in store.query("SELECT DISTINCT split FROM eval_items JOIN evaluations "
                                            "USING (evaluation_id) WHERE run_name = ? ORDER BY split", [run])]


def per_seed(store: Store, run: str, split: str) -> list[dict[str, Any]]:
    """`eval_accuracy`: one row per evaluation (model x level x seed)."""
    return _ordered(store.query("SELECT * FROM eval_accuracy WHERE run_name = ? AND split = ?", [run, split]))


def per_model(store: Store, run: str, split: str, resamples: int = RESAMPLES, seed: int = SEED
              ) -> list[dict[str, Any]]:
    """`eval_model_summary` (mean, sample std across seeds) with the bootstrap CI of each model."""
    rows = _ordered(store.query("SELECT * FROM eval_model_summary WHERE run_name = ? AND split = ?", [run, split]))
    seeds = per_seed(store, run, split)
    for row in rows:
        row["ci_low"], row["ci_high"] = bootstrap_ci(correctness_matrix(store, run, split, row["label"]),
                                                     resamples, seed)
        row["seed_accuracies"] = [r["accuracy"] for r in seeds if r["label"] == row["label"]]
    return rows


def per_level(store: Store, models: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The trained students (one level of a training run) among `per_model`'s rows (accuracy, CI, answer length),
    each with the length of its training text. Endpoint students ([[eval.students]]) have no level: not here."""
    rows = [dict(r) for r in models if r["kind"] == "student" and r["level"]]
    for row in rows:
        text = store.query("SELECT mean_words, mean_tokens FROM level_summary WHERE run_name = ? AND level = ?",
                           [row["training_run"], row["level"]])
        row["train_words"] = text[0]["mean_words"] if text else None
        row["train_tokens"] = text[0]["mean_tokens"] if text else None
    return rows


def _label_order(label: str) -> tuple[int, str]:
    return (MODEL_ORDER.get(label, 2), label)


def by_section(store: Store, run: str, split: str) -> list[dict[str, Any]]:
    """Accuracy by source, year and section per model (mean over seeds)."""
    return _by_group(store.query(
        "SELECT label, source, year, section, count(*) AS seeds, max(problems) AS problems, avg(accuracy) AS accuracy, "
        "sum(truncated) AS truncated, sum(undecided) AS undecided FROM eval_accuracy_by_section "
        "WHERE run_name = ? AND split = ? GROUP BY ALL", [run, split]), ("source", "year", "section"))


def by_subject(store: Store, run: str, split: str) -> list[dict[str, Any]]:
    """Accuracy by MATH-500 subject and difficulty level per model (mean over seeds)."""
    return _by_group(store.query(
        "SELECT label, subject, difficulty, count(*) AS seeds, max(problems) AS problems, avg(accuracy) AS accuracy, "
        "sum(truncated) AS truncated, sum(undecided) AS undecided FROM eval_accuracy_by_subject "
        "WHERE run_name = ? AND split = ? GROUP BY ALL", [run, split]), ("subject", "difficulty"))


def accuracy_by(store: Store, run: str, split: str, column: str) -> list[dict[str, Any]]:
    """Accuracy per model and `column` (section or subject), over all years or difficulty levels: the mean over
    the model's seeds of each seed's accuracy on that group. The per-group bars of the report."""
    if column not in ("section", "subject"):
        raise ValueError(f"accuracy by {column!r}: section or subject")
    return _by_group(store.query(
        f"SELECT label, grp AS {column}, count(*) AS seeds, max(n) AS problems, avg(accuracy) AS accuracy FROM ("
        f" SELECT evaluation_id, label, {column} AS grp, count(*) AS n,"
        "  count(*) FILTER (WHERE outcome = 'correct') / count(*) AS accuracy"
        f" FROM eval_results WHERE run_name = ? AND split = ? AND {column} IS NOT NULL GROUP BY ALL"
        ") GROUP BY ALL", [run, split]), (column,))


def _by_group(rows: list[dict[str, Any]], keys: tuple[str, ...]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (*(("" if r[k] is None else str(r[k])) for k in keys),
                                       *_label_order(r["label"])))


def grading(store: Store, run: str, split: str) -> list[dict[str, Any]]:
    """How each model's answers were decided: by the rule, the judge, nobody (undecided), or not at all."""
    return _ordered(store.query(
        "SELECT label, kind, min(training_run) AS training_run, min(level) AS level, count(*) AS answers, "
        "count(*) FILTER (WHERE decided_by = 'rule') AS rule, count(*) FILTER (WHERE decided_by = 'judge') AS judge, "
        "count(*) FILTER (WHERE outcome = 'undecided') AS undecided, "
        "count(*) FILTER (WHERE outcome = 'truncated') AS truncated "
        "FROM eval_results WHERE run_name = ? AND split = ? GROUP BY label, kind", [run, split]))


def disagreements(store: Store, run: str, split: str) -> list[dict[str, Any]]:
    return store.query("SELECT kind, label, seed, problem_id, gold, answer, rule_verdict, rule_reason, judge_verdict, "
                       "judge_reason FROM grading_disagreements WHERE run_name = ? AND split = ? "
                       "ORDER BY kind, label, seed, problem_id", [run, split])


@dataclass
class LossCurve:
    training_run: str
    level: str
    seed: int
    best_iteration: int | None
    best_val_loss: float | None
    valid: list[tuple[int, float]]
    train: list[tuple[int, float]]


def loss_curves(store: Store, training_runs: list[str]) -> list[LossCurve]:
    """Train and validation losses of every training run (level x seed) of these runs, best iteration marked."""
    curves = []
    runs = store.query("SELECT training_id, run_name, level, seed, best_iteration, best_val_loss FROM training_runs "
                       "WHERE list_contains(?, run_name) ORDER BY run_name, level, seed", [training_runs])
    for run in runs:
        losses = store.query("SELECT split, iteration, loss FROM training_losses WHERE training_id = ? "
                             "ORDER BY iteration", [run["training_id"]])
        curves.append(LossCurve(run["run_name"], run["level"], run["seed"], run["best_iteration"],
                                run["best_val_loss"],
                                [(r["iteration"], r["loss"]) for r in losses if r["split"] == "valid"],
                                [(r["iteration"], r["loss"]) for r in losses if r["split"] == "train"]))
    return curves
