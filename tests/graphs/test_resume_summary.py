"""What a rerun says: that it resumes (problems decided, attempts and tokens stored), and the run's token total."""

import re

from distill.store import Store

from tests.graphs.test_corpus_http import arithmetic_teacher, seed
from tests.support.openai_server import OpenAIServer, Reply, user_text


def flat(result):
    return " ".join(result.output.split())


def test_a_rerun_says_it_resumes_and_prints_the_runs_tokens(cli, tmp_path):
    db = tmp_path / "cli.duckdb"
    seed(db, 6)

    def down_for_two(request):  # problems 4 and 5 fail for good on the first run
        return Reply(status=400) if re.search(r"What is [45] plus", user_text(request)) else arithmetic_teacher(request)

    with OpenAIServer(down_for_two) as server:
        config = tmp_path / "c.toml"
        config.write_text(f'[corpus.teacher]\nbase_url = "{server.base_url}"\nmodel = "scripted"\n')
        first = cli("build", "--run", "r", "--config", config)
        assert first.exit_code == 1 and "resuming" not in first.output
        with Store(db, read_only=True) as store:
            stored = store.scalar("SELECT tokens FROM run_summary WHERE run_name = 'r'")
        assert f"{stored:,} tokens in the run ({stored:,} by this command)" in flat(first)

        server.responder = arithmetic_teacher
        second = cli("build", "--run", "r", "--config", config)
        assert second.exit_code == 0, second.output
        assert (f"resuming run r: 4 problem(s) already decided (4 accepted, 0 abstained), 2 failed before "
                f"(retried now); 4 attempts and {stored:,} tokens stored") in flat(second)
        with Store(db, read_only=True) as store:
            total = store.scalar("SELECT tokens FROM run_summary WHERE run_name = 'r'")
        assert total > stored
        assert f"run r: 2 accepted, 0 abstained, 0 failed of 2 to do; {total:,} tokens in the run " \
               f"({total - stored:,} by this command)" in flat(second)

        third = cli("build", "--run", "r", "--config", config)
    assert "resuming run r: 6 problem(s) already decided" in flat(third)
    assert f"0 to do; {total:,} tokens in the run (0 by this command)" in flat(third)
