"""`distill build` as a function: resolve endpoints and prompts into roles, then run the corpus loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator

from agents.chat import ChatClient
from agents.endpoints import EndpointConfig, SamplingParams
from agents.prompts import load_prompt
from graphs.calls import Role
from graphs.config import CorpusConfig
from graphs.corpus_run import run_corpus
from graphs.runner import Tally
from store import Store


def make_role(name: str, endpoint: EndpointConfig, config: CorpusConfig) -> Role:
    prompt = load_prompt(name, config.prompts_dir, config.solver_prompt if name == "solver" else config.critic_prompt)
    return Role(client=ChatClient.from_endpoint(endpoint), prompt=prompt, model=endpoint.identity,
                params=endpoint.sampling.model_dump(exclude_none=True), base_url=endpoint.base_url)


# The local teacher (a 0.5B instruct model) answers short problems within this; llama.cpp serves one request at a
# time, so a run against it keeps one request in flight unless told otherwise.
LOCAL_TEACHER_SAMPLING = SamplingParams(temperature=0.6, max_tokens=1024)
LOCAL_CONCURRENCY = 1


@contextlib.contextmanager
def local_teacher_endpoint() -> Iterator[EndpointConfig]:
    """The default teacher (`distill models setup`), served by llama.cpp on 127.0.0.1 for the duration."""
    from models.llama_server import local_server
    from models.registry import TEACHER

    with local_server("teacher") as server:
        yield EndpointConfig(base_url=server.base_url, model=server.model, revision=TEACHER.sha256[:12],
                             sampling=LOCAL_TEACHER_SAMPLING, timeout_s=900, max_retries=2)


@contextlib.contextmanager
def teacher_endpoint(config: CorpusConfig) -> Iterator[EndpointConfig]:
    """The configured teacher, or the local default teacher served by llama.cpp for the duration."""
    if config.teacher is not None:
        yield config.teacher
        return
    with local_teacher_endpoint() as endpoint:
        yield endpoint


def build_corpus(store: Store, run_name: str, config: CorpusConfig,
                 on_progress: Callable[[Tally], None] | None = None) -> Tally:
    if config.teacher is None and "concurrency" not in config.model_fields_set:
        config = config.model_copy(update={"concurrency": LOCAL_CONCURRENCY})
    with teacher_endpoint(config) as teacher:
        solver = make_role("solver", teacher, config)
        critic = None if config.critic_mode == "rule" else make_role("critic", config.critic or teacher, config)
        return asyncio.run(run_corpus(store, run_name, config, solver, critic, on_progress))
