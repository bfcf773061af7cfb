"""The chat client: one request to a chat model, with its reasoning trace, finish reason, usage, latency, and
tenacity retries on transient failures (429, 5xx, timeouts, connection errors, empty or non-JSON bodies)."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import openai
from distill.agents.answers import split_think
from distill.agents.endpoints import EndpointConfig
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, wait_random_exponential

Messages = list[dict[str, str]]
RETRYABLE_STATUS = {408, 409, 425, 429}


@dataclass(frozen=True)
class Completion:
    """What one successful request returned."""

    content: str
    reasoning: str | None  # the trace: reasoning_content / reasoning field, or a <think> block in the content
    reasoning_source: str | None  # "reasoning_field" | "think_tag" | None
    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_ms: float
    retries: int = 0
    fault: str | None = None  # why an 'empty' failure came back: "empty reply", "empty body", "non-JSON body"

    @property
    def failure(self) -> str | None:
        """Why this is not an answer: 'length' (cut off) or 'empty' (no text at all); None when usable."""
        if self.finish_reason == "length":
            return "length"
        if not self.content.strip() and not (self.reasoning or "").strip():
            return "empty"
        return None

    @property
    def tokens(self) -> int:
        return (self.prompt_tokens or 0) + (self.completion_tokens or 0)


class EmptyResponse(Exception):
    """A 200 response without any text: retried, then returned as a failed attempt."""

    def __init__(self, completion: Completion):
        super().__init__("the endpoint returned an empty body")
        self.completion = completion


class MalformedBody(Exception):
    """A 200 response whose body is empty or not a chat completion (the SDK raises JSONDecodeError on an empty or
    non-JSON body, or returns a str for a non-JSON content type): retried, then an 'empty' failed attempt."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class ChatCallError(RuntimeError):
    """A request that failed for good (a 4xx, or retries spent on a transient error); `reason` is short
    ("HTTP 500", "timeout", "connection error") for summaries."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


def fault_reason(exc: BaseException) -> str:
    """A short name for a transport fault, to count faults by."""
    if isinstance(exc, openai.APITimeoutError):
        return "timeout"
    if isinstance(exc, openai.APIConnectionError):
        return "connection error"
    status = getattr(exc, "status_code", None)
    return f"HTTP {status}" if status else type(exc).__name__


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, (EmptyResponse, MalformedBody, openai.APITimeoutError, openai.APIConnectionError,
                        openai.InternalServerError)):
        return True
    return isinstance(exc, openai.APIStatusError) and (exc.status_code in RETRYABLE_STATUS or exc.status_code >= 500)


def _retry_after(exc: BaseException | None) -> float | None:
    response = getattr(exc, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


@dataclass(frozen=True)
class Reply:
    """One HTTP reply as a backend reads it, before the trace is split off and failures are judged."""

    content: str
    reasoning: str | None
    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None


class OpenAIBackend:
    """Any OpenAI-compatible endpoint through the openai SDK: keeps `reasoning_content` (DeepSeek) and
    `reasoning` (mlx_lm.server), which LangChain's ChatOpenAI drops; ~2x less CPU per call than ChatDeepSeek."""

    def __init__(self, endpoint: EndpointConfig):
        self.endpoint = endpoint
        self.client = openai.AsyncOpenAI(base_url=endpoint.base_url, api_key=endpoint.api_key(),
                                         timeout=endpoint.timeout_s, max_retries=0)  # our retries, so we see each

    async def send(self, messages: Messages, headers: dict[str, str] | None) -> Reply:
        sampling = self.endpoint.sampling
        options = {k: v for k, v in (("top_p", sampling.top_p), ("seed", sampling.seed)) if v is not None}
        response = await self.client.chat.completions.create(
            model=self.endpoint.model, messages=messages, temperature=sampling.temperature,
            max_tokens=sampling.max_tokens, extra_headers=headers or None, extra_body=sampling.extra_body, **options)
        if not isinstance(response, openai.types.chat.ChatCompletion):
            raise MalformedBody("non-JSON body" if str(response).strip() else "empty body")
        usage = response.usage
        tokens = {"prompt_tokens": usage.prompt_tokens if usage else None,
                  "completion_tokens": usage.completion_tokens if usage else None}
        if not response.choices:
            return Reply("", None, None, **tokens)
        choice = response.choices[0]
        extra = choice.message.model_extra or {}
        reasoning = extra.get("reasoning_content") or extra.get("reasoning") or None
        return Reply(choice.message.content or "", reasoning, choice.finish_reason, **tokens)

    async def aclose(self) -> None:
        await self.client.close()


class LangChainBackend:
    """Any LangChain chat model (the fakes of the unit tests, or a user's own); the trace is read from
    `additional_kwargs['reasoning_content']` as langchain-deepseek puts it."""

    def __init__(self, model: BaseChatModel):
        self.model = model

    async def send(self, messages: Messages, headers: dict[str, str] | None) -> Reply:
        message: AIMessage = await self.model.ainvoke(messages, **({"extra_headers": headers} if headers else {}))
        content = message.content if isinstance(message.content, str) else "".join(
            part.get("text", "") if isinstance(part, dict) else str(part) for part in message.content)
        usage = message.usage_metadata or {}
        token_usage = message.response_metadata.get("token_usage") or {}
        return Reply(content, message.additional_kwargs.get("reasoning_content") or None,
                     message.response_metadata.get("finish_reason"),
                     usage.get("input_tokens", token_usage.get("prompt_tokens")),
                     usage.get("output_tokens", token_usage.get("completion_tokens")))

    async def aclose(self) -> None:
        client = getattr(self.model, "root_async_client", None)
        if client is not None:
            await client.close()


def to_completion(reply: Reply, latency_ms: float, retries: int) -> Completion:
    """The trace is the reasoning field, else a <think> block in the content."""
    content, reasoning, source = reply.content, reply.reasoning, "reasoning_field" if reply.reasoning else None
    if reasoning is None:
        think, rest = split_think(content)
        if think is not None:
            reasoning, content, source = think, rest, "think_tag"
    return Completion(content=content, reasoning=reasoning, reasoning_source=source,
                      finish_reason=reply.finish_reason, prompt_tokens=reply.prompt_tokens,
                      completion_tokens=reply.completion_tokens, latency_ms=latency_ms, retries=retries)


class ChatClient:
    """Sends chat requests to one model; `before_request` (e.g. a rate limiter) runs before every try."""

    def __init__(self, backend: OpenAIBackend | LangChainBackend | BaseChatModel, *, name: str,
                 max_retries: int = 6, wait_initial_s: float = 0.5, wait_max_s: float = 60.0,
                 before_request: Callable[[], Awaitable[None]] | None = None):
        self.backend = LangChainBackend(backend) if isinstance(backend, BaseChatModel) else backend
        self.name = name
        self.max_retries = max_retries
        self.wait_initial_s = wait_initial_s
        self.wait_max_s = wait_max_s
        self.before_request = before_request

    @classmethod
    def from_endpoint(cls, endpoint: EndpointConfig, **kwargs: Any) -> ChatClient:
        return cls(OpenAIBackend(endpoint), name=endpoint.model, max_retries=endpoint.max_retries, **kwargs)

    async def aclose(self) -> None:
        """Close the HTTP connection pool inside the event loop that used it."""
        await self.backend.aclose()

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        hinted = _retry_after(exc)
        backoff = wait_random_exponential(multiplier=self.wait_initial_s, max=self.wait_max_s)(state)
        return min(hinted, self.wait_max_s) if hinted is not None else backoff

    async def complete(self, messages: Messages, *, headers: dict[str, str] | None = None) -> Completion:
        """One completion; raises ChatCallError when it fails for good. An empty body after all retries comes
        back as a Completion whose `failure` is 'empty'."""
        tries = 0
        try:
            async for attempt in AsyncRetrying(stop=stop_after_attempt(self.max_retries + 1), wait=self._wait,
                                               retry=retry_if_exception(is_retryable), reraise=True):
                with attempt:
                    tries += 1
                    if self.before_request is not None:
                        await self.before_request()
                    started = time.perf_counter()
                    try:
                        reply = await self.backend.send(messages, headers)
                    except json.JSONDecodeError as exc:
                        raise MalformedBody("empty body" if exc.doc.strip() == "" else "non-JSON body") from exc
                    completion = to_completion(reply, (time.perf_counter() - started) * 1000, tries - 1)
                    if completion.failure == "empty":
                        raise EmptyResponse(completion)
                    return completion
        except EmptyResponse as exc:
            return replace(exc.completion, fault="empty reply")
        except MalformedBody as exc:
            return Completion("", None, None, None, None, None, (time.perf_counter() - started) * 1000, tries - 1,
                              fault=exc.reason)
        except openai.APIError as exc:
            reason = fault_reason(exc)
            raise ChatCallError(f"{self.name}: {reason} after {tries} tries: {exc}", reason) from exc
        raise AssertionError("unreachable")  # AsyncRetrying either returns, or raises with reraise=True
