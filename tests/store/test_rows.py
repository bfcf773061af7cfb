"""Every row model against the table the migrations create: its fields are columns, every column it leaves out
has a default, and a NOT NULL column is never an optional field."""

from __future__ import annotations

import dataclasses
import types
import typing

import pytest
from distill.store.rows import ROW_MODELS, AttemptRow, Row

# nullable in SQL only because an ALTER TABLE cannot add a NOT NULL column to rows already there
STRICTER_THAN_TABLE = {("level_attempts", "usable")}


def optional(hint: typing.Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in typing.get_args(hint)


@pytest.mark.parametrize("model", ROW_MODELS, ids=lambda m: m.__name__)
def test_row_model_matches_its_table(store, model: type[Row]):
    columns = {r["column_name"]: r for r in store.query(
        "SELECT column_name, is_nullable = 'YES' AS nullable, column_default FROM information_schema.columns "
        "WHERE table_name = ?", [model.TABLE])}
    hints = typing.get_type_hints(model)
    fields = [f.name for f in dataclasses.fields(model)]
    assert fields == list(model.columns())
    assert set(fields) <= set(columns), f"{model.TABLE} has no column(s) {sorted(set(fields) - set(columns))}"
    left_out = [c for c in columns if c not in fields and columns[c]["column_default"] is None]
    assert not left_out, f"{model.__name__} leaves out {left_out}, which have no default"
    for name in fields:
        if (model.TABLE, name) in STRICTER_THAN_TABLE:
            continue
        assert optional(hints[name]) == columns[name]["nullable"], f"{model.TABLE}.{name}: nullability differs"
    assert all(k in fields for k in model.KEY)
    assert (model.ON_CONFLICT == "append") == (not model.KEY)


def test_json_columns_round_trip():
    row = AttemptRow(call_key="k", run_name="r", problem_id="p", attempt=1, model="m", base_url="", params={"t": 0},
                     prompt_version="v", messages=[{"role": "user", "content": "é"}], status="ok", content=None,
                     reasoning=None, reasoning_source=None, answer="1", answer_method="boxed", answer_source=None)
    record = dict(zip(row.columns(), row.values(), strict=True))
    assert record["messages"] == '[{"role": "user", "content": "é"}]'
    assert AttemptRow.from_record({**record, "created_at": None}) == row


# the DuckDB types a model's declared type may be stored in (a str field may hold a JSON column's text)
STORED_AS = {"VARCHAR": {"VARCHAR"}, "BIGINT": {"INTEGER", "BIGINT"}, "DOUBLE": {"DOUBLE"}, "BOOLEAN": {"BOOLEAN"},
             "TIMESTAMP": {"TIMESTAMP"}, "JSON": {"JSON"}}


@pytest.mark.parametrize("model", ROW_MODELS, ids=lambda m: m.__name__)
def test_row_model_types_match_its_table(store, model: type[Row]):
    types_ = dict(store.cursor().execute("SELECT column_name, data_type FROM information_schema.columns "
                                         "WHERE table_name = ?", [model.TABLE]).fetchall())
    for name, declared in model.sql_types().items():
        allowed = STORED_AS[declared] | ({"JSON"} if declared == "VARCHAR" else set())
        assert types_[name] in allowed, f"{model.TABLE}.{name} is {types_[name]}, the model says {declared}"


def test_every_written_table_has_one_model():
    tables = [m.TABLE for m in ROW_MODELS]
    assert len(tables) == len(set(tables))
