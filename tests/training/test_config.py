"""The training config: unknown keys are errors, TOML [train] table with CLI overrides, aligned schedules."""

from __future__ import annotations

import pytest
from distill.training.config import TrainConfig
from pydantic import ValidationError

from distill.config_files import ConfigError
from distill.stage_configs import load_stage


def load_train_config(path, flags=None):
    return load_stage("train", path, flags or {}).config


def test_unknown_keys_are_errors(tmp_path):
    with pytest.raises(ValidationError, match="learning_rte"):
        TrainConfig(learning_rte=1e-4)
    with pytest.raises(ValidationError, match="alpha"):
        TrainConfig(lora={"rank": 8, "alpha": 16})  # mlx-lm's LoRA takes scale, not alpha
    path = tmp_path / "train.toml"
    path.write_text("[train]\niters = 10\nbatchsize = 2\n")
    with pytest.raises(ConfigError, match=f"{path}: train.batchsize: Extra inputs"):
        load_train_config(path)


def test_toml_with_overrides_on_top(tmp_path):
    path = tmp_path / "train.toml"
    path.write_text('[train]\niters = 300\nseeds = [7, 8]\nlearning_rate = 2e-5\nmax_seq_length = 512\n'
                    '[train.lora]\nrank = 16\nscale = 10.0\n')
    config = load_train_config(path, {"iters": 50, "seeds": None, "lora": {"dropout": 0.05}})
    assert (config.iters, config.seeds, config.learning_rate, config.max_seq_length) == (50, [7, 8], 2e-5, 512)
    assert (config.lora.rank, config.lora.scale, config.lora.dropout) == (16, 10.0, 0.05)
    assert config.lora.mlx() == {"rank": 16, "scale": 10.0, "dropout": 0.05}
    assert load_train_config(None).mask_prompt is True  # prompt masking on by default


@pytest.mark.parametrize(("values", "message"), [
    ({"steps_per_eval": 25, "steps_per_report": 10}, "multiple of steps_per_report"),
    ({"steps_per_eval": 10, "steps_per_report": 5, "grad_accumulation_steps": 4}, "multiple of grad_accumulation"),
    ({"seeds": [1, 1]}, "seeds repeat"),
    ({"seeds": []}, "at least 1"),
    ({"max_seq_length": "longest"}, "auto"),
])
def test_invalid_settings(values, message):
    with pytest.raises(ValidationError, match=message):
        TrainConfig(**values)


def test_identity_leaves_out_what_a_resume_may_change():
    base = TrainConfig()
    assert TrainConfig(iters=5000, patience=None, seeds=[9]).identity() == base.identity()
    assert TrainConfig(learning_rate=1e-4).identity() != base.identity()
