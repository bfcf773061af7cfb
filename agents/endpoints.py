"""Endpoint configuration: any OpenAI-compatible chat endpoint, its key's env var name, sampling params."""

from __future__ import annotations

import os
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

# Named endpoints a user can give as `--teacher NAME`; the key is read from the named env var at run time.
PRESETS: dict[str, dict[str, Any]] = {
    "deepseek-reasoner": {"base_url": "https://api.deepseek.com", "model": "deepseek-reasoner",
                          "api_key_env": "DEEPSEEK_API_KEY"},
    "deepseek-chat": {"base_url": "https://api.deepseek.com", "model": "deepseek-chat",
                      "api_key_env": "DEEPSEEK_API_KEY"},
}


class EndpointError(ValueError):
    """An endpoint that cannot be used as configured (missing key, bad spec)."""


class SamplingParams(BaseModel):
    """Sampling parameters sent with every request; part of every cache key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    temperature: float = Field(0.7, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    max_tokens: int = Field(2048, gt=0)
    seed: int | None = None
    extra_body: dict[str, str | int | float | bool] | None = Field(
        None, description="Server-specific parameters sent in the request body as given, e.g. llama.cpp's "
        "{ repeat_penalty = 1.0 } (its server penalises repeats by 1.1 unless told), vLLM's top_k.")


# The local default teacher (a 0.5B instruct model) answers short problems within this many tokens.
LOCAL_TEACHER_SAMPLING = SamplingParams(temperature=0.6, max_tokens=1024)


def _local_defaults(value: Any) -> Any:
    return {**LOCAL_TEACHER_SAMPLING.model_dump(), **value} if isinstance(value, dict) else value


# The local teacher's sampling in a config: a partial table ({temperature = 0}) keeps the local defaults for the rest.
LocalSampling = Annotated[SamplingParams, BeforeValidator(_local_defaults)]


class EndpointConfig(BaseModel):
    """An OpenAI-compatible chat endpoint (DeepSeek, vLLM, Ollama, llama.cpp, mlx_lm.server...)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str
    model: str
    api_key_env: str | None = Field(None, description="Name of the environment variable holding the API key.")
    sampling: SamplingParams = SamplingParams()
    revision: str | None = Field(None, description="Which weights, when `model` is only an alias (a local "
                                 "server's 'teacher'): part of every cache key and run identity.")
    timeout_s: float = Field(300, gt=0)
    max_retries: int = Field(6, ge=0, description="Retries on 429 / 5xx / timeouts / connection errors / empty.")

    @model_validator(mode="before")
    @classmethod
    def _no_key_in_files(cls, value: Any) -> Any:
        if isinstance(value, dict) and "api_key" in value:
            raise ValueError("api_key: a key never goes in a file; set api_key_env to the name of the environment "
                             "variable that holds it")
        return value

    @field_validator("base_url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {value!r}")
        return value.rstrip("/")

    def api_key(self) -> str:
        """The key from the environment; local servers without a key get a dummy one."""
        if not self.api_key_env:
            return "not-needed"
        key = os.environ.get(self.api_key_env)
        if not key:
            raise EndpointError(f"{self.model} at {self.base_url}: environment variable {self.api_key_env} is not set")
        return key

    @property
    def identity(self) -> str:
        """The model as cache keys and run identities name it."""
        return f"{self.model}@{self.revision}" if self.revision else self.model

    def manifest(self) -> dict[str, Any]:
        """What a run records about this endpoint: everything but the key (only its env var's name)."""
        return self.model_dump(mode="json")


def parse_endpoint(spec: str, *, api_key_env: str | None = None, sampling: SamplingParams | None = None,
                   ) -> EndpointConfig:
    """`deepseek-reasoner` (a preset) or `MODEL@BASE_URL` (e.g. `qwen2.5:0.5b@http://localhost:11434/v1`)."""
    if spec in PRESETS:
        fields = dict(PRESETS[spec])
    elif "@" in spec:
        model, _, base_url = spec.rpartition("@")
        fields = {"model": model, "base_url": base_url}
    else:
        raise EndpointError(
            f"endpoint {spec!r}: expected a preset ({', '.join(PRESETS)}) or MODEL@BASE_URL "
            "(e.g. qwen2.5:0.5b@http://localhost:11434/v1)"
        )
    if api_key_env:
        fields["api_key_env"] = api_key_env
    if sampling:
        fields["sampling"] = sampling
    return EndpointConfig(**fields)
