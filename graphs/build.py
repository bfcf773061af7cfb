"""`distill build` as a function: resolve endpoints and prompts into roles, then run the corpus loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator

from agents.chat import ChatClient
from agents.endpoints import EndpointConfig
from agents.prompts import load_prompt
from graphs.config import CorpusConfig
from graphs.corpus_nodes import Role
from graphs.runner import Tally, run_corpus
from store import Store


def make_role(name: str, endpoint: EndpointConfig, config: CorpusConfig) -> Role:
    prompt = load_prompt(name, config.prompts_dir, config.solver_prompt if name == "solver" else config.critic_prompt)
    return Role(client=ChatClient.from_endpoint(endpoint), prompt=prompt, model=endpoint.model,
                params=endpoint.sampling.model_dump(exclude_none=True), base_url=endpoint.base_url)


@contextlib.contextmanager
def teacher_endpoint(config: CorpusConfig) -> Iterator[EndpointConfig]:
    """The configured teacher, or the local default teacher served by llama.cpp for the duration."""
    if config.teacher is not None:
        yield config.teacher
        return
    from models.llama_server import local_teacher_endpoint

    with local_teacher_endpoint() as endpoint:
        yield endpoint


def build_corpus(store: Store, run_name: str, config: CorpusConfig,
                 on_progress: Callable[[Tally], None] | None = None) -> Tally:
    with teacher_endpoint(config) as teacher:
        solver = make_role("solver", teacher, config)
        critic = None if config.critic_mode == "rule" else make_role("critic", config.critic or teacher, config)
        return asyncio.run(run_corpus(store, run_name, config, solver, critic, on_progress))
