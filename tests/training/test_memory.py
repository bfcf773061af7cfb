"""Memory pre-flight: parameters counted, the estimate above the measured peak, a clear refusal."""

from __future__ import annotations

import pytest
from distill.models.mlx_runtime import load_mlx, load_mlx_model
from distill.training.config import TrainConfig
from distill.training.loop import add_lora
from distill.training.memory import InsufficientMemory, available_memory, check_fits, count_parameters, estimate_peak


def test_parameters_are_counted(tiny_model_dir):
    load_mlx()
    from mlx.utils import tree_flatten

    model, _ = load_mlx_model(tiny_model_dir)
    total, trainable, itemsize = count_parameters(model)
    assert total == sum(v.size for _, v in tree_flatten(model.parameters())) and itemsize == 4
    assert trainable == total  # nothing frozen yet
    add_lora(model, TrainConfig(lora={"rank": 4, "scale": 10.0, "dropout": 0.0}))
    total_lora, trainable_lora, _ = count_parameters(model)
    # 2 layers x (q, k, v, o, gate, up, down), each adapter rank 4: 4 x (inputs + outputs)
    hidden, mlp, kv = 64, 128, 32
    shapes = [(hidden, hidden), (hidden, kv), (hidden, kv), (hidden, hidden), (hidden, mlp), (hidden, mlp),
              (mlp, hidden)]
    assert trainable_lora == 2 * sum(4 * (i + o) for i, o in shapes)
    assert total_lora == total + trainable_lora


def test_refusal_names_the_estimate_and_what_to_change(tiny_model_dir):
    model, _ = load_mlx_model(tiny_model_dir)
    add_lora(model, TrainConfig())
    estimate = estimate_peak(model, batch_size=8, max_seq_length=512, available=(1024, "test"))
    with pytest.raises(InsufficientMemory, match=r"estimated peak .* available 0\.0 GiB \(test\). Lower batch_size "
                                                 r"\(now 8\) or max_seq_length \(now 512"):
        check_fits(estimate, batch_size=8, max_seq_length=512)
    check_fits(estimate_peak(model, batch_size=8, max_seq_length=512, available=(1 << 40, "test")), batch_size=8,
               max_seq_length=512)
    assert estimate_peak(model, batch_size=8, max_seq_length=512, grad_checkpoint=True,
                         available=(None, "")).activations < estimate.activations
    bigger = estimate_peak(model, batch_size=16, max_seq_length=1024, available=(None, ""))
    assert bigger.activations > 2 * estimate.activations and bigger.logits == 4 * estimate.logits


def test_available_memory_is_read():
    found, where = available_memory()
    assert found is None or found > 0
    assert where


@pytest.mark.real_models
def test_estimate_is_above_the_measured_peak_on_the_default_student(default_student, tmp_path):
    mx = load_mlx()
    from distill.training.data import BatchOrder
    from distill.training.loop import make_optimizer
    from mlx_lm.tuner.trainer import TrainingArgs, train

    model, _ = load_mlx_model(default_student)
    config = TrainConfig()
    add_lora(model, config)
    data = [(list(range(100, 100 + 128)), 20) for _ in range(2)]

    class Silent:
        def on_train_loss_report(self, info): ...
        def on_val_loss_report(self, info): ...

    mx.reset_peak_memory()
    train(model, make_optimizer(config), data, None, args=TrainingArgs(
        batch_size=2, iters=1, steps_per_report=1, steps_per_eval=10**9, steps_per_save=10**9, max_seq_length=128,
        adapter_file=str(tmp_path / "last.safetensors")), iterate_batches=BatchOrder(0), training_callback=Silent())
    peak = mx.get_peak_memory()
    estimate = estimate_peak(model, batch_size=2, max_seq_length=128, available=(None, ""))
    assert estimate.parameters == 134_515_008 + estimate.trainable  # SmolLM2-135M's own weights, plus LoRA
    assert peak <= estimate.total < 2 * peak
