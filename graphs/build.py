"""`distill build` and `distill levels` as functions: resolve endpoints and prompts into roles, then run."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator

from distill.agents.chat import ChatClient
from distill.agents.endpoints import LOCAL_TEACHER_SAMPLING, EndpointConfig, SamplingParams
from distill.agents.prompts import load_prompt
from distill.agents.student import student_token_counter
from distill.graphs.calls import Role
from distill.graphs.config import CorpusConfig
from distill.graphs.corpus_run import run_corpus
from distill.graphs.levels import LevelsConfig, run_levels
from distill.graphs.runner import Tally
from distill.store import Store


def role_for(name: str, endpoint: EndpointConfig, prompts_dir=None, prompt_file=None) -> Role:
    """A role from an endpoint and its prompt file (default: the packaged prompt)."""
    return Role(client=ChatClient.from_endpoint(endpoint), prompt=load_prompt(name, prompts_dir, prompt_file),
                model=endpoint.identity, params=endpoint.sampling.model_dump(exclude_none=True),
                base_url=endpoint.base_url)


def make_role(name: str, endpoint: EndpointConfig, config: CorpusConfig) -> Role:
    return role_for(name, endpoint, config.prompts_dir,
                    config.solver_prompt if name == "solver" else config.critic_prompt)


# llama.cpp serves one request at a time, so a run against the local teacher keeps one request in flight unless
# told otherwise.
LOCAL_CONCURRENCY = 1


@contextlib.contextmanager
def local_teacher_endpoint(sampling: SamplingParams = LOCAL_TEACHER_SAMPLING) -> Iterator[EndpointConfig]:
    """The default teacher (`distill models setup`), served by llama.cpp on 127.0.0.1 for the duration."""
    from distill.models.llama_server import local_server
    from distill.models.registry import TEACHER

    with local_server("teacher") as server:
        yield EndpointConfig(base_url=server.base_url, model=server.model, revision=TEACHER.sha256[:12],
                             sampling=sampling, timeout_s=900, max_retries=2)


@contextlib.contextmanager
def endpoint_or_local(endpoint: EndpointConfig | None,
                      local_sampling: SamplingParams = LOCAL_TEACHER_SAMPLING) -> Iterator[EndpointConfig]:
    """The configured endpoint, or the local default teacher served by llama.cpp for the duration."""
    if endpoint is not None:
        yield endpoint
        return
    with local_teacher_endpoint(local_sampling) as local:
        yield local


def build_corpus(store: Store, run_name: str, config: CorpusConfig,
                 on_progress: Callable[[Tally], None] | None = None, exclude: frozenset[str] = frozenset()) -> Tally:
    if config.teacher is None and "concurrency" not in config.pacing.model_fields_set:
        pacing = config.pacing.model_copy(update={"concurrency": LOCAL_CONCURRENCY})
        config = config.model_copy(update={"pacing": pacing})
    with endpoint_or_local(config.teacher, config.local_sampling) as teacher:
        solver = make_role("solver", teacher, config)
        critic = None if config.critic_mode == "rule" else make_role("critic", config.critic or teacher, config)
        return asyncio.run(run_corpus(store, run_name, config, solver, critic, on_progress, exclude))


def build_levels(store: Store, corpus_run: str, config: LevelsConfig,
                 on_progress: Callable[[Tally], None] | None = None) -> Tally:
    """`distill levels`: R1..R6 for a corpus run, compressed by the configured endpoint or the local teacher."""
    if config.compressor is None and "concurrency" not in config.pacing.model_fields_set:
        pacing = config.pacing.model_copy(update={"concurrency": LOCAL_CONCURRENCY})
        config = config.model_copy(update={"pacing": pacing})
    with endpoint_or_local(config.compressor, config.local_sampling) as endpoint:
        compressor = role_for("compressor", endpoint, config.prompts_dir, config.compressor_prompt)
        count_tokens = student_token_counter() or (lambda text: None)
        return asyncio.run(run_levels(store, corpus_run, config, compressor, count_tokens, on_progress))
