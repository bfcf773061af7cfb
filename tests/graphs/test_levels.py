"""Reasoning levels with scripted compressors: monotone budgets, longer / wrong / truncated / copied rewrites,
R6's sentence limit, placeholders, resume without repeated calls, the views; and one run over HTTP."""

import asyncio
import re

import pytest
from distill.agents.compressor import count_sentences, floor_words, target_words
from distill.agents.endpoints import EndpointConfig
from distill.graphs.build import role_for
from distill.graphs.config import CorpusConfig
from distill.graphs.corpus_run import run_corpus
from distill.graphs.levels import LevelsConfig, run_levels
from distill.graphs.runner import Pacing
from distill.store import Store
from langchain_core.messages import AIMessage

from tests.support.corpus_fakes import calls, scripted_role, seed_problems, solver_by_question
from tests.support.openai_server import OpenAIServer, Reply

R1_WORDS = 100
LONG = " ".join(["step"] * (R1_WORDS - 2)) + "\nAnswer: \\boxed{{{answer}}}"


def corpus(store, tmp_path, run="c"):
    seed_problems(store, tmp_path)
    solver = scripted_role("solver", solver_by_question({
        "6 times 7": LONG.format(answer="42"), "10 minus 3": LONG.format(answer="7"),
        "2 to 3": LONG.format(answer="2:3")}))
    config = CorpusConfig(critic_mode="rule", pacing={"concurrency": 1})
    tally = asyncio.run(run_corpus(store, run, config, solver, None))
    assert tally.accepted == 3


# R1 has 100 words, so each level's budget names it while every rewrite meets its budget exactly.
LEVEL_OF_TARGET = {60: "R2", 45: "R3", 30: "R4", 18: "R5", 10: "R6"}


def request_of(messages):
    """(level, target words, answer): the budget from the closing instruction, the answer from the level shown as
    the assistant's turn."""
    text, shown = (m.content if hasattr(m, "content") else m["content"] for m in messages[-1:-3:-1])
    target = int(re.findall(r"at most (\d+) words", text)[-1])
    answer = re.search(r"\\boxed\{(.+)\}", shown).group(1)
    return LEVEL_OF_TARGET.get(target, f"target {target}"), target, answer


def rewrite(target, answer, sentences=1):
    """Exactly `target` words in `sentences` sentences, the answer line included."""
    body = " ".join(["short"] * max(1, target - 1 - sentences)) + "." + " Done." * (sentences - 1)
    return f"{body}\nAnswer: \\boxed{{{answer}}}"


def compressor(overrides=None):
    """Rewrites to target-ish length; `overrides[(level, n)]` replaces the n-th call for that level."""
    seen = {}

    def script(messages):
        level, target, answer = request_of(messages)
        seen[level] = seen.get(level, 0) + 1
        special = (overrides or {}).get((level, seen[level]))
        if special is not None:
            return special(target, answer) if callable(special) else special
        return rewrite(target, answer)
    return scripted_role("compressor", script)


def levels(store, role, run="c", **settings):
    config = LevelsConfig(pacing=Pacing(concurrency=settings.pop("concurrency", 1)), **settings)
    return asyncio.run(run_levels(store, run, config, role, count_tokens=lambda text: len(text) // 4))


def rows(store, sql, *params):
    return store.query(sql, list(params))


def test_six_levels_with_falling_words(store, tmp_path):
    corpus(store, tmp_path)
    tally = levels(store, compressor())
    assert (tally.complete, tally.partial, tally.failed) == (3, 0, 0)
    summary = rows(store, "SELECT level, ok, failed, mean_words FROM level_summary ORDER BY level")
    assert [r["level"] for r in summary] == ["R1", "R2", "R3", "R4", "R5", "R6"]
    assert all(r["ok"] == 3 and r["failed"] == 0 for r in summary)
    means = [r["mean_words"] for r in summary]
    assert means[0] == R1_WORDS and all(a > b for a, b in zip(means, means[1:], strict=False)), means
    one = rows(store, "SELECT level, words, target_words, source_level, tokens, answer FROM levels"
                      " WHERE problem_id = 'toy/p1' ORDER BY level")
    assert [r["target_words"] for r in one] == [None, 60, 45, 30, 18, 10]
    assert [r["source_level"] for r in one] == [None, "R1", "R2", "R3", "R4", "R5"]
    assert all(r["answer"] == "42" and r["tokens"] > 0 for r in one)
    by_section = rows(store, "SELECT count(*) AS n FROM level_summary_by_section")
    assert by_section[0]["n"] == 6  # one (source, section) here, six levels


def test_a_longer_rewrite_is_retried(store, tmp_path):
    corpus(store, tmp_path)
    longer = lambda target, answer: LONG.format(answer=answer) + " and more words"  # noqa: E731
    role = compressor({("R3", 1): longer})
    levels(store, role, limit=1)
    r3 = rows(store, "SELECT status, attempts FROM levels WHERE level = 'R3'")[0]
    assert r3 == {"status": "ok", "attempts": 2}
    first = rows(store, "SELECT passed, reason FROM level_attempts WHERE level = 'R3' AND attempt = 1")[0]
    assert not first["passed"] and first["reason"].startswith("not shorter")
    retry = [m for m in calls(role) if "could not be used" in m[-1].content]
    assert len(retry) == 1 and "not shorter" in retry[0][-1].content


def test_a_wrong_answer_fails_the_level_and_the_next_one_shortens_the_last_good(store, tmp_path):
    corpus(store, tmp_path)
    wrong = lambda target, answer: rewrite(target, "41")  # noqa: E731
    role = compressor({("R4", n): wrong for n in (1, 2, 3, 4)})
    tally = levels(store, role, limit=2)  # the first row's R4 fails four times, the second row's passes
    assert (tally.partial, tally.complete) == (1, 1)
    got = {r["level"]: r for r in rows(store, "SELECT * FROM levels WHERE problem_id = 'toy/p1'")}
    assert got["R4"]["status"] == "failed" and got["R4"]["text"] is None and got["R4"]["attempts"] == 4
    assert "'41' is not the problem's answer" in got["R4"]["reason"]
    assert got["R5"]["status"] == "ok" and got["R5"]["source_level"] == "R3"
    assert rows(store, "SELECT failed FROM level_summary WHERE level = 'R4'")[0]["failed"] == 1
    assert rows(store, "SELECT count(*) AS n FROM level_failures")[0]["n"] == 1
    # the paired columns count only the row with all six levels, so they compare the same problem throughout
    summary = rows(store, "SELECT level, ok, mean_words, complete_rows, complete_mean_words FROM level_summary"
                          " ORDER BY level")
    assert [r["complete_rows"] for r in summary] == [1] * 6
    assert [r["complete_mean_words"] for r in summary] == [100, 60, 45, 30, 18, 10]
    assert [r["ok"] for r in summary] == [2, 2, 2, 1, 2, 2]


def test_a_rewrite_below_the_floor_is_tried_again_and_kept_only_as_a_fallback(store, tmp_path):
    corpus(store, tmp_path)
    role = compressor({("R2", 1): rewrite(20, "42"), **{("R3", n): rewrite(20 + n, "42") for n in (1, 2, 3, 4)}})
    levels(store, role, limit=1, up_to="R3")
    got = {r["level"]: r for r in rows(store, "SELECT level, words, attempts, status FROM levels")}
    assert got["R2"] == {"level": "R2", "words": 60, "attempts": 2, "status": "ok"}  # 20 < R3's budget of 45
    assert got["R3"] == {"level": "R3", "words": 24, "attempts": 4, "status": "ok"}  # the longest of 21..24 < 30
    tried = rows(store, "SELECT level, attempt, usable, passed, reason FROM level_attempts ORDER BY level, attempt")
    assert tried[0]["usable"] and not tried[0]["passed"] and tried[0]["reason"].startswith("too short: 20 words")
    assert all(r["usable"] and not r["passed"] for r in tried[2:])
    feedback = [m[-1].content for m in calls(role) if "could not be used" in m[-1].content]
    assert len(feedback) == 4 and "at least 45 words" in feedback[0]


def test_an_answer_alone_or_an_echo_of_the_instructions_is_no_level(store, tmp_path):
    corpus(store, tmp_path)
    echo = "Rewrite it in at most 45 words, keeping only the key steps.\nAnswer: \\boxed{42}"
    role = compressor({("R3", 1): "Answer: \\boxed{42}", ("R3", 2): echo})
    levels(store, role, limit=1, up_to="R3")
    tried = rows(store, "SELECT reason FROM level_attempts WHERE level = 'R3' ORDER BY attempt")
    reasons = [r["reason"] for r in tried]
    assert reasons[0] == "no reasoning left, only the answer"
    assert reasons[1].startswith("it repeats the instructions") and reasons[2] is None


def test_truncated_copied_and_rambling_rewrites_are_refused(store, tmp_path):
    corpus(store, tmp_path)
    cut = AIMessage(content="short short short", response_metadata={"finish_reason": "length"})
    copy = lambda target, answer: LONG.format(answer=answer)  # noqa: E731
    rambling = lambda target, answer: rewrite(target, answer, sentences=5)  # noqa: E731
    role = compressor({("R2", 1): cut, ("R3", 1): copy, ("R6", 1): rambling})
    levels(store, role, limit=1)
    reasons = {(r["level"], r["attempt"]): r["reason"]
               for r in rows(store, "SELECT level, attempt, reason FROM level_attempts WHERE NOT passed")}
    assert reasons[("R2", 1)].startswith("cut off")
    assert reasons[("R3", 1)].startswith("not shorter")
    assert "sentences" in reasons[("R6", 1)]
    assert rows(store, "SELECT count(*) AS n FROM levels WHERE status = 'ok'")[0]["n"] == 6


def test_placeholders_are_never_processed(store, tmp_path):
    corpus(store, tmp_path)
    store.cursor().execute("UPDATE problems SET status = 'placeholder' WHERE natural_key = 'p2'")
    levels(store, compressor())
    assert {r["problem_id"] for r in rows(store, "SELECT DISTINCT problem_id FROM levels")} == {"toy/p1", "toy/p3"}


def test_an_interrupted_run_resumes_without_repeating_a_call(store, tmp_path):
    corpus(store, tmp_path)
    first = compressor({("R4", 1): KeyboardInterrupt()})
    with pytest.raises(KeyboardInterrupt):
        levels(store, first, limit=1)
    made = rows(store, "SELECT count(*) AS n FROM level_attempts")[0]["n"]
    assert made == 2  # R2 and R3
    second = compressor()
    levels(store, second, limit=1)
    asked = [request_of(m)[0] for m in calls(second)]
    assert asked == ["R4", "R5", "R6"]
    assert rows(store, "SELECT count(*) AS n FROM levels")[0]["n"] == 6
    again = scripted_role("compressor", lambda m: pytest.fail("nothing left to do"))
    assert levels(store, again).total == 2  # only the two rows not yet levelled


def test_levels_need_a_corpus_run(store):
    with pytest.raises(ValueError, match="no corpus run"):
        levels(store, compressor(), run="nope")


def test_a_budget_steps_down_from_a_level_that_came_in_short_and_is_always_below_it():
    assert target_words(100, "R3") == target_words(100, "R3", base_level="R2", base_words=60) == 45
    # R2 came in at a third of its budget: R3 gets 20 * 0.45 / 0.6
    assert target_words(100, "R3", base_level="R2", base_words=20) == 15
    # the 8-word minimum would invite a copy of an 8-word R5
    assert target_words(100, "R6", base_level="R5", base_words=8) == 7
    assert floor_words(100, "R2") == 45 and floor_words(100, "R6") == 0


def test_sentence_count_ignores_decimals_and_the_answer_line():
    assert count_sentences("The area is 3.5 square units. So the answer follows.\nAnswer: \\boxed{3.5}") == 2
    assert count_sentences("One step gives 42\nAnswer: \\boxed{42}") == 1


def test_levels_over_http(tmp_path):
    db = tmp_path / "h.duckdb"
    with Store(db) as store:
        corpus(store, tmp_path)

    def reply(request):
        _, target, answer = request_of(request["messages"])
        return Reply(content=f"<think>shorten to {target}</think>" + rewrite(target, answer), completion_tokens=target)

    with OpenAIServer(reply) as server, Store(db) as store:
        role = role_for("compressor", EndpointConfig(base_url=server.base_url, model="scripted"))
        tally = levels(store, role)
        assert tally.complete == 3 and len(server.log) == 15
        texts = rows(store, "SELECT text FROM levels WHERE level <> 'R1'")
        assert all("<think>" not in r["text"] for r in texts)


def test_up_to_stops_early_and_a_later_run_continues_from_the_cache(store, tmp_path):
    corpus(store, tmp_path)
    first = compressor()
    assert levels(store, first, limit=1, up_to="R3").complete == 1
    assert [r["level"] for r in rows(store, "SELECT level FROM levels ORDER BY level")] == ["R1", "R2", "R3"]
    second = compressor()
    levels(store, second, limit=1)
    assert [request_of(m)[0] for m in calls(second)] == ["R4", "R5", "R6"]
    assert rows(store, "SELECT count(*) AS n FROM levels WHERE status = 'ok'")[0]["n"] == 6
