"""One config path: every stage command takes --config (a study file or a file holding the stage's table), flags
given override it and flags not given do not, every config error names the file (or the flags) and the key, and
no command restates a default of the stage's model."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import typer
from distill.graphs.runner import Pacing
from distill.store import Store

from distill.cli import app
from distill.commands.options import shown
from distill.config_files import ConfigError
from distill.settings import db_path, models_dir
from distill.stage_configs import STAGE_MODELS, load_stage
from distill.study import InputSet, load_study_config
from tests.support.paths import REPO
from tests.support.training_fakes import add_corpus, arithmetic_problems, ingest_problems

DEMO = REPO / "examples" / "demo.toml"
STAGE_OF = {"build": "corpus", "levels": "levels", "split": "split", "export": "split", "train": "train",
            "eval": "eval"}


def flat(text: str) -> str:
    return " ".join(text.split())


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_a_flag_overrides_the_file_and_an_unset_flag_does_not(tmp_path):
    table = write(tmp_path / "corpus.toml", "[corpus]\nmax_attempts = 5\npacing = { rpm = 60 }\n")
    kept = load_stage("corpus", table, {"max_attempts": None, "pacing": {"concurrency": None, "rpm": None}}).config
    assert (kept.max_attempts, kept.pacing.rpm) == (5, 60)
    assert "concurrency" not in kept.pacing.model_fields_set  # the local teacher's 1 still applies
    over = load_stage("corpus", table, {"max_attempts": 2, "pacing": {"concurrency": 4}}).config
    assert (over.max_attempts, over.pacing.rpm, over.pacing.concurrency) == (2, 60, 4)


def test_a_study_file_gives_each_stage_what_the_study_gives_it(tmp_path):
    study = load_study_config(DEMO)
    for stage in ("corpus", "levels", "split"):
        assert load_stage(stage, DEMO, {}).config == getattr(study, stage)
    assert load_stage("train", DEMO, {}).config == study.train_config()
    assert load_stage("eval", DEMO, {"run": "demo"}).config == study.eval_config()
    assert load_stage("eval", DEMO, {"run": "other", "max_tokens": 64}).config.max_tokens == 64
    assert load_stage("split", DEMO, {}).db(None) == Path("runs/demo.duckdb")
    teacher = '\n[corpus.teacher]\nbase_url = "http://localhost:8000/v1"\nmodel = "t"\n'
    path = write(tmp_path / "study.toml", DEMO.read_text() + teacher)
    assert load_stage("levels", path, {}).config.compressor.model == "t"
    assert load_stage("eval", path, {"run": "demo"}).config.teacher.model == "t"
    assert "concurrency" not in load_stage("eval", path, {"run": "demo"}).config.pacing.model_fields_set


def test_a_file_holding_just_the_table(tmp_path):
    config = load_stage("train", write(tmp_path / "t.toml", "iters = 7\n[lora]\nrank = 4\n"), {}).config
    assert (config.iters, config.lora.rank) == (7, 4)
    assert load_stage("eval", write(tmp_path / "e.toml", 'run = "r"\nmax_tokens = 9\n'), {}).config.run == "r"


@pytest.mark.parametrize(("stage", "text", "message"), [
    ("corpus", "[corpus]\nmax_atempts = 2\n", "corpus.max_atempts: Extra inputs"),
    ("corpus", "[corpus]\nconcurrency = 2\n", "pacing keys go in the [corpus.pacing] table"),
    ("levels", "[levels]\nup_to = 'R9'\n", "levels.up_to: Input should be"),
    ("split", "test = 2.0\n", "test: Input should be less than 1"),
    ("train", "[train]\n[train.lora]\nalpha = 16\n", "train.lora.alpha: Extra inputs"),
    ("eval", "[eval]\nmax_tokens = 0\n", "eval.max_tokens: Input should be greater"),
])
def test_a_table_error_names_the_file_and_the_key(tmp_path, stage, text, message):
    path = write(tmp_path / "bad.toml", text)
    with pytest.raises(ConfigError) as caught:
        load_stage(stage, path, {"run": "r"} if stage == "eval" else {})
    assert str(caught.value).startswith(f"{path}: ") and message in str(caught.value)


def test_a_flag_error_names_the_flags_and_the_key():
    with pytest.raises(ConfigError, match="command-line flags: pacing.concurrency: Input should be"):
        load_stage("levels", None, {"pacing": {"concurrency": 0}})


BAD = {  # a study file with one bad key in the table the command reads
    "build": ("max_attempts = 3", "max_attempts = 99", "corpus.max_attempts"),
    "levels": ('up_to = "R3"', 'up_to = "R7"', "levels.up_to"),
    "split": ("valid = 0.1", "valid = 1.5", "split.valid"),
    "export": ("valid = 0.1", "valid = 1.5", "split.valid"),
    "train": ("iters = 30", "iter = 30", "train.iter"),
    "eval": ("batch_size = 35", "batch_size = 0", "eval.batch_size"),
    "study": ("max_tokens = 128", "max_tokenz = 128", "eval.max_tokenz"),
    "report": ("max_tokens = 128", "max_tokenz = 128", "eval.max_tokenz"),
}


@pytest.mark.parametrize("command", sorted(BAD))
def test_every_stage_command_names_the_file_and_the_key(cli, tmp_path, command):
    old, new, key = BAD[command]
    assert old in DEMO.read_text()
    path = write(tmp_path / "study.toml", DEMO.read_text().replace(old, new))
    args = ["--config", path] if command == "study" else ["--run", "demo", "--config", path]
    result = cli(command, *args)  # the fixture lets exceptions through: a traceback fails the test
    assert result.exit_code == 2, result.output
    assert f"{path}: {key}" in flat(result.output)


@pytest.mark.parametrize("command", sorted(set(BAD) - {"study", "report"}))
def test_every_stage_command_reads_a_table_file(cli, tmp_path, command):
    path = write(tmp_path / "table.toml", "no_such_key = 1\n")
    result = cli(command, "--run", "r", "--config", path)
    assert result.exit_code == 2 and f"{path}: no_such_key: Extra inputs are not permitted" in flat(result.output)


def test_split_flags_override_the_file_and_unset_flags_do_not(cli, tmp_path):
    problems = arithmetic_problems(40)
    with Store(tmp_path / "cli.duckdb") as store:
        ingest_problems(store, tmp_path, problems)
        add_corpus(store, "r", problems)
    config = write(tmp_path / "split.toml", "[split]\nvalid = 0.2\ntest = 0.25\n")
    assert cli("split", "--run", "r", "--config", config).exit_code == 0
    assert cli("split", "--run", "r", "--seed", "1", "--config", config, "--test", "0.15").exit_code == 0
    with Store(tmp_path / "cli.duckdb") as store:
        rows = store.query("SELECT split_seed, valid_fraction, test_fraction FROM split_sets ORDER BY split_seed")
    assert [tuple(r.values()) for r in rows] == [(0, 0.2, 0.25), (1, 0.2, 0.15)]


def test_ingest_takes_the_inputs_of_a_study_file(cli, tmp_path):
    problems = write(tmp_path / "p.jsonl", '{"q": "What is 1 plus 1?", "a": "2", "id": "1"}\n')
    entry = f'[[inputs]]\npath = "{problems}"\nformat = "jsonl"\nquestion_field = "q"\nanswer_field = "a"\n'
    study = write(tmp_path / "s.toml", 'name = "s"\n' + entry)
    result = cli("ingest", "--config", study, "--source", "mine")
    assert result.exit_code == 0, result.output
    assert "into mine from 1 file(s): 1 new" in flat(result.output)
    assert cli("ingest", "--config", write(tmp_path / "inputs.toml", entry)).exit_code == 0  # just [[inputs]]
    bad = write(tmp_path / "bad.toml", entry.replace('format = "jsonl"', 'format = "pdf"'))
    result = cli("ingest", "--config", bad)
    assert result.exit_code == 2 and f"{bad}: inputs.0.format" in flat(result.output)
    result = cli("ingest", problems, "--format", "jsonl", "--max-answer-chars", "0")
    assert result.exit_code == 2 and "command-line flags: max_answer_chars" in flat(result.output)
    assert cli("ingest", problems).exit_code == 2  # PATH without --format


def test_the_store_and_models_dir_come_from_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("DISTILL_DB", str(tmp_path / "env.duckdb"))
    monkeypatch.setenv("DISTILL_MODELS_DIR", str(tmp_path / "models"))
    study = write(tmp_path / "s.toml", DEMO.read_text().replace('db = "runs/demo.duckdb"', ""))
    assert load_study_config(study).store_path() == tmp_path / "env.duckdb"  # no db in the file: the env
    assert load_study_config(DEMO).store_path() == Path("runs/demo.duckdb")  # the file beats the env
    assert load_study_config(DEMO, {"db": tmp_path / "flag.duckdb"}).store_path() == tmp_path / "flag.duckdb"
    assert load_stage("split", study, {}).db(None) == tmp_path / "env.duckdb"
    assert db_path(None) == tmp_path / "env.duckdb" and models_dir() == tmp_path / "models"
    monkeypatch.delenv("DISTILL_DB")
    assert db_path(None) == Path("distill.duckdb")


def test_study_uses_distill_db_when_the_file_has_none(cli, tmp_path, monkeypatch):
    """The study's first stage writes the problems into the store that DISTILL_DB names (the cli fixture's)."""
    problems = tmp_path / "p.jsonl"
    problems.write_text('{"id": "1", "question": "What is 1 plus 1?", "answer": "2"}\n')
    study = write(tmp_path / "s.toml", f'name = "s"\n[[inputs]]\npath = "{problems}"\nformat = "jsonl"\n'
                                       "[corpus]\nmax_attempts = 0\n")
    result = cli("study", "--config", study)
    assert result.exit_code == 2 and f"{study}: corpus.max_attempts" in flat(result.output)
    study.write_text(study.read_text().replace("max_attempts = 0", 'critic_mode = "rule"\nsource = "none"\n'
                                               '[corpus.teacher]\nbase_url = "http://127.0.0.1:9/v1"\nmodel = "x"'))
    result = cli("study", "--config", study)  # ingests; nothing to solve in source "none"; stops at the split
    assert result.exit_code == 2, result.output
    with Store(tmp_path / "cli.duckdb", read_only=True) as store:
        assert store.scalar("SELECT count(*) FROM problems") == 1


def test_no_code_reads_the_distill_environment_by_hand():
    readers = []
    for folder in ("agents", "graphs", "store", "training", "evaluation", "models", "distill"):
        for path in (REPO / folder).rglob("*.py"):
            if path.name == "settings.py":
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Constant) and node.value in ("DISTILL_DB", "DISTILL_MODELS_DIR"):
                    readers.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not readers, f"read DISTILL_* through distill/settings.py: {readers}"


ALLOWED_DEFAULTS = {"level": "R1", "force": False}  # not config fields: the command's own
FIELD_OF = {"prompts": "prompts_dir", "out": "out_dir"}


def test_every_stage_command_takes_config_and_restates_no_default():
    commands = typer.main.get_command(app).commands
    for name, stage in STAGE_OF.items():
        model = STAGE_MODELS[stage]
        options = {p.name: p for p in commands[name].params if isinstance(p, typer.core.TyperOption)}
        assert "config_file" in options, f"distill {name} takes no --config"
        for option in options.values():
            if option.required or option.name in ("db", "run"):
                continue
            if option.name in ALLOWED_DEFAULTS or (name == "train" and option.name == "restart"):
                assert option.default == ALLOWED_DEFAULTS.get(option.name, False)
                continue
            assert option.default is None, f"distill {name} --{option.name} defaults to {option.default!r}, not None"
            stated = re.search(r"\(default ([^)]*)\)\.?$", option.help or "")
            field = FIELD_OF.get(option.name, option.name)
            source = model if field in model.model_fields else Pacing if field in Pacing.model_fields else None
            if stated and source is not None and name != "export":
                assert stated.group(1) == shown(source, field), f"distill {name} --{option.name}"
    study = {p.name: p for p in commands["study"].params}
    assert study["config_file"].required
    for option in commands["ingest"].params:
        if isinstance(option, typer.core.TyperOption) and option.name not in ("db", "config_file"):
            assert option.default is None, f"distill ingest --{option.name}"
            if option.name in InputSet.model_fields and option.name != "format":
                assert option.help.endswith(f"(default {shown(InputSet, option.name)}).")
