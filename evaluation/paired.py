"""Paired statistics of one model against a reference on the same problems (the `eval_paired` view's pairs).

- **Exact McNemar**: under no difference, each discordant problem is equally likely to favour either model, so
  the count favouring the model is Binomial(discordant, 1/2); the two-sided p-value is twice the smaller tail,
  at most 1. Over seeds the problems are compared by their mean correctness across seeds (a sign test on the
  per-problem differences, which is McNemar's test when there is one seed).
- **Paired bootstrap CI** of the accuracy difference: problems resampled with replacement (`RESAMPLES`, numpy's
  default_rng(`SEED`)), the difference of the two accuracies on each resample, 2.5th and 97.5th percentiles.
- **Gap closed**: (model - base) / (teacher - base), the share of the teacher-base gap a student closes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from distill.store import Store

RESAMPLES = 10_000
SEED = 0


def mcnemar_exact(model_better: int, reference_better: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts (1.0 when there is none)."""
    n = model_better + reference_better
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(model_better, reference_better) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def paired_bootstrap_ci(model: np.ndarray, reference: np.ndarray, resamples: int = RESAMPLES,
                        seed: int = SEED) -> tuple[float, float]:
    """95% percentile CI of mean(model) - mean(reference), resampling problems (rows stay paired)."""
    differences = np.asarray(model, dtype=float) - np.asarray(reference, dtype=float)
    if differences.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, differences.size, size=(resamples, differences.size))
    low, high = np.percentile(differences[picks].mean(axis=1), [2.5, 97.5])
    return float(low), float(high)


def gap_closed(model: float, base: float, teacher: float | None) -> float | None:
    """The share of the teacher-base gap the model closes; None without a teacher above the base."""
    if teacher is None or teacher <= base:
        return None
    return (model - base) / (teacher - base)


def _scores(store: Store, run: str, split: str, label: str, seed: int | None) -> dict[str, float]:
    """problem -> correctness at one seed, or (seed None) the mean over the model's seeds."""
    rows = store.query(
        "SELECT problem_id, avg(CASE WHEN outcome = 'correct' THEN 1.0 ELSE 0.0 END) AS c FROM eval_results "
        "WHERE run_name = ? AND split = ? AND label = ? AND (? IS NULL OR seed = ?) GROUP BY problem_id",
        [run, split, label, seed, seed])
    return {r["problem_id"]: float(r["c"]) for r in rows}


def comparisons(store: Store, run: str, split: str, resamples: int = RESAMPLES, seed: int = SEED
                ) -> list[dict[str, Any]]:
    """Every row of `eval_paired` for (run, split) with its exact McNemar p-value, its paired bootstrap CI and,
    against the base, the share of the teacher-base gap closed."""
    rows = store.query("SELECT * FROM eval_paired WHERE run_name = ? AND split = ? "
                       "ORDER BY kind DESC, reference, level NULLS FIRST, label, seed NULLS FIRST", [run, split])
    teacher = {r["seed"]: r for r in rows if r["kind"] == "teacher"}
    cache: dict[tuple[str, int | None], dict[str, float]] = {}

    def scores(label: str, at_seed: int | None) -> dict[str, float]:  # the base is every student's reference
        if (label, at_seed) not in cache:
            cache[label, at_seed] = _scores(store, run, split, label, at_seed)
        return cache[label, at_seed]

    for row in rows:
        row["p_value"] = mcnemar_exact(row["model_better"], row["reference_better"])
        model = scores(row["label"], row["seed"])
        reference_seed = None if row["seed"] is None else (row["seed"] if row["reference"] != "base" else 0)
        reference = scores(row["reference"], reference_seed)
        shared = sorted(model.keys() & reference.keys())
        row["ci_low"], row["ci_high"] = paired_bootstrap_ci(np.array([model[p] for p in shared]),
                                                            np.array([reference[p] for p in shared]),
                                                            resamples, seed)
        over = teacher.get(None)
        row["gap_closed"] = (gap_closed(row["model_accuracy"], row["reference_accuracy"], over["model_accuracy"])
                             if row["reference"] == "base" and row["kind"] == "student" and over else None)
    return rows


def headline(row: dict[str, Any]) -> str:
    """'student R1 − base: +12.5 pp [5.0, 20.0], p = 0.0021 (120 problems, 2 seeds pooled per problem)'."""
    what = f"{row['label']} − {row['reference']}"
    seeds = "mean over seeds per problem" if row["seed"] is None else f"seed {row['seed']}"
    gap = f"; closes {row['gap_closed']:.0%} of the teacher-base gap" if row.get("gap_closed") is not None else ""
    return (f"{what}: {100 * row['difference']:+.1f} pp [{100 * row['ci_low']:+.1f}, {100 * row['ci_high']:+.1f}], "
            f"p = {format_p(row['p_value'])} ({row['problems']} problems, {seeds}; "
            f"{row['model_better']} vs {row['reference_better']} discordant{gap})")


def format_p(p: float) -> str:
    return "< 0.0001" if p < 1e-4 else f"{p:.4f}" if p < 0.01 else f"{p:.3f}"
