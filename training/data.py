"""Exported JSONL -> token sequences for mlx-lm's trainer, the max sequence length, and a batch order that can
be resumed at any iteration.

Tokenisation is mlx-lm's own (`ChatDataset.process`: the chat template, and with `mask_prompt` the offset where
the assistant's answer starts), so training matches `mlx_lm lora` on the same files. Examples longer than the
max sequence length are cut at it: they are counted and reported, never cut silently; an example whose prompt
alone fills the max length has nothing left to learn from and is left out (also counted).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from distill.models.mlx_runtime import load_mlx

Example = tuple[list[int], int]  # (tokens, offset of the first trained token)
PAD_TO = 32  # mlx-lm pads each batch to one plus a multiple of 32 tokens


@dataclass(frozen=True)
class LengthStats:
    count: int
    p50: int
    p90: int
    p99: int
    max: int

    @classmethod
    def of(cls, lengths: Sequence[int]) -> LengthStats:
        if not lengths:
            return cls(0, 0, 0, 0, 0)
        values = np.asarray(lengths)
        return cls(len(values), *(int(np.percentile(values, q, method="higher")) for q in (50, 90, 99)),
                   int(values.max()))


@dataclass
class PreparedData:
    train: list[Example]
    valid: list[Example]
    max_seq_length: int
    lengths: dict[str, LengthStats]
    truncated: dict[str, int]  # examples cut at max_seq_length
    dropped: dict[str, int]  # examples left out: the prompt alone reaches max_seq_length

    def summary(self) -> str:
        parts = [f"max_seq_length {self.max_seq_length}"]
        for split, stats in self.lengths.items():
            parts.append(f"{split}: {stats.count} examples, tokens p50 {stats.p50} p90 {stats.p90} "
                         f"p99 {stats.p99} max {stats.max}; {self.truncated[split]} truncated, "
                         f"{self.dropped[split]} dropped")
        return "; ".join(parts)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def tokenize(rows: Sequence[dict[str, Any]], tokenizer, mask_prompt: bool) -> list[Example]:
    load_mlx()
    from mlx_lm.tuner.datasets import ChatDataset

    dataset = ChatDataset(list(rows), tokenizer, mask_prompt=mask_prompt)
    return [tuple(dataset.process(dataset[i])) for i in range(len(dataset))]


def choose_max_seq_length(lengths: Sequence[int], setting: int | str, cap: int) -> int:
    """'auto': the longest example (nothing is cut), at most `cap`; a number: that number."""
    if setting != "auto":
        return int(setting)
    return min(cap, max(lengths, default=1))


def prepare(folder: Path, tokenizer, *, mask_prompt: bool, max_seq_length: int | str, cap: int) -> PreparedData:
    """Tokenise train.jsonl and valid.jsonl of an export folder, and fix the max sequence length."""
    rows = {split: read_jsonl(Path(folder) / f"{split}.jsonl") for split in ("train", "valid")}
    return prepare_rows(rows, tokenizer, mask_prompt=mask_prompt, max_seq_length=max_seq_length, cap=cap)


def prepare_rows(rows: dict[str, Sequence[dict[str, Any]]], tokenizer, *, mask_prompt: bool,
                 max_seq_length: int | str, cap: int) -> PreparedData:
    """`prepare` on rows already read (the `train` and `valid` lines of an export)."""
    examples = {split: tokenize(rows[split], tokenizer, mask_prompt) for split in ("train", "valid")}
    lengths = {split: [len(tokens) for tokens, _ in items] for split, items in examples.items()}
    limit = choose_max_seq_length(lengths["train"] + lengths["valid"], max_seq_length, cap)
    kept = {split: [(t, o) for t, o in items if o < min(len(t), limit)] for split, items in examples.items()}
    return PreparedData(
        train=kept["train"], valid=kept["valid"], max_seq_length=limit,
        lengths={split: LengthStats.of(values) for split, values in lengths.items()},
        truncated={split: sum(1 for n in values if n > limit) for split, values in lengths.items()},
        dropped={split: len(examples[split]) - len(kept[split]) for split in examples})


class BatchOrder:
    """A drop-in for mlx-lm's `iterate_batches` that is deterministic and resumable.

    Examples are sorted by length and cut into batches (the remainder makes a last, smaller batch: every
    example is trained on). Training visits the batches in a fresh permutation each epoch, drawn from
    (seed, epoch) alone, so the batch at any iteration is known without replaying the ones before: a resume
    at iteration k starts with batch k. Validation (loop=False) takes the batches in order, unshuffled.

    In a communication group of N processes (`distill train --processes N`), `batch_size` stays the whole batch:
    every process makes the same batches in the same order and trains on its share of each, every N-th example
    from its rank on (mlx-lm's own split of a batch). A share may be empty (a last batch smaller than N): it is a
    batch without trained tokens."""

    def __init__(self, seed: int, start: int = 0):
        self.seed = seed
        self.start = start

    def __call__(self, dataset: Sequence[Example], batch_size: int, max_seq_length: int, loop: bool = False,
                 seed: int | None = None, comm_group: Any = None) -> Iterator[tuple[Any, Any]]:
        rank, size = (comm_group.rank(), comm_group.size()) if comm_group is not None else (0, 1)
        batches = [indices[rank::size] for indices in make_batches(dataset, batch_size)]
        if not loop:
            for indices in batches:
                yield collate([dataset[j] for j in indices], max_seq_length)
            return
        step = self.start
        while True:
            epoch, position = divmod(step, len(batches))
            order = np.random.default_rng((self.seed, epoch)).permutation(len(batches))
            for i in order[position:]:
                yield collate([dataset[j] for j in batches[i]], max_seq_length)
                step += 1


def make_batches(dataset: Sequence[Example], batch_size: int) -> list[list[int]]:
    if not dataset:
        raise ValueError("no examples to batch")
    order = sorted(range(len(dataset)), key=lambda j: (len(dataset[j][0]), j))
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def collate(items: Sequence[Example], max_seq_length: int) -> tuple[Any, Any]:
    """Pad like mlx-lm (to one plus a multiple of 32, at most max_seq_length); `(tokens, [[offset, length]])`.
    No items: one row of padding with nothing to train on (a process's empty share of a batch)."""
    mx = load_mlx()
    if not items:
        return mx.zeros((1, 2), mx.int32), mx.array([[0, 0]])
    lengths = [min(len(tokens), max_seq_length) for tokens, _ in items]
    width = min(1 + PAD_TO * ((max(lengths) + PAD_TO - 1) // PAD_TO), max_seq_length)
    array = np.zeros((len(items), width), np.int32)
    for row, ((tokens, _), length) in enumerate(zip(items, lengths, strict=True)):
        array[row, :length] = tokens[:length]
    return mx.array(array), mx.array([[offset, length] for (_, offset), length in zip(items, lengths, strict=True)])
