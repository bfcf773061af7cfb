"""Leak-free train/valid/test splits of a corpus run, by problem.

- **Universe**: every active problem (placeholders never) of the run's sources, i.e. the sources of the
  problems the corpus run touched. The **test** split is drawn from all of them, including problems the teacher
  abstained on: a test set of only the problems the teacher solved would be biased toward easy ones.
- **train/valid** hold only problems with training text (a corpus row, or an ok levels row); valid is a
  fraction of the problems with text outside test. Problems neither in test nor with text are 'unused'.
- **Duplicate clusters** (`duplicate_of` -> first occurrence) are one unit: every member lands in the same split,
  including duplicates the corpus did not build.
- **Stratified** by source and section (subject where there is no section): each stratum's quota is its share
  of the total (largest-remainder rounding), filled with clusters in a seeded hash order. The order depends
  only on (split seed, cluster), so the test set does not change when the corpus grows, and training seeds
  never change the split.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from distill.store import Store, StoreError
from distill.store import training as db
from distill.training.config import SplitConfig
from distill.training.contamination import Leak, find_leaks

DEFAULT = SplitConfig()  # the defaults of `valid` and `test` live in the model


@dataclass
class Cluster:
    cluster_id: str
    members: list[dict[str, Any]] = field(default_factory=list)

    @property
    def stratum(self) -> str:
        first = self.members[0]
        return f"{first['source']}/{first['section'] or first['subject'] or '-'}"

    @property
    def size(self) -> int:
        return len(self.members)

    @property
    def text_members(self) -> int:
        return sum(1 for m in self.members if m["has_text"])


@dataclass
class SplitResult:
    run_name: str
    split_seed: int
    sources: list[str]
    rows: list[dict[str, Any]]
    leaks: list[Leak]
    replaced: bool = False

    def ids(self, split: str) -> list[str]:
        return [r["problem_id"] for r in self.rows if r["split"] == split]

    @property
    def counts(self) -> dict[str, int]:
        return {name: len(self.ids(name)) for name in ("train", "valid", "test", "unused")}


def clusters_of(problems: Sequence[dict[str, Any]]) -> list[Cluster]:
    """Problems grouped by first occurrence; members in ingest order (the first is the representative)."""
    groups: dict[str, Cluster] = {}
    for problem in sorted(problems, key=lambda p: p["ingest_order"]):
        cid = problem["duplicate_of"] or problem["problem_id"]
        groups.setdefault(cid, Cluster(cid)).members.append(problem)
    return list(groups.values())


def apportion(total: int, weights: dict[str, int]) -> dict[str, int]:
    """Split `total` over keys in proportion to `weights` (largest remainder; ties by key)."""
    mass = sum(weights.values())
    if mass == 0 or total == 0:
        return dict.fromkeys(weights, 0)
    exact = {k: total * w / mass for k, w in weights.items()}
    quota = {k: math.floor(v) for k, v in exact.items()}
    for k in sorted(exact, key=lambda k: (-(exact[k] - quota[k]), k))[:total - sum(quota.values())]:
        quota[k] += 1
    return quota


def target(fraction: float, count: int) -> int:
    """How many of `count` a fraction takes: rounded, but at least one when the fraction is positive and
    there are at least two to choose from (so a small set still gets a test or valid problem)."""
    if fraction <= 0 or count == 0:
        return 0
    return max(1 if count >= 2 else 0, round(fraction * count))


def order_key(split_seed: int, cluster_id: str) -> str:
    return hashlib.sha256(f"{split_seed}:{cluster_id}".encode()).hexdigest()


def assign_splits(problems: Sequence[dict[str, Any]], split_seed: int, valid: float, test: float
                  ) -> list[dict[str, Any]]:
    """One row per problem: {problem_id, split, cluster_id, representative, stratum, has_text}."""
    if not (0 <= valid < 1 and 0 <= test < 1 and valid + test < 1):
        raise ValueError(f"valid ({valid}) and test ({test}) must be fractions in [0, 1) with a sum below 1")
    clusters = sorted(clusters_of(problems), key=lambda c: order_key(split_seed, c.cluster_id))
    by_stratum: dict[str, list[Cluster]] = defaultdict(list)
    for cluster in clusters:
        by_stratum[cluster.stratum].append(cluster)
    split_of: dict[str, str] = {}

    def fill(name: str, fraction: float, eligible, weight) -> None:
        sizes = {s: sum(weight(c) for c in cs if eligible(c)) for s, cs in by_stratum.items()}
        quotas = apportion(target(fraction, sum(sizes.values())), sizes)
        for stratum, members in by_stratum.items():
            taken = 0
            for cluster in members:
                if taken >= quotas[stratum]:
                    break
                if eligible(cluster):
                    split_of[cluster.cluster_id] = name
                    taken += weight(cluster)

    fill("test", test, lambda c: True, lambda c: c.size)
    trainable = lambda c: c.cluster_id not in split_of and c.text_members > 0  # noqa: E731
    fill("valid", valid, trainable, lambda c: c.text_members)
    _valid_at_every_level(clusters, split_of)
    for cluster in clusters:
        split_of.setdefault(cluster.cluster_id, "train" if cluster.text_members else "unused")
    rows = []
    for cluster in clusters:
        for i, member in enumerate(cluster.members):
            rows.append({"problem_id": member["problem_id"], "split": split_of[cluster.cluster_id],
                         "cluster_id": cluster.cluster_id, "representative": i == 0, "stratum": cluster.stratum,
                         "has_text": bool(member["has_text"])})
    return sorted(rows, key=lambda r: r["problem_id"])


def held_out_test_ids(store: Store, sources: Sequence[str], split_seed: int, test: float) -> set[str]:
    """The problems of `sources` that the split (seed, test fraction) will put in test, known before any corpus
    exists: the test draw depends only on the active problems, the seed and the fraction. A study builds its
    corpus without them, so no teacher call goes to a problem that is never trained on."""
    universe = [dict(p, has_text=False) for p in db.split_universe(store, "", sources)]
    return {r["problem_id"] for r in assign_splits(universe, split_seed, 0.0, test) if r["split"] == "test"}


def _valid_at_every_level(clusters: Sequence[Cluster], split_of: dict[str, str]) -> None:
    """A level with text on too few problems (a compressor that shortened a dozen rows) may have none in valid,
    and then no best-validation adapter: such a level gets the first of its clusters (seeded hash order) that is
    not in test, when it has at least two (one stays to train on). The test split never moves."""
    def levels_of(cluster: Cluster) -> set[str]:
        return {level for m in cluster.members for level in (m.get("text_levels") or ())}

    for level in sorted({level for c in clusters for level in levels_of(c)}):
        having = [c for c in clusters if level in levels_of(c) and split_of.get(c.cluster_id) != "test"]
        if len(having) >= 2 and not any(split_of.get(c.cluster_id) == "valid" for c in having):
            split_of[having[0].cluster_id] = "valid"


def check_contamination(store: Store, rows: Sequence[dict[str, Any]]) -> list[Leak]:
    """Overlap of train+valid questions with test questions and with every MATH-500 question in the store."""
    ids = {r["problem_id"]: r["split"] for r in rows}
    questions = {r["problem_id"]: r["question"] for r in store.query(
        "SELECT problem_id, question FROM problems WHERE list_contains(?, problem_id)", [list(ids)])}
    training = {pid: questions[pid] for pid, split in ids.items() if split in ("train", "valid")}
    held_out = {pid: questions[pid] for pid, split in ids.items() if split == "test"}
    return find_leaks(training, held_out, "test") + find_leaks(training, db.math500_questions(store), "math500")


def make_split(store: Store, run_name: str, split_seed: int = DEFAULT.seed, *, valid: float = DEFAULT.valid,
               test: float = DEFAULT.test, force: bool = False) -> SplitResult:
    """Split a corpus run (or redo its split set) and store it with its contamination report.

    Redoing a split set may move problems between train, valid and unused (the corpus grew) but never changes
    its test set: that is refused unless `force` (evaluations made on the old test set would not compare)."""
    sources = db.run_sources(store, run_name)
    if not sources:
        raise StoreError(f"run {run_name!r} has no problems in the store: build its corpus first")
    universe = db.split_universe(store, run_name, sources)
    if not any(p["has_text"] for p in universe):
        raise StoreError(f"run {run_name!r} has no training text (no corpus or levels rows) to split")
    rows = assign_splits(universe, split_seed, valid, test)
    previous = db.split_set(store, run_name, split_seed)
    if previous is not None and not force:
        old_test = {r["problem_id"] for r in db.split_rows(store, run_name, split_seed) if r["split"] == "test"}
        new_test = {r["problem_id"] for r in rows if r["split"] == "test"}
        if old_test != new_test:
            raise StoreError(
                f"split seed {split_seed} of run {run_name!r} exists with a different test set "
                f"({len(old_test ^ new_test)} problems differ: the problems or --test changed). Keep the test set "
                "fixed: use another --seed, or --force to replace it (earlier evaluations will not compare)")
    leaks = check_contamination(store, rows)
    db.save_split(store, run_name, split_seed, valid=valid, test=test, sources=sources, rows=rows,
                  leaks=[leak.__dict__ for leak in leaks])
    return SplitResult(run_name, split_seed, sources, rows, leaks, replaced=previous is not None)


def stored_split(store: Store, run_name: str, split_seed: int) -> SplitResult | None:
    header = db.split_set(store, run_name, split_seed)
    if header is None:
        return None
    return SplitResult(run_name, split_seed, json.loads(header["sources"]),
                       db.split_rows(store, run_name, split_seed), [])
