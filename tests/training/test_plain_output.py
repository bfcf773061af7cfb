"""Training written to a file or a pipe: mlx-lm's progress and loss lines without its forced ANSI colours."""

from __future__ import annotations

from distill.training.train import train_level


def test_training_to_a_pipe_prints_mlx_lm_lines_without_ansi_codes(toy_run, capsys, monkeypatch):
    for forcing in ("FORCE_COLOR", "TTY_COMPATIBLE"):
        monkeypatch.delenv(forcing, raising=False)
    train_level(toy_run.store, toy_run.run, "R1", toy_run.config(iters=3), log=print)
    out = capsys.readouterr().out
    assert "train_loss" in out and "train" in out.splitlines()[-1]  # mlx-lm's header and its progress bar
    assert "\x1b[" not in out
