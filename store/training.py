"""Reads and writes of the training tables (migration 0004): split sets, contamination, exports, training runs
and their losses. No MLX here: `training/` composes these with the trainer."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from distill.store.db import Store, StoreError
from distill.store.rows_training import (
    ContaminationRow,
    ExportRow,
    SplitRow,
    SplitSetRow,
    TrainingLossRow,
    TrainingRunRow,
)
from distill.store.writer import insert, insert_returning

LEVELS = ("R1", "R2", "R3", "R4", "R5", "R6")


# -- the run's problems ----------------------------------------------------------------------------------
def run_sources(store: Store, run_name: str) -> list[str]:
    """The sources of the problems a corpus run touched (outcomes, corpus or levels rows), plus the source
    its configuration named, if any."""
    rows = store.query(
        """
        WITH touched AS (
            SELECT problem_id FROM problem_outcomes WHERE run_name = $run
            UNION SELECT problem_id FROM corpus WHERE run_name = $run
            UNION SELECT problem_id FROM levels WHERE run_name = $run
        )
        SELECT DISTINCT p.source FROM problems p JOIN touched USING (problem_id)
        UNION
        SELECT json_extract_string(manifest, '$.config.source') FROM runs
        WHERE run_name = $run AND json_extract_string(manifest, '$.config.source') IS NOT NULL
        """, {"run": run_name})  # type: ignore[arg-type]
    return sorted(r["source"] for r in rows)


def split_universe(store: Store, run_name: str, sources: Sequence[str]) -> list[dict[str, Any]]:
    """Every active problem of `sources`, with whether the run has training text for it (a corpus row or an
    ok levels row) and the levels it has text at (`text_levels`; a corpus row is R1)."""
    return store.query(
        """
        SELECT p.problem_id, p.source, p.section, p.subject, p.duplicate_of, p.ingest_order, p.question,
               (c.problem_id IS NOT NULL OR l.problem_id IS NOT NULL) AS has_text,
               list_distinct(list_concat(CASE WHEN c.problem_id IS NULL THEN [] ELSE ['R1'] END,
                                         coalesce(l.levels, []))) AS text_levels
        FROM active_problems p
        LEFT JOIN corpus c ON c.run_name = $run AND c.problem_id = p.problem_id
        LEFT JOIN (SELECT problem_id, list(DISTINCT level) AS levels FROM levels
                   WHERE run_name = $run AND status = 'ok' GROUP BY problem_id) l
               ON l.problem_id = p.problem_id
        WHERE list_contains($sources, p.source)
        ORDER BY p.ingest_order
        """, {"run": run_name, "sources": list(sources)})  # type: ignore[arg-type]


def math500_questions(store: Store) -> dict[str, str]:
    """Questions of every active problem from a source ingested with format math500."""
    rows = store.query("SELECT p.problem_id, p.question FROM active_problems p JOIN sources s ON s.name = p.source "
                       "WHERE s.format = 'math500'")
    return {r["problem_id"]: r["question"] for r in rows}


# -- split sets ------------------------------------------------------------------------------------------
def split_set(store: Store, run_name: str, split_seed: int) -> dict[str, Any] | None:
    rows = store.query("SELECT * FROM split_sets WHERE run_name = ? AND split_seed = ?", [run_name, split_seed])
    return rows[0] if rows else None


def split_rows(store: Store, run_name: str, split_seed: int) -> list[dict[str, Any]]:
    return store.query("SELECT * FROM splits WHERE run_name = ? AND split_seed = ? ORDER BY problem_id",
                       [run_name, split_seed])


def save_split(store: Store, run_name: str, split_seed: int, *, valid: float, test: float, sources: Sequence[str],
               rows: Sequence[dict[str, Any]], leaks: Sequence[dict[str, Any]]) -> None:
    """Replace the split set (run, seed): its rows, its counts and its contamination rows, in one transaction."""
    counts = {name: sum(1 for r in rows if r["split"] == name) for name in ("train", "valid", "test", "unused")}
    with store.transaction() as tx:
        existed = tx.execute("DELETE FROM split_sets WHERE run_name = ? AND split_seed = ? RETURNING created_at",
                             [run_name, split_seed]).fetchall()
        tx.execute("DELETE FROM splits WHERE run_name = ? AND split_seed = ?", [run_name, split_seed])
        insert(tx, *(SplitRow(run_name=run_name, split_seed=split_seed, **r) for r in rows))
        insert(tx, SplitSetRow(run_name=run_name, split_seed=split_seed, valid_fraction=valid, test_fraction=test,
                               sources=list(sources), counts=counts, leaks=len(leaks)))
        if existed:  # a redone split set keeps when it was first made
            tx.execute("UPDATE split_sets SET created_at = ?, updated_at = current_timestamp WHERE run_name = ? "
                       "AND split_seed = ?", [existed[0][0], run_name, split_seed])
        _replace_contamination(tx, run_name, split_seed, leaks)


def replace_contamination(store: Store, run_name: str, split_seed: int, leaks: Sequence[dict[str, Any]]) -> None:
    with store.transaction() as tx:
        _replace_contamination(tx, run_name, split_seed, leaks)
        tx.execute("UPDATE split_sets SET leaks = ? WHERE run_name = ? AND split_seed = ?",
                   [len(leaks), run_name, split_seed])


def _replace_contamination(tx, run_name: str, split_seed: int, leaks: Sequence[dict[str, Any]]) -> None:
    tx.execute("DELETE FROM contamination WHERE run_name = ? AND split_seed = ?", [run_name, split_seed])
    insert(tx, *(ContaminationRow(run_name=run_name, split_seed=split_seed, **leak) for leak in leaks))


# -- training text ---------------------------------------------------------------------------------------
def level_texts(store: Store, run_name: str, level: str) -> tuple[str, dict[str, dict[str, str]]]:
    """`(text_source, {problem_id: {question, reasoning, answer}})` for a run at a level.

    The `levels` table (status 'ok') when it has rows for this run and level. Until the levels stage has run,
    level R1 (the accepted reasoning itself) falls back to the `corpus` table's reasoning and answer."""
    if level not in LEVELS:
        raise StoreError(f"unknown level {level!r}: one of {', '.join(LEVELS)}")
    has_levels = store.scalar("SELECT count(*) FROM levels WHERE run_name = ? AND level = ?", [run_name, level])
    if has_levels:
        rows = store.query(
            "SELECT l.problem_id, p.question, l.text AS reasoning, l.answer FROM levels l "
            "JOIN problems p USING (problem_id) WHERE l.run_name = ? AND l.level = ? AND l.status = 'ok'",
            [run_name, level])
        source = "levels"
    elif level == "R1":
        rows = store.query(
            "SELECT c.problem_id, p.question, c.reasoning, c.answer FROM corpus c JOIN problems p USING (problem_id) "
            "WHERE c.run_name = ?", [run_name])
        source = "corpus"
    else:
        raise StoreError(f"run {run_name!r} has no level {level} rows yet: build the levels first (R1 alone can "
                         "come straight from the corpus)")
    return source, {r["problem_id"]: r for r in rows}


# -- exports ---------------------------------------------------------------------------------------------
def record_export(store: Store, row: ExportRow) -> int:
    return int(insert_returning(store.cursor(), row, "export_id"))


def latest_export(store: Store, run_name: str, split_seed: int, level: str) -> dict[str, Any] | None:
    rows = store.query("SELECT * FROM exports WHERE run_name = ? AND split_seed = ? AND level = ? "
                       "ORDER BY export_id DESC LIMIT 1", [run_name, split_seed, level])
    return _decoded(rows[0], "files", "missing_text") if rows else None


def export_by_id(store: Store, export_id: int) -> dict[str, Any]:
    rows = store.query("SELECT * FROM exports WHERE export_id = ?", [export_id])
    if not rows:
        raise StoreError(f"no export {export_id}")
    return _decoded(rows[0], "files", "missing_text")


# -- training runs ---------------------------------------------------------------------------------------
def training_run(store: Store, run_name: str, level: str, split_seed: int, seed: int) -> dict[str, Any] | None:
    rows = store.query("SELECT * FROM training_runs WHERE run_name = ? AND level = ? AND split_seed = ? AND seed = ?",
                       [run_name, level, split_seed, seed])
    return _decoded(rows[0], "config", "manifest") if rows else None


def create_training_run(store: Store, row: TrainingRunRow) -> int:
    return int(insert_returning(store.cursor(), row, "training_id"))


def delete_training_run(store: Store, training_id: int) -> None:
    with store.transaction() as tx:
        tx.execute("DELETE FROM training_losses WHERE training_id = ?", [training_id])
        tx.execute("DELETE FROM training_runs WHERE training_id = ?", [training_id])


def update_training_run(store: Store, training_id: int, **fields: Any) -> None:
    if "manifest" in fields or "config" in fields:
        fields = {k: json.dumps(v, default=str) if k in ("manifest", "config") else v for k, v in fields.items()}
    sets = ", ".join(f"{k} = ?" for k in fields)
    store.cursor().execute(f"UPDATE training_runs SET {sets}, updated_at = current_timestamp WHERE training_id = ?",
                           [*fields.values(), training_id])


def record_progress(store: Store, training_id: int, losses: Sequence[dict[str, Any]], **fields: Any) -> None:
    """Losses (replacing any at the same iterations) and run fields, in one transaction."""
    with store.transaction() as tx:
        for split in {row["split"] for row in losses}:
            iterations = [row["iteration"] for row in losses if row["split"] == split]
            tx.execute("DELETE FROM training_losses WHERE training_id = ? AND split = ? AND "
                       "list_contains(?, iteration)", [training_id, split, iterations])
        insert(tx, *(TrainingLossRow(training_id=training_id, **row) for row in losses))
        if fields:
            sets = ", ".join(f"{k} = ?" for k in fields)
            tx.execute(f"UPDATE training_runs SET {sets}, updated_at = current_timestamp WHERE training_id = ?",
                       [*fields.values(), training_id])


def forget_losses_after(store: Store, training_id: int, iteration: int) -> int:
    """Drop losses recorded after `iteration` (the checkpoint a resume starts from); returns how many."""
    deleted = store.cursor().execute("DELETE FROM training_losses WHERE training_id = ? AND iteration > ? "
                                     "RETURNING iteration", [training_id, iteration]).fetchall()
    return len(deleted)


def losses(store: Store, training_id: int, split: str | None = None) -> list[dict[str, Any]]:
    where, params = ("AND split = ?", [training_id, split]) if split else ("", [training_id])
    return store.query(f"SELECT * FROM training_losses WHERE training_id = ? {where} ORDER BY split, iteration",
                       params)


def find_adapter(store: Store, run_name: str, level: str, seed: int, split_seed: int = 0) -> dict[str, Any] | None:
    """The kept adapter of (run, level, seed) for evaluation: `{model, adapter_dir, best_iteration, ...}`."""
    rows = store.query("SELECT * FROM adapters WHERE run_name = ? AND level = ? AND seed = ? AND split_seed = ?",
                       [run_name, level, seed, split_seed])
    return rows[0] if rows else None


def test_problem_ids(store: Store, run_name: str, split_seed: int = 0, *, representatives_only: bool = False
                     ) -> list[str]:
    """The held-out problems of a split set (all of them, whether or not the teacher solved them)."""
    extra = "AND representative" if representatives_only else ""
    return [r["problem_id"] for r in store.query(
        f"SELECT problem_id FROM splits WHERE run_name = ? AND split_seed = ? AND split = 'test' {extra} "
        "ORDER BY problem_id", [run_name, split_seed])]


def _decoded(row: dict[str, Any], *columns: str) -> dict[str, Any]:
    return {**row, **{c: json.loads(row[c]) if isinstance(row[c], str) else row[c] for c in columns}}
