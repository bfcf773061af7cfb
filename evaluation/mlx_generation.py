"""Local MLX models answer in-process, in batches, with `mlx_lm.batch_generate`.

Prompts are token-id lists from the model's chat template over `agents.student.student_messages`: the very
prompt a student was trained on (mlx-lm's ChatDataset masks exactly this prefix). Greedy unless a temperature
is given. A sequence that generated `max_tokens` tokens without its end-of-sequence token is truncated:
`batch_generate` drops the stop token and keeps the last token of a cut sequence, so exactly the truncated
sequences come back with `max_tokens` tokens.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distill.agents.student import student_messages
from distill.models.mlx_runtime import load_mlx, load_mlx_model


@dataclass(frozen=True)
class Generation:
    text: str
    prompt_tokens: int
    tokens: int
    truncated: bool


@dataclass(frozen=True)
class GeneratedBatch:
    keys: list[str]
    generations: list[Generation]
    seconds: float  # wall time of the whole batch (prefill and decoding)

    @property
    def tokens(self) -> int:
        return sum(g.tokens for g in self.generations)


class MlxGenerator:
    """A loaded model (optionally with a LoRA adapter) and its generation settings."""

    def __init__(self, model: Any, tokenizer: Any, *, max_tokens: int, temperature: float = 0.0,
                 batch_size: int = 8):
        if max_tokens < 1 or batch_size < 1:
            raise ValueError("max_tokens and batch_size must be positive")
        self.model, self.tokenizer = model, tokenizer
        self.max_tokens, self.temperature, self.batch_size = max_tokens, temperature, batch_size

    @classmethod
    def load(cls, model_dir: Path | str, adapter_dir: Path | str | None = None, **settings: Any) -> MlxGenerator:
        model, tokenizer = load_mlx_model(model_dir, adapter_dir)
        return cls(model, tokenizer, **settings)

    def prompt(self, question: str) -> list[int]:
        """The student's prompt as token ids: system prompt, question, and the assistant turn opened."""
        return list(self.tokenizer.apply_chat_template(student_messages(question), add_generation_prompt=True,
                                                       return_dict=False))

    def chat_template_sha256(self) -> str:
        template = getattr(self.tokenizer, "chat_template", None) or ""
        return hashlib.sha256(str(template).encode()).hexdigest()

    def generate(self, prompts: Sequence[list[int]], seed: int = 0) -> tuple[list[Generation], float]:
        """One batch: a generation per prompt, in order, and the batch's wall time in seconds."""
        mx = load_mlx()
        from mlx_lm import batch_generate
        from mlx_lm.sample_utils import make_sampler

        if self.temperature > 0:
            mx.random.seed(seed)
        started = time.perf_counter()
        response = batch_generate(self.model, self.tokenizer, [list(p) for p in prompts], max_tokens=self.max_tokens,
                                  sampler=make_sampler(temp=self.temperature), return_token_ids=True,
                                  completion_batch_size=max(len(prompts), 1), prefill_batch_size=max(len(prompts), 1))
        seconds = time.perf_counter() - started
        generations = [Generation(text, len(prompt), len(ids), len(ids) >= self.max_tokens)
                       for text, prompt, ids in zip(response.texts, prompts, response.token_ids, strict=True)]
        return generations, seconds

    def batches(self, questions: dict[str, str], seed: int = 0) -> Iterator[GeneratedBatch]:
        """Answers to `{key: question}`, `batch_size` at a time; similar prompt lengths batched together."""
        prompts = {key: self.prompt(question) for key, question in questions.items()}
        order = sorted(prompts, key=lambda k: (len(prompts[k]), k))
        for start in range(0, len(order), self.batch_size):
            keys = order[start:start + self.batch_size]
            batch_seed = int(hashlib.sha256(f"{seed}:{keys[0]}".encode()).hexdigest()[:8], 16)
            generations, seconds = self.generate([prompts[k] for k in keys], batch_seed)
            yield GeneratedBatch(keys, generations, seconds)
