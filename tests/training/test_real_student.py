"""The default student (SmolLM2-135M, float32 MLX): a short LoRA training through the product path, and the kept
adapter loads for generation with mlx_lm.load(model, adapter_path=...)."""

from __future__ import annotations

import pytest
from distill.models.mlx_runtime import load_mlx
from distill.store import training as db
from distill.training.train import train_level


@pytest.mark.real_models
def test_default_student_trains_and_its_adapter_generates(toy_run, default_student):
    config = toy_run.config(model="student", iters=4, steps_per_report=2, steps_per_eval=2, batch_size=2,
                            learning_rate=1e-4)
    [outcome] = train_level(toy_run.store, toy_run.run, "R1", config, log=print)
    assert outcome.status == "finished" and outcome.last_iteration == 4
    vals = db.losses(toy_run.store, outcome.training_id, "valid")
    assert [r["iteration"] for r in vals] == [0, 2, 4]
    assert vals[-1]["loss"] < vals[0]["loss"]  # 4 steps at 1e-4 already fit the toy format better
    row = db.find_adapter(toy_run.store, toy_run.run, "R1", 1)
    assert row["model"] == str(default_student)
    load_mlx()
    from distill.agents.student import student_messages
    from mlx_lm import generate, load
    from mlx_lm.sample_utils import make_sampler

    model, tokenizer = load(row["model"], adapter_path=row["adapter_dir"])
    prompt = tokenizer.apply_chat_template(student_messages("What is 12 plus 30 ?"), add_generation_prompt=True)
    text = generate(model, tokenizer, prompt, max_tokens=12, sampler=make_sampler(temp=0.0))
    assert isinstance(text, str) and text.strip()
