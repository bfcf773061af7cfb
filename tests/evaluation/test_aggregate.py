"""Aggregation on a crafted store: accuracy per model, level and seed, mean and sample std across seeds, the
bootstrap CI recomputed here by a plain loop, breakdowns by section and year and by subject, and lengths."""

import json
import statistics

import numpy as np
import pytest
from distill.evaluation import aggregate
from distill.store import evaluation as db
from distill.store.ingest import ingest

from tests.evaluation.helpers import STUDY, STUDY_PROBLEMS, add_answer, craft_study, craft_training, make_evaluation


@pytest.fixture
def study(store, tmp_path):
    craft_study(store, tmp_path)
    craft_training(store)
    return store


def accuracies(label):
    return [outcomes.count("c") / len(outcomes) for (name, _, _, _), (outcomes, _) in STUDY.items() if name == label]


def loop_bootstrap(per_problem, resamples=aggregate.RESAMPLES, seed=aggregate.SEED):
    """The CI by hand: one resample at a time, percentiles by linear interpolation between order statistics."""
    rng = np.random.default_rng(seed)
    n = len(per_problem)
    means = sorted(sum(per_problem[i] for i in rng.integers(0, n, size=n)) / n for _ in range(resamples))

    def percentile(q):
        position = q / 100 * (resamples - 1)
        low = int(position)
        return means[low] + (means[min(low + 1, resamples - 1)] - means[low]) * (position - low)

    return percentile(2.5), percentile(97.5)


def test_per_seed_counts_and_accuracy(study):
    rows = {(r["label"], r["seed"]): r for r in aggregate.per_seed(study, "study", "test")}
    assert len(rows) == len(STUDY)
    for (label, _, _, seed), (outcomes, words) in STUDY.items():
        row = rows[(label, seed)]
        assert (row["problems"], row["correct"], row["incorrect"], row["undecided"], row["truncated"]) == (
            5, outcomes.count("c"), outcomes.count("i"), outcomes.count("u"), outcomes.count("t"))
        assert row["accuracy"] == pytest.approx(outcomes.count("c") / 5)
        assert row["mean_words"] == pytest.approx(sum(words) / 5)
        assert row["mean_tokens"] == pytest.approx(2 * sum(words) / 5)
    assert [r["label"] for r in aggregate.per_seed(study, "study", "test")][:2] == ["base", "teacher"]


def test_mean_std_across_seeds_and_bootstrap_ci(study):
    models = {r["label"]: r for r in aggregate.per_model(study, "study", "test")}
    assert list(models) == ["base", "teacher", "student:study/R1", "student:study/R2"]
    r1 = models["student:study/R1"]
    assert r1["seeds"] == 3 and r1["mean_accuracy"] == pytest.approx(statistics.mean([0.6, 0.2, 0.8]))
    assert r1["std_accuracy"] == pytest.approx(statistics.stdev([0.6, 0.2, 0.8]))  # ddof 1: 0.3055
    assert r1["std_accuracy"] == pytest.approx(0.305505, abs=1e-6)
    assert models["student:study/R2"]["std_accuracy"] == pytest.approx(statistics.stdev([0.4, 0.6]))
    assert models["base"]["seeds"] == 1 and models["base"]["std_accuracy"] is None
    assert models["base"]["mean_accuracy"] == pytest.approx(0.4) and models["teacher"]["mean_accuracy"] == 0.8
    assert (models["base"]["truncated"], models["teacher"]["undecided"], models["student:study/R2"]["truncated"]) \
        == (2, 1, 1)
    assert r1["seed_accuracies"] == pytest.approx([0.6, 0.2, 0.8])
    # CI over problems: each problem's correctness averaged over the seeds, resampled by hand here
    r1_per_problem = [1.0, 2 / 3, 2 / 3, 1 / 3, 0.0]
    assert (r1["ci_low"], r1["ci_high"]) == pytest.approx(loop_bootstrap(r1_per_problem), abs=1e-12)
    assert (models["base"]["ci_low"], models["base"]["ci_high"]) == pytest.approx(
        loop_bootstrap([1.0, 1.0, 0.0, 0.0, 0.0]), abs=1e-12)
    for row in models.values():
        assert 0 <= row["ci_low"] <= row["mean_accuracy"] <= row["ci_high"] <= 1


def test_bootstrap_ci_edge_cases():
    assert aggregate.bootstrap_ci(np.ones(7)) == (1.0, 1.0)
    assert aggregate.bootstrap_ci(np.zeros((4, 3))) == (0.0, 0.0)
    low, high = aggregate.bootstrap_ci(np.array([1, 0] * 50))
    assert low == pytest.approx(0.4, abs=0.03) and high == pytest.approx(0.6, abs=0.03)  # ~ 0.5 ± 1.96·0.05
    with_gap = np.array([[1, np.nan], [0, 0], [1, 1]])  # seed 2 did not answer problem 1
    assert aggregate.bootstrap_ci(with_gap) == aggregate.bootstrap_ci(np.array([1.0, 0.0, 1.0]))
    assert np.isnan(aggregate.bootstrap_ci(np.full((2, 2), np.nan))[0])


def test_per_level_joins_the_training_text_length(study):
    levels = {r["level"]: r for r in aggregate.per_level(study, aggregate.per_model(study, "study", "test"))}
    assert list(levels) == ["R1", "R2"]
    assert levels["R1"]["mean_words"] == pytest.approx(statistics.mean([80, 60, 70]))
    assert levels["R2"]["mean_tokens"] == pytest.approx(50)
    assert (levels["R1"]["train_words"], levels["R2"]["train_words"]) == (90, 40)


def test_by_section_and_year(study):
    rows = {(r["label"], r["section"]): r for r in aggregate.by_section(study, "study", "test")}
    assert (rows[("base", "alpha")]["accuracy"], rows[("base", "alpha")]["year"]) == (pytest.approx(2 / 3), 2001)
    assert (rows[("base", "beta")]["accuracy"], rows[("base", "beta")]["truncated"]) == (0, 2)
    r1_alpha = rows[("student:study/R1", "alpha")]
    assert r1_alpha["seeds"] == 3 and r1_alpha["accuracy"] == pytest.approx(statistics.mean([1, 1 / 3, 1]))
    assert rows[("student:study/R1", "beta")]["accuracy"] == pytest.approx(statistics.mean([0, 0, 0.5]))
    bars = {(r["label"], r["section"]): r for r in aggregate.accuracy_by(study, "study", "test", "section")}
    assert [key for key in bars][:2] == [("base", "alpha"), ("teacher", "alpha")]
    assert {key: (r["seeds"], r["problems"], r["accuracy"]) for key, r in bars.items()} == {
        key: (r["seeds"], r["problems"], pytest.approx(r["accuracy"])) for key, r in rows.items()}
    with pytest.raises(ValueError):
        aggregate.accuracy_by(study, "study", "test", "question")


def test_by_subject_and_difficulty(store, tmp_path):
    rows = [{"id": f"m{i}", "question": f"Question {i}?", "answer": str(i), "subject": subject, "level": level}
            for i, (subject, level) in enumerate([("Algebra", 1), ("Algebra", 1), ("Algebra", 3), ("Geometry", 2)])]
    path = tmp_path / "m.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ingest(store, path, "jsonl", source="mathy")
    evaluation_id = make_evaluation(store, "r", "base", "base", split="math500")
    for row, verdict in zip(rows, ["correct", "incorrect", "correct", "correct"], strict=True):
        add_answer(store, evaluation_id, f"mathy/{row['id']}", "x", verdict=verdict)
    found = {(r["subject"], r["difficulty"]): (r["problems"], r["accuracy"])
             for r in aggregate.by_subject(store, "r", "math500")}
    assert found == {("Algebra", 1): (2, 0.5), ("Algebra", 3): (1, 1.0), ("Geometry", 2): (1, 1.0)}
    bars = {r["subject"]: (r["problems"], r["accuracy"]) for r in aggregate.accuracy_by(store, "r", "math500",
                                                                                         "subject")}
    assert bars == {"Algebra": (3, pytest.approx(2 / 3)), "Geometry": (1, 1.0)}  # all difficulty levels together
    assert aggregate.splits_of(store, "r") == ["math500"]


def test_grading_counts_and_loss_curves(study):
    grading = {r["label"]: r for r in aggregate.grading(study, "study", "test")}
    assert (grading["base"]["rule"], grading["base"]["truncated"]) == (3, 2)
    assert (grading["teacher"]["rule"], grading["teacher"]["undecided"], grading["teacher"]["judge"]) == (4, 1, 0)
    assert len(aggregate.disagreements(study, "study", "test")) == 1  # the teacher's undecided p5
    curves = aggregate.loss_curves(study, ["study"])
    assert [(c.seed, c.best_iteration) for c in curves] == [(1, 20), (2, 10), (3, 30)]
    for curve in curves:
        assert min(curve.valid, key=lambda point: point[1])[0] == curve.best_iteration
        assert len(curve.valid) == 5 and len(curve.train) == 4


def test_evaluations_listing(study):
    listed = db.evaluations_of(study, "study", "test")
    assert len(listed) == len(STUDY) and listed[0]["settings"] == {"max_tokens": 64}
    assert {p["id"] for p in STUDY_PROBLEMS} == {"p1", "p2", "p3", "p4", "p5"}
