"""`distill eval` as a function: choose the problems, resolve the models into evaluations, answer what is not
stored yet (MLX in-process in batches; the teacher and the endpoint students of `[[eval.students]]` through the
runner), grade again with the current rule, and ask the judge, if any, about what the rule left undecided."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from distill.agents.endpoints import EndpointConfig, SamplingParams
from distill.agents.student import STUDENT_SYSTEM_PROMPT
from distill.evaluation.config import EndpointStudent, EvalConfig, ModelChoice, parse_models
from distill.evaluation.endpoint_stages import answer_with_endpoint, judge_undecided, student_prompt
from distill.evaluation.grading import answer_row, regrade
from distill.graphs.calls import Role
from distill.graphs.runner import Pacing, Tally
from distill.store import Store, StoreError
from distill.store import evaluation as db
from distill.store.manifest import distill_version, git_sha, package_versions
from distill.store.rows import EvalItemRow, EvaluationRow

from distill import cancel

Log = Callable[[str], None]
E = TypeVar("E", bound=EndpointConfig)
LOCAL_CONCURRENCY = 1  # llama.cpp serves one request at a time
JUDGE_SAMPLING = SamplingParams(temperature=0.0, max_tokens=256)


@dataclass
class Target:
    """One evaluation to make: a model (with its adapter, for a student) at one seed."""

    label: str
    kind: str
    seed: int = 0
    model: str = ""
    training_run: str | None = None
    level: str | None = None
    adapter_dir: str | None = None
    best_iteration: int | None = None
    training_id: int | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)
    evaluation: dict[str, Any] | None = None
    endpoint: EndpointStudent | None = None  # a student served behind an endpoint ([[eval.students]])

    @property
    def through_endpoint(self) -> bool:
        return self.kind == "teacher" or self.endpoint is not None


@dataclass
class EvalOutcome:
    problems: int
    evaluation_ids: list[int]
    generated: dict[str, int]  # label/seed -> answers generated now
    regraded: int
    judged: int
    errors: list[str]


def sample_order(problem_ids: list[str], seed: int) -> list[str]:
    """A seeded hash order: the first N are the sample of size N, and a larger N only adds problems."""
    return sorted(problem_ids, key=lambda pid: hashlib.sha256(f"{seed}:{pid}".encode()).hexdigest())


def select_problems(store: Store, config: EvalConfig) -> list[dict[str, Any]]:
    if config.split == "test":
        problems = db.test_split_problems(store, config.run, config.split_seed)
    else:
        problems = db.math500_problems(store)
        if not problems:
            raise StoreError("no MATH-500 problems in the store: `distill ingest FILE --format math500` first")
    by_id = {p["problem_id"]: p for p in problems}
    chosen = sample_order(list(by_id), config.split_seed)[:config.limit] if config.limit else sorted(by_id)
    if not chosen:
        raise StoreError(f"run {config.run!r}: the {config.split} set is empty")
    return [by_id[pid] for pid in chosen]


def file_sha256(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def mlx_settings(config: EvalConfig, model_dir: Path, adapter_dir: str | None) -> dict[str, Any]:
    """What decides an MLX model's answers: decoding, prompt, chat template and tokenizer files, adapter."""
    return {"max_tokens": config.max_tokens, "temperature": config.temperature, "model_dir": str(model_dir),
            "config_sha256": file_sha256(model_dir / "config.json"),
            "tokenizer_sha256": file_sha256(model_dir / "tokenizer_config.json"),
            "system_prompt_sha256": hashlib.sha256(STUDENT_SYSTEM_PROMPT.encode()).hexdigest(),
            "adapter_sha256": file_sha256(Path(adapter_dir) / "adapters.safetensors") if adapter_dir else None}


def resolve_targets(store: Store, config: EvalConfig, choices: list[ModelChoice], problem_ids: set[str]
                    ) -> list[Target]:
    from distill.models.registry import resolve_mlx_dir

    targets: list[Target] = []
    for choice in choices:
        if choice.kind == "base":
            model_dir = resolve_mlx_dir(config.base_model)
            targets.append(Target("base", "base", model=str(model_dir),
                                  settings=mlx_settings(config, model_dir, None)))
        elif choice.kind == "teacher":
            targets.append(Target("teacher", "teacher"))  # the endpoint is known once it is served
        else:
            targets.extend(_student_targets(store, config, choice, problem_ids))
    for student in config.students:
        student.api_key()  # a missing key fails now, before any model answers
        targets.append(Target(student.label, "student", model=student.identity, endpoint=student))
    return targets


def _student_targets(store: Store, config: EvalConfig, choice: ModelChoice, problem_ids: set[str]) -> list[Target]:
    adapters = db.adapters_for(store, choice.training_run, config.split_seed, choice.level, config.seeds)
    if not adapters:
        what = f"level {choice.level}" if choice.level else "any level"
        seeds = f" with seeds {config.seeds}" if config.seeds else ""
        raise StoreError(f"training run {choice.training_run!r} has no kept adapter for {what}{seeds} "
                         f"(split seed {config.split_seed}): train it first "
                         f"(`distill train --run {choice.training_run}`)")
    leaked = db.training_problem_ids(store, choice.training_run, config.split_seed) & problem_ids
    if leaked:
        raise StoreError(f"{len(leaked)} of the evaluated problems are in the train/valid split of "
                         f"{choice.training_run!r} (e.g. {sorted(leaked)[0]}): a student is evaluated on held-out "
                         "problems only")
    targets = []
    for adapter in adapters:
        if not (Path(adapter["adapter_dir"]) / "adapters.safetensors").is_file():
            raise StoreError(f"the kept adapter of {choice.training_run} {adapter['level']} seed {adapter['seed']} is "
                             f"missing: no adapters.safetensors in {adapter['adapter_dir']}")
        model_dir = Path(adapter["model"])
        targets.append(Target(
            f"student:{choice.training_run}/{adapter['level']}", "student", adapter["seed"], str(model_dir),
            choice.training_run, adapter["level"], adapter["adapter_dir"], adapter["best_iteration"],
            adapter["training_id"], settings=mlx_settings(config, model_dir, adapter["adapter_dir"])))
    return targets


def open_evaluation(store: Store, config: EvalConfig, target: Target, log: Log) -> dict[str, Any]:
    """The stored evaluation of `target`, created when new; changed settings are refused unless restarting."""
    manifest = {**target.manifest, "packages": package_versions(), "distill_version": distill_version(),
                "git_sha": git_sha()}
    found = db.find_evaluation(store, config.run, config.split, config.split_seed, target.label, target.seed)
    if found is None:
        db.create_evaluation(store, EvaluationRow(
            run_name=config.run, split=config.split, split_seed=config.split_seed, label=target.label,
            kind=target.kind, training_run=target.training_run, level=target.level, seed=target.seed,
            model=target.model, adapter_dir=target.adapter_dir, best_iteration=target.best_iteration,
            training_id=target.training_id, settings=target.settings, manifest=manifest))
    elif found["settings"] != target.settings:
        changed = sorted(k for k in found["settings"].keys() | target.settings.keys()
                         if found["settings"].get(k) != target.settings.get(k))
        if not config.restart:
            raise StoreError(f"{target.label} seed {target.seed} was evaluated on {config.run}/{config.split} with "
                             f"other settings ({', '.join(changed)} changed): rerun with the original settings, or "
                             "--restart to drop its answers and answer again")
        dropped = db.restart_evaluation(store, found["evaluation_id"], {
            "settings": target.settings, "manifest": manifest, "model": target.model,
            "adapter_dir": target.adapter_dir, "best_iteration": target.best_iteration,
            "training_id": target.training_id})
        log(f"{target.label} seed {target.seed}: settings changed ({', '.join(changed)}): dropped {dropped} answers")
    return db.find_evaluation(store, config.run, config.split, config.split_seed, target.label, target.seed)


def generate_mlx(store: Store, config: EvalConfig, target: Target, problems: list[dict[str, Any]], log: Log) -> int:
    """Answer the problems this evaluation has not stored yet, batch by batch (each batch stored at once)."""
    from distill.evaluation.mlx_generation import MlxGenerator

    evaluation = target.evaluation
    done = db.stored_problem_ids(store, evaluation["evaluation_id"])
    todo = {p["problem_id"]: p for p in problems if p["problem_id"] not in done}
    if not todo:
        return 0
    generator = MlxGenerator.load(target.model, target.adapter_dir, max_tokens=config.max_tokens,
                                  temperature=config.temperature, batch_size=config.batch_size)
    made = 0
    for batch in generator.batches({pid: p["question"] for pid, p in todo.items()}, seed=target.seed):
        cancel.check()  # a service job's cancel: the stored batches stay, the rest is answered next time
        rows = []
        for pid, generation in zip(batch.keys, batch.generations, strict=True):
            row = answer_row(generation.text, todo[pid]["answer"], truncated=generation.truncated,
                             question=todo[pid].get("question"))
            rows.append(EvalItemRow(evaluation_id=evaluation["evaluation_id"], problem_id=pid, **row,
                                 finish_reason="length" if generation.truncated else "stop",
                                 prompt_tokens=generation.prompt_tokens, tokens=generation.tokens,
                                 latency_ms=round(batch.seconds * 1000, 2), batch_size=len(batch.keys),
                                 call_key=None))
        db.insert_items(store, rows)
        db.add_generation_seconds(store, evaluation["evaluation_id"], batch.seconds)
        made += len(rows)
        log(f"{target.label} seed {target.seed}: {made}/{len(todo)} answered "
            f"({batch.tokens} tokens in {batch.seconds:.1f} s, {batch.tokens / batch.seconds:.1f} tokens/s)")
    return made


def with_eval_sampling(endpoint: E, config: EvalConfig) -> E:
    """Every evaluated model decodes alike: the evaluation's temperature and token limit (top_p and seed stay
    the endpoint's)."""
    sampling = endpoint.sampling.model_copy(update={"temperature": config.temperature,
                                                    "max_tokens": config.max_tokens})
    return endpoint.model_copy(update={"sampling": sampling})


@contextlib.contextmanager
def served_endpoints(config: EvalConfig, needs_teacher: bool) -> Iterator[tuple[EndpointConfig | None, Any]]:
    """(teacher, judge) endpoints; the local default teacher is served by llama.cpp only while needed."""
    from distill.graphs.build import endpoint_or_local

    needs_local = (needs_teacher and config.teacher is None) or config.judge == "local"
    with endpoint_or_local(None) if needs_local else contextlib.nullcontext() as local:
        teacher = (config.teacher or local) if needs_teacher else None
        if teacher is not None:
            teacher = with_eval_sampling(teacher, config)
        judge = local if config.judge == "local" else config.judge
        if judge is not None:
            judge = judge.model_copy(update={"sampling": JUDGE_SAMPLING})
        yield teacher, judge


def _pacing(config: EvalConfig, endpoint: EndpointConfig, local: bool):
    if local and "concurrency" not in config.pacing.model_fields_set:
        return config.pacing.model_copy(update={"concurrency": LOCAL_CONCURRENCY})
    return config.pacing


def endpoint_role(endpoint: EndpointConfig) -> Role:
    """An endpoint model (the teacher, or a served student) asked exactly as a student is."""
    from distill.agents.chat import ChatClient

    return Role(client=ChatClient.from_endpoint(endpoint), prompt=student_prompt(), model=endpoint.identity,
                params=endpoint.sampling.model_dump(exclude_none=True), base_url=endpoint.base_url)


def answer_through_endpoint(store: Store, config: EvalConfig, target: Target, endpoint: EndpointConfig,
                            problems: list[dict[str, Any]], pacing: Pacing, on_progress, log: Log) -> Tally:
    """Open the target's evaluation for this endpoint and let the runner answer what is not stored yet."""
    target.model = endpoint.identity
    target.settings = {"model": endpoint.identity, "params": endpoint.sampling.model_dump(exclude_none=True),
                       "system_prompt_sha256": hashlib.sha256(STUDENT_SYSTEM_PROMPT.encode()).hexdigest()}
    target.manifest = {"base_url": endpoint.base_url, "api_key_env": endpoint.api_key_env}  # the key's name only
    target.evaluation = open_evaluation(store, config, target, log)
    return asyncio.run(answer_with_endpoint(store, target.evaluation, problems, endpoint_role(endpoint),
                                            pacing, on_progress))


def evaluate(store: Store, config: EvalConfig, log: Log = print, on_progress=None) -> EvalOutcome:
    """Evaluate every model of `config.models` and `config.students` on the chosen problems; resumable: stored
    answers are kept."""
    from distill.graphs.build import role_for

    if on_progress is None:
        def on_progress(tally) -> None:
            if tally.done:
                log(f"{tally.done}/{tally.total} done: {dict(tally.counts)}")

    problems = select_problems(store, config)
    choices = parse_models(config.models, config.run) if config.models.strip() or not config.students else []
    targets = resolve_targets(store, config, choices, {p["problem_id"] for p in problems})
    log(f"{config.run}/{config.split}: {len(problems)} problems; {len(targets)} evaluation(s)")
    outcome = EvalOutcome(len(problems), [], {}, 0, 0, [])
    for target in (t for t in targets if not t.through_endpoint):
        target.evaluation = open_evaluation(store, config, target, log)
        outcome.generated[f"{target.label}#{target.seed}"] = generate_mlx(store, config, target, problems, log)
    teacher = next((t for t in targets if t.kind == "teacher"), None)
    with served_endpoints(config, teacher is not None) as (teacher_endpoint, judge_endpoint):
        served = [(t, with_eval_sampling(t.endpoint, config), t.endpoint.pacing or config.pacing)
                  for t in targets if t.endpoint is not None]
        if teacher is not None:
            served.insert(0, (teacher, teacher_endpoint, _pacing(config, teacher_endpoint, config.teacher is None)))
        for target, endpoint, pacing in served:
            tally = answer_through_endpoint(store, config, target, endpoint, problems, pacing, on_progress, log)
            outcome.generated[f"{target.label}#{target.seed}"] = tally.answered + tally.truncated
            outcome.errors += tally.errors
        outcome.evaluation_ids = [t.evaluation["evaluation_id"] for t in targets]
        changed = regrade(db.items_to_grade(store, outcome.evaluation_ids))
        db.update_rule_verdicts(store, changed)
        outcome.regraded = len(changed)
        if judge_endpoint is not None:
            role = role_for("judge", judge_endpoint)
            tally = asyncio.run(judge_undecided(store, config.run, outcome.evaluation_ids, role,
                                                _pacing(config, judge_endpoint, config.judge == "local"),
                                                on_progress))
            outcome.judged = tally.done - tally.failed
            outcome.errors += tally.errors
    return outcome
