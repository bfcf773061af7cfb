"""Grading off the event loop (graphs/offload.py): right verdicts from the pool's threads, a loop that keeps
running while a check blocks, and the corpus loop's check node using the pool."""

import asyncio
import threading

import distill.graphs.corpus_nodes as corpus_nodes
import pytest
from distill.agents.equivalence import check_answer
from distill.graphs.config import CorpusConfig
from distill.graphs.corpus_run import run_corpus
from distill.graphs.offload import off_loop

from tests.agents.test_equivalence_table import QUESTION_TABLE, TABLE
from tests.support.corpus_fakes import scripted_role, seed_problems, solver_by_question


def test_the_rule_table_gives_its_verdicts_from_the_grading_threads():
    async def grade_all():
        rows = [(None, gold, predicted) for gold, predicted, _ in TABLE] + [row[:3] for row in QUESTION_TABLE]
        return await asyncio.gather(*(off_loop(check_answer, predicted, gold, question)
                                      for question, gold, predicted in rows))

    checks = asyncio.run(grade_all())
    expected = [row[-1] for row in TABLE] + [row[-1] for row in QUESTION_TABLE]
    wrong = [(row, check) for row, check, want in zip(TABLE + QUESTION_TABLE, checks, expected, strict=True)
             if check.verdict != want]
    assert not wrong


def test_the_loop_runs_while_a_check_blocks():
    """The blocked call waits for an event that only the running loop sets: on the loop's own thread it could
    never return True."""

    async def go():
        released = threading.Event()
        blocked = asyncio.create_task(off_loop(released.wait, 30))
        for _ in range(3):
            await asyncio.sleep(0)
        released.set()
        return await blocked, await off_loop(lambda: threading.current_thread().name)

    returned, thread = asyncio.run(go())
    assert returned is True and thread.startswith("distill-grading")


def test_the_check_node_sends_what_needs_parsing_to_the_pool(store, tmp_path, monkeypatch):
    seed_problems(store, tmp_path)
    threads = []

    def recording(*args):
        threads.append(threading.current_thread().name)
        return check_answer(*args)

    monkeypatch.setattr(corpus_nodes, "check_answer", recording)
    solver = scripted_role("solver", solver_by_question({"6 times 7": "42", "10 minus 3": "8", "2 to 3": "2:3"}))
    config = CorpusConfig(critic_mode="rule", max_attempts=1, pacing={"concurrency": 3})
    tally = asyncio.run(run_corpus(store, "r", config, solver, None))
    assert (tally.accepted, tally.abstained) == (2, 1)
    # 42 and 2:3 are written as the truth is (judged on the loop, no parsing); 8 against 7 is parsed in the pool
    assert len(threads) == 1 and threads[0].startswith("distill-grading")


@pytest.mark.parametrize("answer, verdict", [("42", "correct"), ("41", "incorrect")])
def test_verdicts_from_the_pool_are_stored(store, tmp_path, answer, verdict):
    seed_problems(store, tmp_path)
    solver = scripted_role("solver", solver_by_question({"6 times 7": answer, "10 minus 3": "7", "2 to 3": "2:3"}))
    asyncio.run(run_corpus(store, "r", CorpusConfig(critic_mode="rule", max_attempts=1), solver, None))
    stored = store.query("SELECT verdict FROM verdicts WHERE problem_id = 'toy/p1' AND judge = 'rule'")
    assert [row["verdict"] for row in stored] == [verdict]
