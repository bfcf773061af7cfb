"""The contamination check finds planted leaks (13-grams, short questions inside longer ones, MATH-500) and the
export refuses to write leaky data unless allowed."""

from __future__ import annotations

import json

import pytest
from distill.store import training as db
from distill.store.ingest import ingest
from distill.training.contamination import find_leaks, ngrams, numbers_conflict, question_words
from distill.training.export import ContaminationError, export_level
from distill.training.splits import make_split

from tests.support.training_fakes import add_corpus, arithmetic_problems, ingest_problems

LONG = ("A bag holds 4 red marbles, 6 blue marbles and 10 green marbles; two marbles are drawn without "
        "replacement. What is the probability that both are green?")


def test_normalised_words():
    assert question_words("  Find the VALUE of $x^2$, if x=3!  ") == ("find", "the", "value", "of", "x", "2", "if",
                                                                       "x", "3")
    assert question_words("Ｆｕｌｌ－width") == ("full", "width")  # NFKC
    assert ngrams(("a", "b"), 13) == {("a", "b")}
    assert len(ngrams(tuple("abcdefghijklmn"), 13)) == 2


def test_planted_13_gram_leak_is_found():
    training = {"t1": "Consider this: " + LONG + " Give a fraction.", "t2": "What is 2 plus 2?"}
    held_out = {"h1": LONG, "h2": "Completely different words about triangles and their many angles in a plane "
                                  "figure drawn on paper today."}
    leaks = find_leaks(training, held_out, "test")
    assert [(leak.problem_id, leak.other_id) for leak in leaks] == [("t1", "h1")]
    assert leaks[0].shared_ngrams == len(question_words(LONG)) - 13 + 1
    assert leaks[0].against == "test"


def test_short_questions_inside_longer_ones_and_identical_short_ones():
    short = "How many positive divisors does 360 have in total?"  # 9 words: looked for inside longer ones
    tiny = "Solve for x: 3x + 7 = 31."  # fewer than 8 words: only an identical question counts
    training = {"a": f"Part one. {short} Part two asks more.", "b": "solve for x 3x 7 31", "c": f"{tiny} Then add 1."}
    leaks = find_leaks(training, {"s": short, "t": tiny}, "test")
    assert {(leak.problem_id, leak.other_id) for leak in leaks} == {("a", "s"), ("b", "t")}


def test_no_overlap_no_leak():
    problems = arithmetic_problems(40)
    training = {p["id"]: p["question"] for p in problems[:30]}
    held_out = {p["id"]: p["question"] for p in problems[30:]}
    assert find_leaks(training, held_out, "test") == []
    assert find_leaks(training, training, "test") == []  # a problem never leaks with itself


def test_export_refuses_a_planted_leak_unless_allowed(store, tmp_path):
    problems = arithmetic_problems(30)
    problems[0]["question"] = LONG
    problems[1]["question"] = "Before we start: " + LONG  # not an exact duplicate, so not one cluster
    ingest_problems(store, tmp_path, problems)
    add_corpus(store, "leaky", problems)
    # find a split seed that puts exactly one of the pair in test
    for seed in range(50):
        result = make_split(store, "leaky", seed, test=0.3)
        in_test = {pid for pid in result.ids("test")} & {"toy/q000", "toy/q001"}
        if len(in_test) == 1:
            break
    else:
        pytest.fail("no split seed separates the planted pair")
    assert [(leak.against) for leak in result.leaks] == ["test"]
    with pytest.raises(ContaminationError, match="overlap held-out"):
        export_level(store, "leaky", "R1", seed, out_dir=tmp_path / "runs")
    assert store.scalar("SELECT count(*) FROM exports") == 0
    exported = export_level(store, "leaky", "R1", seed, out_dir=tmp_path / "runs", allow_leaks=True)
    assert len(exported.leaks) == 1
    row = store.query("SELECT leaks, allow_leaks FROM exports WHERE export_id = ?", [exported.export_id])[0]
    assert row == {"leaks": 1, "allow_leaks": True}
    assert store.scalar("SELECT count(*) FROM contamination WHERE run_name = 'leaky' AND split_seed = ?", [seed]) == 1


def test_math500_questions_are_checked_even_when_ingested_later(store, tmp_path):
    problems = arithmetic_problems(20)
    problems[3]["question"] = LONG
    ingest_problems(store, tmp_path, problems)
    add_corpus(store, "r", problems)
    seed = next(s for s in range(50) if "toy/q003" not in make_split(store, "r", s, test=0.1).ids("test"))
    assert db.split_set(store, "r", seed)["leaks"] == 0
    math500 = tmp_path / "math500.jsonl"
    math500.write_text(json.dumps({"unique_id": "test/prealgebra/1.json", "problem": LONG, "answer": "9/38",
                                   "subject": "Prealgebra", "level": 2, "solution": "..."}) + "\n")
    ingest(store, math500, "math500", source="math500")
    with pytest.raises(ContaminationError, match="math500"):
        export_level(store, "r", "R1", seed, out_dir=tmp_path / "runs")
    rows = store.query("SELECT problem_id, other_id, against FROM contamination WHERE run_name = 'r' AND "
                       "split_seed = ?", [seed])
    assert rows == [{"problem_id": "toy/q003", "other_id": "math500/test/prealgebra/1.json", "against": "math500"}]
    assert db.split_set(store, "r", seed)["leaks"] == 1


def test_a_shared_template_with_other_numbers_is_not_a_leak():
    template = ("Sam has {} shirts, {} pairs of pants and {} hats. How many different outfits of one shirt, one pair "
                "of pants and one hat can he make?")
    training = {"t1": template.format(3, 4, 2), "t2": template.format(2, 5, 3),
                "t3": "Warm up first. " + template.format(2, 5, 4) + " Then add 7."}
    held_out = {"h": template.format(2, 5, 4)}
    leaks = find_leaks(training, held_out, "test")
    # t1, t2: the same template with other numbers (t2's 2, 5, 3 vs 2, 5, 4 conflict); t3 embeds h with its numbers
    assert [(leak.problem_id, leak.other_id) for leak in leaks] == [("t3", "h")]
    assert numbers_conflict(question_words(training["t2"]), question_words(held_out["h"]))
    assert not numbers_conflict(question_words(training["t3"]), question_words(held_out["h"]))
