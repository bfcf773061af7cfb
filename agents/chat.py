"""The chat client: one request to a chat model, with its reasoning trace, finish reason, usage, latency, and
retries with backoff on transient failures (429, 5xx, timeouts, connection errors, empty or non-JSON bodies)."""

from __future__ import annotations

import asyncio
import json
import random
import time
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
from distill.agents.answers import split_think
from distill.agents.endpoints import EndpointConfig
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage

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
    fault: str | None = None  # why an 'empty' failure came back: "empty reply", "empty body", "non-JSON body", ...

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
    """A 200 response whose body is empty, not JSON, or JSON that is not a chat completion: retried, then an
    'empty' failed attempt."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class StatusError(Exception):
    """The endpoint answered with an HTTP error status (4xx, 5xx)."""

    def __init__(self, status_code: int, message: str, retry_after: str | None = None):
        super().__init__(f"HTTP {status_code}: {message}")
        self.status_code = status_code
        self.retry_after = retry_after


class TransportError(Exception):
    """No reply at all: `reason` is "timeout" or "connection error"."""

    def __init__(self, reason: str, message: str):
        super().__init__(f"{reason}: {message}")
        self.reason = reason


class ChatCallError(RuntimeError):
    """A request that failed for good (a 4xx, or retries spent on a transient error); `reason` is short
    ("HTTP 500", "timeout", "connection error") for summaries."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


def _names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def fault_reason(exc: BaseException) -> str | None:
    """A short name for an endpoint fault ("HTTP 429", "timeout", "connection error"), or None when `exc` is not
    one (a bug, which must surface). A LangChain model's provider errors are read by shape: a `status_code`, or
    the SDKs' APITimeoutError / APIConnectionError."""
    if isinstance(exc, TransportError):
        return exc.reason
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return f"HTTP {status}"
    if isinstance(exc, TimeoutError) or "APITimeoutError" in _names(exc):
        return "timeout"
    if isinstance(exc, ConnectionError) or "APIConnectionError" in _names(exc):
        return "connection error"
    return None


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, (EmptyResponse, MalformedBody)):
        return True
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return status in RETRYABLE_STATUS or status >= 500
    return fault_reason(exc) is not None  # timeouts and connection faults


def _retry_after(exc: BaseException | None) -> float | None:
    value = getattr(exc, "retry_after", None)
    if value is None:  # a provider SDK's error carries its response
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


def _text(content: Any) -> str:
    """A message's content: a string, or a list of parts (some servers) whose text is joined."""
    if isinstance(content, list):
        return "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)
    return content if isinstance(content, str) else ""


def read_reply(body: bytes) -> Reply:
    """A chat completion's JSON body, read as plain data (no response models: they cost more than the call)."""
    if not body.strip():
        raise MalformedBody("empty body")
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise MalformedBody("non-JSON body") from exc
    if not isinstance(data, dict) or not isinstance(data.get("choices", []), list):
        raise MalformedBody("not a chat completion")
    usage = data.get("usage") or {}
    tokens = {"prompt_tokens": usage.get("prompt_tokens"), "completion_tokens": usage.get("completion_tokens")}
    if not data.get("choices"):
        return Reply("", None, None, **tokens)
    choice = data["choices"][0] if isinstance(data["choices"][0], dict) else {}
    message = choice.get("message") or {}
    reasoning = message.get("reasoning_content") or message.get("reasoning") or None
    return Reply(_text(message.get("content")), reasoning if isinstance(reasoning, str) else None,
                 choice.get("finish_reason"), **tokens)


def _error_message(body: bytes) -> str:
    """The `error.message` of an error body, else the body's start."""
    try:
        error = json.loads(body).get("error")
        message = error.get("message") if isinstance(error, dict) else error
    except (ValueError, AttributeError):
        message = None
    return str(message) if message else body[:300].decode(errors="replace").strip() or "no body"


def env_proxy(url: str) -> str | None:
    """The proxy the environment sets for `url` (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, minus NO_PROXY), as the
    SDKs honour it."""
    parts = urllib.parse.urlsplit(url)
    if urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    proxies = urllib.request.getproxies()
    return proxies.get(parts.scheme) or proxies.get("all")


class OpenAIBackend:
    """Any OpenAI-compatible endpoint (DeepSeek, vLLM, Ollama, llama.cpp, mlx_lm.server): one POST to
    `{base_url}/chat/completions` per try over aiohttp, the JSON read as plain data. It keeps `reasoning_content`
    (DeepSeek) and `reasoning` (mlx_lm.server). Not the openai SDK: its request transform, httpx and response
    models cost ~2 ms of CPU a call, this ~0.2 ms (benchmarks/http_client_cpu.py), and a run makes thousands."""

    def __init__(self, endpoint: EndpointConfig):
        self.endpoint = endpoint
        self.url = f"{endpoint.base_url}/chat/completions"
        self.headers = {"Authorization": f"Bearer {endpoint.api_key()}", "Content-Type": "application/json"}
        sampling = endpoint.sampling
        optional = {k: v for k, v in (("top_p", sampling.top_p), ("seed", sampling.seed)) if v is not None}
        self.body = {"model": endpoint.model, "temperature": sampling.temperature, "max_tokens": sampling.max_tokens,
                     **optional, **(sampling.extra_body or {})}

        self.proxy = env_proxy(self.url)
        self.session: aiohttp.ClientSession | None = None

    def _session(self) -> aiohttp.ClientSession:
        """Opened in the running event loop on first use. No cookies, and the proxy is looked up once, not per
        request (aiohttp's trust_env costs two thread hops a request)."""
        if self.session is None:
            timeout = aiohttp.ClientTimeout(total=None, connect=self.endpoint.timeout_s,
                                            sock_read=self.endpoint.timeout_s)
            self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=timeout,
                                                 cookie_jar=aiohttp.DummyCookieJar())
        return self.session

    async def send(self, messages: Messages, headers: dict[str, str] | None) -> Reply:
        data = json.dumps({**self.body, "messages": messages})
        try:
            async with self._session().post(self.url, data=data, headers={**self.headers, **(headers or {})},
                                            proxy=self.proxy) as response:
                body = await response.read()
        except TimeoutError as exc:
            raise TransportError("timeout", f"no reply within {self.endpoint.timeout_s:g} s") from exc
        except aiohttp.ClientError as exc:
            raise TransportError("connection error", str(exc) or type(exc).__name__) from exc
        if response.status >= 400:
            raise StatusError(response.status, _error_message(body), response.headers.get("retry-after"))
        return read_reply(body)

    async def aclose(self) -> None:
        if self.session is not None:
            session, self.session = self.session, None
            await session.close()


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

    def _delay(self, exc: BaseException, failed: int) -> float:
        """Seconds to wait after the `failed`-th failed try: the server's Retry-After (capped), else exponential
        backoff with full jitter (uniform up to wait_initial_s * 2^(failed - 1), capped at wait_max_s)."""
        hinted = _retry_after(exc)
        if hinted is not None:
            return min(hinted, self.wait_max_s)
        return random.uniform(0, min(self.wait_max_s, self.wait_initial_s * 2 ** (failed - 1)))

    async def complete(self, messages: Messages, *, headers: dict[str, str] | None = None) -> Completion:
        """One completion; raises ChatCallError when it fails for good. An empty body after all retries comes
        back as a Completion whose `failure` is 'empty'. (A plain loop, not tenacity: its retry object cost 0.1 ms
        a call, 6% of the event loop at 256 calls in flight, for calls that nearly all succeed at once.)"""
        tries, started = 0, time.perf_counter()
        try:
            while True:
                tries += 1
                try:
                    if self.before_request is not None:
                        await self.before_request()
                    started = time.perf_counter()
                    return await self._try(messages, headers, tries - 1, started)
                except Exception as exc:
                    if tries > self.max_retries or not is_retryable(exc):
                        raise
                    await asyncio.sleep(self._delay(exc, tries))
        except EmptyResponse as exc:
            return replace(exc.completion, fault="empty reply")
        except MalformedBody as exc:
            return Completion("", None, None, None, None, None, (time.perf_counter() - started) * 1000, tries - 1,
                              fault=exc.reason)
        except Exception as exc:
            reason = fault_reason(exc)
            if reason is None:
                raise  # not the endpoint's fault: a bug, shown as one
            raise ChatCallError(f"{self.name}: {reason} after {tries} tries: {exc}", reason) from exc

    async def _try(self, messages: Messages, headers: dict[str, str] | None, retries: int,
                   started: float) -> Completion:
        try:
            reply = await self.backend.send(messages, headers)
        except json.JSONDecodeError as exc:  # a LangChain model's SDK, on a bad body
            raise MalformedBody("empty body" if exc.doc.strip() == "" else "non-JSON body") from exc
        completion = to_completion(reply, (time.perf_counter() - started) * 1000, retries)
        if completion.failure == "empty":
            raise EmptyResponse(completion)
        return completion
