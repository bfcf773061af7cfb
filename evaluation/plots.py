"""The report's figures (matplotlib, Agg backend: no display needed), each written as a PNG file."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from distill.evaluation.aggregate import LossCurve  # noqa: E402

COLOURS = {"base": "#7f7f7f", "teacher": "#1f77b4", "student": "#ff7f0e"}
LEVEL_SHADES = {"R1": "#a63603", "R2": "#d94801", "R3": "#f16913", "R4": "#fd8d3c", "R5": "#fdae6b", "R6": "#fdd0a2"}
DPI = 110


def model_colour(label: str) -> str:
    """Grey base, blue teacher, students in oranges from R1 (dark) to R6 (light)."""
    if label in COLOURS:
        return COLOURS[label]
    return LEVEL_SHADES.get(label.rsplit("/", 1)[-1], COLOURS["student"])


def short_label(row: dict[str, Any]) -> str:
    return row["level"] if row["kind"] == "student" and row.get("level") else row["label"]


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def _error_bars(rows: list[dict[str, Any]]) -> list[list[float]]:
    lower = [max(r["mean_accuracy"] - r["ci_low"], 0) for r in rows]
    upper = [max(r["ci_high"] - r["mean_accuracy"], 0) for r in rows]
    return [lower, upper]


def loss_curves_plot(curves: list[LossCurve], path: Path) -> Path | None:
    """Validation (solid) and train (faint) loss per level and seed; the kept (best) iteration starred."""
    curves = [c for c in curves if c.valid]
    if not curves:
        return None
    levels = sorted({(c.training_run, c.level) for c in curves})
    columns = min(3, len(levels))
    rows = (len(levels) + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.2 * rows), squeeze=False)
    for ax, (run, level) in zip(axes.flat, levels, strict=False):
        for index, curve in enumerate(c for c in curves if (c.training_run, c.level) == (run, level)):
            colour = f"C{index}"
            if curve.train:
                ax.plot(*zip(*curve.train, strict=True), color=colour, alpha=0.3, linewidth=1)
            ax.plot(*zip(*curve.valid, strict=True), color=colour, marker="o", markersize=3,
                    label=f"seed {curve.seed} val")
            if curve.best_iteration is not None and curve.best_val_loss is not None:
                ax.plot([curve.best_iteration], [curve.best_val_loss], marker="*", markersize=14, color=colour,
                        markeredgecolor="black", linestyle="none")
                ax.annotate(f"seed {curve.seed}: best {curve.best_iteration}",  # one line per seed, never on top
                            (curve.best_iteration, curve.best_val_loss), textcoords="offset points",
                            xytext=(6, 8 + 10 * index), fontsize=8, color=colour)
        ax.set_title(f"{run} {level}")
        ax.set_xlabel("iteration")
        ax.set_ylabel("loss")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(levels):]:
        ax.axis("off")
    fig.suptitle("LoRA losses (val: solid, train: faint; star: kept adapter)", fontsize=10)
    return _save(fig, path)


def accuracy_plot(models: list[dict[str, Any]], path: Path, title: str) -> Path | None:
    """Mean accuracy per model with its bootstrap 95% CI; students' seeds as dots."""
    if not models:
        return None
    fig, ax = plt.subplots(figsize=(max(4.5, 0.9 * len(models) + 2), 3.8))
    positions = range(len(models))
    ax.bar(positions, [r["mean_accuracy"] for r in models], yerr=_error_bars(models), capsize=4,
           color=[model_colour(r["label"]) for r in models], edgecolor="black", linewidth=0.5)
    for x, row in zip(positions, models, strict=True):
        ax.annotate(f"{100 * row['mean_accuracy']:.0f}%\nn={row['max_problems']}", (x, row["ci_high"]),
                    textcoords="offset points", xytext=(0, 4), ha="center", fontsize=8)
        for value in row.get("seed_accuracies") or []:
            ax.plot([x], [value], marker="o", markersize=3, color="black", alpha=0.6)
    ax.set_xticks(list(positions), [short_label(r) for r in models], rotation=0)
    ax.set_ylim(0, 1.15)
    ax.set_ylabel("accuracy")
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def accuracy_vs_words_plot(levels: list[dict[str, Any]], references: list[dict[str, Any]], path: Path,
                           title: str) -> Path | None:
    """Students R1..R6: accuracy (CI) against the mean words of their answers; base and teacher as lines."""
    if not levels:
        return None
    fig, ax = plt.subplots(figsize=(5.8, 4))
    by_run: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in levels:
        by_run[row["training_run"]].append(row)
    for index, (run, rows) in enumerate(sorted(by_run.items())):
        rows = sorted(rows, key=lambda r: r["level"])
        xs, ys = [r["mean_words"] for r in rows], [r["mean_accuracy"] for r in rows]
        ax.errorbar(xs, ys, yerr=_error_bars(rows), marker="o", capsize=3, color=f"C{index + 1}",
                    label=f"student {run}")
        for row in rows:
            ax.annotate(row["level"], (row["mean_words"], row["mean_accuracy"]), textcoords="offset points",
                        xytext=(5, 5), fontsize=8)
    for row in references:
        ax.axhline(row["mean_accuracy"], linestyle="--", color=COLOURS.get(row["kind"], "C3"), linewidth=1,
                   label=f"{row['label']} ({row['mean_words']:.0f} words)")
    ax.set_xlabel("mean words per answer")
    ax.set_ylabel("accuracy")
    ax.set_ylim(-0.05, 1.1)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def group_bars_plot(rows: list[dict[str, Any]], group_key: str, models: list[str], path: Path,
                    title: str) -> Path | None:
    """Accuracy per group (section or subject), one bar per model (mean over its seeds)."""
    if not rows:
        return None
    groups = sorted({str(r[group_key]) for r in rows})
    width = 0.8 / max(len(models), 1)
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(groups) + 2), 4))
    values = {(str(r[group_key]), r["label"]): r for r in rows}
    for index, label in enumerate(models):
        xs = [g + (index - (len(models) - 1) / 2) * width for g in range(len(groups))]
        heights = [values[(group, label)]["accuracy"] if (group, label) in values else 0 for group in groups]
        ax.bar(xs, heights, width, label=label, color=model_colour(label), edgecolor="black", linewidth=0.4)
    counts = {group: max(r["problems"] for r in rows if str(r[group_key]) == group) for group in groups}
    ax.set_xticks(range(len(groups)), [f"{g.replace('_', ' ')}\n(n={counts[g]})" for g in groups], fontsize=7)
    ax.set_ylim(0, 1.3)
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.set_ylabel("accuracy")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, ncol=min(4, len(models)), loc="upper center")
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)
