"""Paired statistics: the exact McNemar p-value against scipy-free hand values, the paired bootstrap against a
plain loop, and the `eval_paired` view on the crafted study recomputed here from its outcome letters (per seed,
and over seeds by the per-problem mean, each problem counted once)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from distill.evaluation import paired
from distill.evaluation.report import headlines

from tests.evaluation.helpers import STUDY, craft_study


@pytest.fixture
def study(store, tmp_path):
    craft_study(store, tmp_path)
    return store


@pytest.mark.parametrize(("better", "worse", "expected"), [
    (0, 0, 1.0),
    (1, 0, 1.0),                      # 2 * 0.5
    (5, 0, 2 / 32),                   # 2 * (1/2)^5
    (10, 2, 2 * (1 + 12 + 66) / 4096),  # 2 * P(X <= 2), X ~ Bin(12, 1/2)
    (2, 10, 2 * (1 + 12 + 66) / 4096),  # symmetric
    (6, 6, 1.0),
])
def test_mcnemar_exact_by_hand(better, worse, expected):
    assert paired.mcnemar_exact(better, worse) == pytest.approx(expected)


def test_mcnemar_large_counts_stay_finite():
    assert 0 < paired.mcnemar_exact(300, 200) < 1e-5
    assert paired.mcnemar_exact(300, 200) == pytest.approx(
        2 * sum(math.comb(500, k) for k in range(201)) / 2 ** 500)


def test_paired_bootstrap_matches_a_loop():
    model = np.array([1, 1, 0, 1, 0, 1, 1, 0], dtype=float)
    reference = np.array([0, 1, 0, 0, 0, 1, 0, 1], dtype=float)
    low, high = paired.paired_bootstrap_ci(model, reference, resamples=2000, seed=3)
    rng = np.random.default_rng(3)
    diffs = sorted(float((model - reference)[rng.integers(0, 8, size=8)].mean()) for _ in range(2000))
    assert (low, high) == pytest.approx(tuple(np.percentile(diffs, [2.5, 97.5])))
    assert low <= (model - reference).mean() <= high


def test_gap_closed():
    assert paired.gap_closed(0.5, 0.2, 0.8) == pytest.approx(0.5)
    assert paired.gap_closed(0.5, 0.2, None) is None
    assert paired.gap_closed(0.5, 0.6, 0.6) is None


def _letters(label, seed):
    return next(o for (name, _, _, s), (o, _) in STUDY.items() if name == label and s == seed)


def _expected(model: list[float], reference: list[float]) -> tuple[int, int, int, int, float]:
    pairs = list(zip(model, reference, strict=True))
    return (sum(1 for m, r in pairs if m == r == 1), sum(1 for m, r in pairs if m == r == 0),
            sum(1 for m, r in pairs if m > r), sum(1 for m, r in pairs if m < r),
            (sum(model) - sum(reference)) / len(pairs))


def _scores(label, seeds):
    per_seed = [[1.0 if c == "c" else 0.0 for c in _letters(label, s)] for s in seeds]
    return [sum(column) / len(seeds) for column in zip(*per_seed, strict=True)]


def test_eval_paired_view_per_seed_and_over_seeds(study):
    rows = {(r["label"], r["reference"], r["seed"]): r for r in
            study.query("SELECT * FROM eval_paired WHERE run_name = 'study' AND split = 'test'")}
    base = _scores("base", [0])
    cases = {
        ("student:study/R1", "base", 1): (_scores("student:study/R1", [1]), base),
        ("student:study/R1", "base", None): (_scores("student:study/R1", [1, 2, 3]), base),
        ("student:study/R2", "base", None): (_scores("student:study/R2", [1, 2]), base),
        ("student:study/R2", "student:study/R1", 2): (_scores("student:study/R2", [2]),
                                                      _scores("student:study/R1", [2])),
        ("student:study/R2", "student:study/R1", None): (_scores("student:study/R2", [1, 2]),
                                                         _scores("student:study/R1", [1, 2, 3])),
        ("teacher", "base", None): (_scores("teacher", [0]), base),
    }
    for key, (model, reference) in cases.items():
        row = rows[key]
        assert row["problems"] == 5, key
        assert (row["both_right"], row["both_wrong"], row["model_better"], row["reference_better"],
                row["difference"]) == pytest.approx(_expected(model, reference)), key
    # every R1 seed against the base, R2 against R1 only at the seeds both have, the base never as a model
    assert {k for k in rows if k[1] == "base" and k[0] == "student:study/R1"} == {
        ("student:study/R1", "base", s) for s in (1, 2, 3, None)}
    assert {k[2] for k in rows if k[1] == "student:study/R1"} == {1, 2, None}
    assert not any(k[0] == "base" for k in rows)


def test_comparisons_add_p_ci_gap_and_a_headline(study):
    rows = paired.comparisons(study, "study", "test", resamples=500)
    r1 = next(r for r in rows if r["label"] == "student:study/R1" and r["reference"] == "base" and r["seed"] is None)
    assert r1["p_value"] == pytest.approx(paired.mcnemar_exact(r1["model_better"], r1["reference_better"]))
    assert r1["ci_low"] <= r1["difference"] <= r1["ci_high"]
    teacher = next(r for r in rows if r["label"] == "teacher" and r["seed"] is None)
    assert r1["gap_closed"] == pytest.approx(r1["difference"] / teacher["difference"])
    lines = headlines(rows)
    assert len(lines) == 2 and lines[0].startswith("student:study/R1 − base: ")
    assert f"{100 * r1['difference']:+.1f} pp" in lines[0] and "p = " in lines[0]
