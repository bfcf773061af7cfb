"""`distill report`: the study's tables and plots, regenerated from the store every time, as Markdown (PNG files
beside it) and one self-contained HTML page (the same PNGs embedded as base64)."""

from __future__ import annotations

import base64
import datetime as dt
import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distill.evaluation import aggregate, paired, plots
from distill.store import Store, StoreError
from distill.store.manifest import git_sha

METHOD = (
    "Each answer's final answer is extracted (`\\boxed{}`, `Answer:` lines, a closing expression) and checked by the "
    "rule (math-verify with distill's normalisation); an LLM judge, when one was given, is asked only where the rule "
    "is undecided. Final outcome: the rule when it decided, else the judge, else *undecided*. Answers cut at the "
    "token limit are *truncated* and not graded. Accuracy = correct / problems answered: undecided and truncated "
    "answers count as not correct and are shown apart. Mean ± sample standard deviation (ddof 1) across training "
    f"seeds; 95% CI: percentile bootstrap over problems, {aggregate.RESAMPLES:,} resamples, "
    f"numpy `default_rng({aggregate.SEED})`.")

PAIRED_METHOD = (
    "Each model is compared with its reference on the same problems: students and the teacher against the base, "
    "each student level against R1 of the same seed. Only model / only reference: the problems one got right and "
    "the other not; over seeds, the problems whose mean correctness across the student's seeds is higher for one "
    "(each problem counted once). p: exact two-sided McNemar test on those discordant problems (over seeds, the "
    "sign test it becomes). 95% CI of the difference: paired percentile bootstrap over problems, "
    f"{paired.RESAMPLES:,} resamples. Gap closed: (student - base) / (teacher - base).")


@dataclass
class Table:
    columns: list[str]
    rows: list[list[Any]]

    def markdown(self) -> str:
        lines = ["| " + " | ".join(self.columns) + " |", "|" + "---|" * len(self.columns)]
        lines += ["| " + " | ".join(_cell(v).replace("|", "\\|") for v in row) + " |" for row in self.rows]
        return "\n".join(lines)

    def html(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>"
                       for row in self.rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


@dataclass
class Report:
    title: str
    blocks: list[tuple[str, Any]] = field(default_factory=list)
    images: list[Path] = field(default_factory=list)

    def add(self, kind: str, value: Any) -> None:
        if value is not None:
            self.blocks.append((kind, value))
            if kind == "img":
                self.images.append(value)

    def markdown(self) -> str:
        parts = [f"# {self.title}"]
        for kind, value in self.blocks:
            parts.append({"h2": lambda v: f"## {v}", "h3": lambda v: f"### {v}", "p": str,
                          "table": lambda v: v.markdown(), "img": lambda v: f"![{v.stem}]({v.name})"}[kind](value))
        return "\n\n".join(parts) + "\n"

    def html(self) -> str:
        parts = []
        for kind, value in self.blocks:
            if kind in ("h2", "h3"):
                parts.append(f"<{kind}>{html.escape(value)}</{kind}>")
            elif kind == "p":
                parts.append(f"<p>{html.escape(value)}</p>")
            elif kind == "table":
                parts.append(value.html())
            else:
                data = base64.b64encode(value.read_bytes()).decode()
                parts.append(f'<figure><img alt="{value.stem}" src="data:image/png;base64,{data}">'
                             f"<figcaption>{html.escape(value.name)}</figcaption></figure>")
        style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
                 "table{border-collapse:collapse;margin:1em 0;font-size:14px}"
                 "th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f3f3f3}"
                 "td:first-child,th:first-child{text-align:left}img{max-width:100%}figure{margin:1em 0}")
        return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(self.title)}</title>"
                f"<style>{style}</style></head><body><h1>{html.escape(self.title)}</h1>{''.join(parts)}</body></html>\n")


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def ci(row: dict[str, Any]) -> str:
    return f"[{pct(row['ci_low'])}, {pct(row['ci_high'])}]"


def model_table(models: list[dict[str, Any]]) -> Table:
    return Table(["model", "seeds", "problems", "accuracy %", "± std", "95% CI", "undecided (all seeds)",
                  "truncated (all seeds)", "mean words", "mean tokens"],
                 [[r["label"], r["seeds"], r["max_problems"], pct(r["mean_accuracy"]), pct(r["std_accuracy"]), ci(r),
                   r["undecided"], r["truncated"], r["mean_words"], r["mean_tokens"]] for r in models])


def level_table(levels: list[dict[str, Any]]) -> Table:
    return Table(["student", "level", "seeds", "accuracy %", "± std", "95% CI", "answer words", "answer tokens",
                  "training words"],
                 [[r["training_run"], r["level"], r["seeds"], pct(r["mean_accuracy"]), pct(r["std_accuracy"]), ci(r),
                   r["mean_words"], r["mean_tokens"], r["train_words"]] for r in levels])


def seed_table(rows: list[dict[str, Any]]) -> Table:
    return Table(["model", "seed", "problems", "correct", "incorrect", "undecided", "truncated", "judged",
                  "accuracy %", "mean words", "mean tokens"],
                 [[r["label"], r["seed"], r["problems"], r["correct"], r["incorrect"], r["undecided"], r["truncated"],
                   r["judged"], pct(r["accuracy"]), r["mean_words"], r["mean_tokens"]] for r in rows])


def paired_table(rows: list[dict[str, Any]]) -> Table:
    return Table(["model", "reference", "seed", "problems", "both right", "both wrong", "only model",
                  "only reference", "difference pp", "95% CI (paired bootstrap)", "p (exact McNemar)",
                  "teacher-base gap closed"],
                 [[r["label"], r["reference"], "over seeds" if r["seed"] is None else r["seed"], r["problems"],
                   r["both_right"], r["both_wrong"], r["model_better"], r["reference_better"],
                   f"{100 * r['difference']:+.1f}", f"[{100 * r['ci_low']:+.1f}, {100 * r['ci_high']:+.1f}]",
                   paired.format_p(r["p_value"]),
                   "–" if r["gap_closed"] is None else f"{100 * r['gap_closed']:.0f}%"] for r in rows])


def headlines(rows: list[dict[str, Any]]) -> list[str]:
    """The paired comparisons that answer the study's question: every student (over seeds) against the base."""
    return [paired.headline(r) for r in rows if r["kind"] == "student" and r["reference"] == "base"
            and r["seed"] is None]


def _split_section(report: Report, store: Store, run: str, split: str, out: Path) -> None:
    models = aggregate.per_model(store, run, split)
    levels = aggregate.per_level(store, models)
    problems = max((r["max_problems"] for r in models), default=0)
    name = "held-out test split" if split == "test" else "MATH-500 sample"
    report.add("h2", f"{name} ({split}, {problems} problems)")
    report.add("h3", "Accuracy: base vs teacher vs student")
    report.add("table", model_table(models))
    comparisons = paired.comparisons(store, run, split)
    if comparisons:
        report.add("h3", "Paired comparisons on the same problems (view eval_paired)")
        for line in headlines(comparisons):
            report.add("p", line)
        report.add("p", PAIRED_METHOD)
        report.add("table", paired_table(comparisons))
    report.add("img", plots.accuracy_plot(models, out / f"accuracy-{split}.png",
                                          f"{run} {split}: accuracy with bootstrap 95% CI"))
    if levels:
        report.add("h3", "Students by reasoning level: accuracy and length")
        report.add("table", level_table(levels))
        references = [r for r in models if not (r["kind"] == "student" and r["level"])]  # endpoint students too
        report.add("img", plots.accuracy_vs_words_plot(levels, references, out / f"accuracy-vs-words-{split}.png",
                                                       f"{run} {split}: accuracy against answer length"))
    report.add("h3", "Per model and seed (view eval_accuracy)")
    report.add("table", seed_table(aggregate.per_seed(store, run, split)))
    labels = [r["label"] for r in models]
    sections = aggregate.by_section(store, run, split)
    if any(r["section"] for r in sections):
        report.add("h3", "By section and year")
        report.add("table", Table(["source", "year", "section", "model", "problems", "accuracy %", "truncated",
                                   "undecided"],
                                  [[r["source"], r["year"], r["section"], r["label"], r["problems"], pct(r["accuracy"]),
                                    r["truncated"], r["undecided"]] for r in sections]))
        report.add("img", plots.group_bars_plot(aggregate.accuracy_by(store, run, split, "section"), "section", labels,
                                                out / f"sections-{split}.png", f"{run} {split}: accuracy by section"))
    subjects = aggregate.by_subject(store, run, split)
    if subjects:
        report.add("h3", "By subject and level")
        report.add("table", Table(["subject", "level", "model", "problems", "accuracy %", "truncated", "undecided"],
                                  [[r["subject"], r["difficulty"], r["label"], r["problems"], pct(r["accuracy"]),
                                    r["truncated"], r["undecided"]] for r in subjects]))
        report.add("img", plots.group_bars_plot(aggregate.accuracy_by(store, run, split, "subject"), "subject",
                                                labels, out / f"subjects-{split}.png",
                                                f"{run} {split}: accuracy by subject"))
    report.add("h3", "Grading")
    report.add("table", Table(["model", "answers", "decided by rule", "decided by judge", "undecided", "truncated"],
                              [[r["label"], r["answers"], r["rule"], r["judge"], r["undecided"], r["truncated"]]
                               for r in aggregate.grading(store, run, split)]))
    open_items = aggregate.disagreements(store, run, split)
    report.add("p", f"{len(open_items)} answer(s) in view grading_disagreements (rule vs judge, judge-decided, "
                    "undecided)" + (":" if open_items else "."))
    if open_items:
        report.add("table", Table(["kind", "model", "seed", "problem", "gold", "answer", "rule", "judge", "reason"],
                                  [[r["kind"], r["label"], r["seed"], r["problem_id"], r["gold"], r["answer"],
                                    r["rule_verdict"], r["judge_verdict"], r["judge_reason"] or r["rule_reason"]]
                                   for r in open_items[:40]]))


def _training_section(report: Report, store: Store, run: str, out: Path) -> None:
    training_runs = sorted({r["training_run"] for r in store.query(
        "SELECT DISTINCT training_run FROM evaluations WHERE run_name = ? AND training_run IS NOT NULL", [run])}
        | {run})
    curves = aggregate.loss_curves(store, training_runs)
    if not curves:
        return
    report.add("h2", "Training: LoRA losses and the kept adapters")
    report.add("table", Table(["run", "level", "seed", "kept (best) iteration", "best val loss", "val evaluations"],
                              [[c.training_run, c.level, c.seed, c.best_iteration,
                                None if c.best_val_loss is None else f"{c.best_val_loss:.4f}", len(c.valid)]
                               for c in curves]))
    report.add("img", plots.loss_curves_plot(curves, out / "loss-curves.png"))


def build_report(store: Store, run: str, out_dir: Path | str) -> Report:
    """Write OUT_DIR/report.md, OUT_DIR/report.html and the PNGs for `run`; returns the report."""
    splits = aggregate.splits_of(store, run)
    if not splits:
        raise StoreError(f"run {run!r} has no evaluated answers: run `distill eval --run {run}` first")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = Report(f"distill report: run {run}")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    report.add("p", f"Generated {stamp} from {store.path} (distill git {git_sha() or 'unknown'}); every number "
                    "is computed from the store when the report is made.")
    report.add("p", METHOD)
    for split in splits:
        _split_section(report, store, run, split, out)
    _training_section(report, store, run, out)
    (out / "report.md").write_text(report.markdown(), encoding="utf-8")
    (out / "report.html").write_text(report.html(), encoding="utf-8")
    return report
