"""Split invariants: every active problem in one split, placeholders never, duplicate clusters together, a test
set that training seeds and a growing corpus never change, stratification by source and section."""

from __future__ import annotations

import json
from collections import Counter, defaultdict

import pytest
from distill.store import StoreError
from distill.store import training as db
from distill.store.rows import LevelRow
from distill.store.writer import insert
from distill.training.splits import apportion, assign_splits, make_split

from tests.support.training_fakes import add_corpus, arithmetic_problems, ingest_problems


def test_every_active_problem_in_exactly_one_split(toy_run):
    result = make_split(toy_run.store, toy_run.run, 0, valid=0.1, test=0.1)
    rows = db.split_rows(toy_run.store, toy_run.run, 0)
    assert sorted(r["problem_id"] for r in rows) == sorted(f"toy/{p['id']}" for p in toy_run.problems)
    counts = result.counts
    assert sum(counts.values()) == 60
    assert counts["test"] == 6  # 10% of all 60 active problems
    assert counts["valid"] == round(0.1 * (counts["train"] + counts["valid"]))  # 10% of those with text left
    by_id = {r["problem_id"]: r for r in rows}
    for pid in ("toy/q001", "toy/q002"):  # the teacher abstained: test or unused, never train/valid
        assert by_id[pid]["split"] in ("test", "unused")
        assert not by_id[pid]["has_text"]
    assert all(r["has_text"] for r in rows if r["split"] in ("train", "valid"))
    assert all(not r["has_text"] for r in rows if r["split"] == "unused")


def test_test_split_drawn_from_all_problems_including_abstained(store, tmp_path):
    problems = arithmetic_problems(40)
    ingest_problems(store, tmp_path, problems)
    abstained = {p["id"] for p in problems[::2]}  # the teacher solved only half
    add_corpus(store, "half", problems, abstain=abstained)
    result = make_split(store, "half", 0, valid=0.1, test=0.25)
    assert len(result.ids("test")) == 10  # a quarter of all 40, not of the 20 solved
    assert any(pid.split("/")[1] in abstained for pid in result.ids("test"))


def test_placeholders_excluded_and_duplicate_clusters_kept_together(store, tmp_path):
    problems = arithmetic_problems(30)
    dupes = [{**problems[i], "id": f"dup{i}"} for i in range(0, 30, 3)]  # 10 exact duplicates, never built
    placeholder = [{"id": "ph", "section": "sums", "question": "Question 12", "answer": "1", "reasoning": "x"}]
    ingest_problems(store, tmp_path, problems + dupes + placeholder)
    assert store.scalar("SELECT count(*) FROM problems WHERE duplicate_of IS NOT NULL") == 10
    assert store.scalar("SELECT status FROM problems WHERE problem_id = 'toy/ph'") == "placeholder"
    add_corpus(store, "r", problems)  # duplicates and the placeholder have no corpus rows
    for seed in range(8):  # several split seeds: the property must hold for each
        make_split(store, "r", seed, valid=0.2, test=0.2)
        rows = db.split_rows(store, "r", seed)
        assert "toy/ph" not in {r["problem_id"] for r in rows}
        splits_of_cluster = defaultdict(set)
        for r in rows:
            splits_of_cluster[r["cluster_id"]].add(r["split"])
        assert all(len(s) == 1 for s in splits_of_cluster.values())
        assert len(rows) == 40
        assert sum(r["representative"] for r in rows) == 30


def test_cross_source_duplicate_cluster_stays_in_one_split(store, tmp_path):
    problems = arithmetic_problems(20)
    ingest_problems(store, tmp_path, problems, source="a")
    ingest_problems(store, tmp_path, problems[:10], source="b")  # b repeats a's first ten questions
    add_corpus(store, "ab", problems, source="a")
    add_corpus(store, "ab", problems[:10], source="b")
    for seed in range(6):
        make_split(store, "ab", seed, test=0.3)
        rows = db.split_rows(store, "ab", seed)
        by_cluster = defaultdict(set)
        for r in rows:
            by_cluster[r["cluster_id"]].add(r["split"])
        assert all(len(s) == 1 for s in by_cluster.values())
        assert any(len([r for r in rows if r["cluster_id"] == c]) == 2 for c in by_cluster)


def test_test_set_fixed_across_training_and_growing_corpus(store, tmp_path):
    problems = arithmetic_problems(50)
    ingest_problems(store, tmp_path, problems)
    add_corpus(store, "grow", problems[:30])  # the run has solved 30 so far
    first = make_split(store, "grow", 7, valid=0.1, test=0.2)
    add_corpus(store, "grow", problems[30:])  # ... and then the rest
    again = make_split(store, "grow", 7, valid=0.1, test=0.2)
    assert again.replaced
    assert again.ids("test") == first.ids("test")
    assert len(again.ids("train")) > len(first.ids("train"))
    assert set(first.ids("train")) - set(again.ids("valid")) <= set(again.ids("train"))
    other = make_split(store, "grow", 8, valid=0.1, test=0.2)
    assert other.ids("test") != first.ids("test")  # a split seed does change it


def test_changing_the_test_set_of_a_split_seed_is_refused(toy_run):
    make_split(toy_run.store, toy_run.run, 0, test=0.1)
    with pytest.raises(StoreError, match="different test set"):
        make_split(toy_run.store, toy_run.run, 0, test=0.3)
    forced = make_split(toy_run.store, toy_run.run, 0, test=0.3, force=True)
    assert len(forced.ids("test")) == 18


def test_stratified_by_source_and_section(store, tmp_path):
    problems = arithmetic_problems(90)  # 30 per section
    ingest_problems(store, tmp_path, problems, source="a")
    other = arithmetic_problems(40, seed=5)
    for p in other:
        p["section"] = None
        p["subject"] = "algebra" if int(p["id"][1:]) % 2 else "geometry"
    ingest_problems(store, tmp_path, other, source="m")
    add_corpus(store, "s", problems, source="a")
    add_corpus(store, "s", other, source="m")
    result = make_split(store, "s", 3, valid=0.2, test=0.2)
    rows = db.split_rows(store, "s", 3)
    strata = Counter(r["stratum"] for r in rows)
    assert set(strata) == {"a/sums", "a/products", "a/differences", "m/algebra", "m/geometry"}
    tests = Counter(r["stratum"] for r in rows if r["split"] == "test")
    valids = Counter(r["stratum"] for r in rows if r["split"] == "valid")
    for stratum, n in strata.items():
        assert abs(tests[stratum] - 0.2 * n) <= 1, (stratum, tests[stratum], n)
        assert abs(valids[stratum] - 0.2 * (n - tests[stratum])) <= 1, (stratum, valids[stratum])
    assert len(result.ids("test")) == 26
    header = db.split_set(store, "s", 3)
    assert json.loads(header["sources"]) == ["a", "m"]


def test_split_of_a_run_without_text_is_an_error(store, tmp_path):
    problems = arithmetic_problems(5)
    ingest_problems(store, tmp_path, problems)
    with pytest.raises(StoreError, match="no problems"):
        make_split(store, "nothing", 0)
    add_corpus(store, "abstained", problems, abstain={p["id"] for p in problems})
    with pytest.raises(StoreError, match="no training text"):
        make_split(store, "abstained", 0)


@pytest.mark.parametrize(("total", "weights", "expected"), [
    (6, {"a": 30, "b": 20, "c": 10}, {"a": 3, "b": 2, "c": 1}),
    (1, {"a": 1, "b": 1}, {"a": 1, "b": 0}),  # ties go to the first key
    (3, {"a": 5, "b": 5, "c": 1}, {"a": 2, "b": 1, "c": 0}),
    (0, {"a": 4}, {"a": 0}),
    (4, {"a": 0, "b": 0}, {"a": 0, "b": 0}),
    (7, {"a": 1, "b": 1, "c": 1}, {"a": 3, "b": 2, "c": 2}),
])
def test_apportion_largest_remainder(total, weights, expected):
    assert apportion(total, weights) == expected


def test_assign_splits_validates_fractions():
    with pytest.raises(ValueError, match="fractions"):
        assign_splits([], 0, valid=0.6, test=0.5)


def test_held_out_test_set_is_known_before_the_corpus_and_the_corpus_skips_it(store, tmp_path):
    from distill.store.corpus import problems_to_build
    from distill.training.splits import held_out_test_ids

    problems = arithmetic_problems(60)
    ingest_problems(store, tmp_path, problems)
    held = held_out_test_ids(store, ["toy"], 0, 0.2)
    assert len(held) == 12
    pending = problems_to_build(store, "r", "toy", 20, False, sorted(held))
    assert len(pending) == 20 and not {p["problem_id"] for p in pending} & held
    everything = [p["problem_id"] for p in problems_to_build(store, "r", "toy", None, False)]
    assert [p["problem_id"] for p in pending] == [pid for pid in everything if pid not in held][:20]
    # the corpus built on the other problems (some abstained); the later split's test set is exactly `held`
    built = [p for p in problems if f"toy/{p['id']}" not in held]
    add_corpus(store, "r", built, abstain={built[0]["id"]})
    result = make_split(store, "r", 0, valid=0.1, test=0.2)
    assert set(result.ids("test")) == held
    assert result.counts["unused"] == 1


def test_a_level_on_few_problems_still_gets_a_validation_problem(store, tmp_path):
    problems = arithmetic_problems(60)
    ingest_problems(store, tmp_path, problems)
    add_corpus(store, "r", problems)
    before = make_split(store, "r", 0, valid=0.1, test=0.2)
    train_ids = before.ids("train")[:3]  # R3 text on three training problems only: none of them in valid
    for pid in train_ids:
        insert(store.cursor(), LevelRow(run_name="r", problem_id=pid, level="R3", status="ok", text="t", answer="1",
                                        words=1, tokens=1, target_words=None, source_level=None, attempts=1,
                                        reason=None, call_key=None))
    after = make_split(store, "r", 0, valid=0.1, test=0.2)
    assert set(after.ids("test")) == set(before.ids("test"))
    moved = [pid for pid in train_ids if pid in after.ids("valid")]
    assert len(moved) == 1 and len(after.ids("valid")) == len(before.ids("valid")) + 1
    # a level already in valid, or on a single problem, moves nothing
    assert make_split(store, "r", 0, valid=0.1, test=0.2).ids("valid") == after.ids("valid")
