"""The study's config file: the demo loads; typos, missing keys and bad values are errors naming the key."""

from pathlib import Path

import pytest
from distill.agents.endpoints import LOCAL_TEACHER_SAMPLING
from distill.graphs.levels import LevelsConfig

from distill.study import StudyConfigError, load_study_config
from tests.support.paths import REPO

DEMO = REPO / "examples" / "demo.toml"


def test_the_demo_config_loads():
    config = load_study_config(DEMO)
    assert config.name == "demo" and config.inputs[0].format == "jsonl" and config.inputs[0].generate.count == 525
    assert config.corpus.critic_mode == "rule" and config.corpus.teacher is None
    assert config.train.levels[0] == "R1" and len(config.train.levels) >= 2 and len(config.train.seeds) >= 2
    assert config.train_config().out_dir == config.out
    assert config.eval_config().run == "demo"


@pytest.mark.parametrize(("edit", "message"), [
    (lambda t: t.replace("critic_mode = ", "critic_mod = "), "corpus.critic_mod: Extra inputs are not permitted"),
    (lambda t: t.replace('name = "demo"', ""), "name: Field required"),
    (lambda t: t.replace('levels = ["R1", "R2", "R3"]', 'levels = ["R1", "R9"]'), "R9"),
    (lambda t: t.replace("max_tokens = 128", "max_tokenz = 128"), "max_tokenz: Extra inputs are not permitted"),
    (lambda t: t.replace('format = "jsonl"', 'format = "pdf"'), "inputs.0.format"),
    (lambda t: t.replace('format = "jsonl"', 'format = "csv"'), "a generated input set is written as JSONL"),
    (lambda t: t.replace('"small_equations"]', '"calculus"]'), "unknown families ['calculus']"),
    (lambda t: t.replace("count = 525", "count = 0"), "inputs.0.generate.count"),
    (lambda t: t.replace("seeds = [1, 2]", "seeds = [1, 1]"), "seeds repeat"),
    (lambda t: t + "\n[corpus.teacher]\nmodel = 'x'\n", "corpus.teacher.base_url: Field required"),
    (lambda t: t.replace("[split]", "[split"), "not valid TOML"),
])
def test_bad_configs_name_file_and_key(tmp_path: Path, edit, message):
    path = tmp_path / "study.toml"
    path.write_text(edit(DEMO.read_text()))
    with pytest.raises(StudyConfigError) as caught:
        load_study_config(path)
    assert str(path) in str(caught.value) and message in str(caught.value)


def test_a_missing_file(tmp_path: Path):
    with pytest.raises(StudyConfigError, match="no such config file"):
        load_study_config(tmp_path / "nope.toml")


def test_secrets_stay_in_the_environment(tmp_path: Path):
    path = tmp_path / "study.toml"
    path.write_text(DEMO.read_text() + '\n[corpus.teacher]\nbase_url = "https://api.deepseek.com"\n'
                    'model = "deepseek-reasoner"\napi_key = "sk-123"\n')
    with pytest.raises(StudyConfigError, match="corpus.teacher: Value error, api_key: a key never goes in a file; "
                                               "set api_key_env"):
        load_study_config(path)


def test_a_configured_teacher_also_compresses_and_is_the_evaluated_teacher(tmp_path: Path):
    teacher = ('\n[corpus.teacher]\nbase_url = "https://api.deepseek.com"\nmodel = "deepseek-reasoner"\n'
               'api_key_env = "DEEPSEEK_API_KEY"\n')
    path = tmp_path / "study.toml"
    path.write_text(DEMO.read_text() + teacher)
    config = load_study_config(path)
    assert config.levels.compressor == config.corpus.teacher == config.eval_config().teacher
    assert config.corpus.teacher.model == "deepseek-reasoner"
    path.write_text(DEMO.read_text().replace("[eval]", '[eval]\nteacher = { base_url = "http://localhost:8000/v1", '
                                             'model = "other" }') + teacher)
    assert load_study_config(path).eval_config().teacher.model == "other"
    assert load_study_config(DEMO).eval_config().teacher is None  # the local teacher throughout


def test_a_partial_local_sampling_table_keeps_the_local_defaults(tmp_path: Path):
    path = tmp_path / "study.toml"
    text = DEMO.read_text()
    corpus_sampling = "local_sampling = { temperature = 0.3, max_tokens = 160 }"
    assert text.count(corpus_sampling) == 2  # [corpus] first, then [levels]
    path.write_text(text.replace(corpus_sampling, "local_sampling = { temperature = 0.0 }", 1))
    config = load_study_config(path)
    assert (config.corpus.local_sampling.temperature, config.corpus.local_sampling.max_tokens) == (
        0.0, LOCAL_TEACHER_SAMPLING.max_tokens)
    assert config.levels.local_sampling.max_tokens == 160  # given in the demo's [levels]
    partial = LevelsConfig(local_sampling={"max_tokens": 64}).local_sampling
    assert (partial.temperature, partial.max_tokens) == (LOCAL_TEACHER_SAMPLING.temperature, 64)
