"""Evaluation throughput on the default student: batched vs sequential generation (tokens/s), and grading
(extraction + rule check, answers/s), printed side by side.

    .venv/bin/python benchmarks/eval_generation.py [--batch 8] [--max-tokens 128] [--repeats 2]

Sequential: `mlx_lm.stream_generate`, one prompt at a time. Batched: the product path
(`evaluation.mlx_generation.MlxGenerator`, `mlx_lm.batch_generate` over token-id prompts). Both greedy, on the same
prompts (the bundled sample questions in the student's chat format), after one warm-up. Prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from distill.evaluation.grading import answer_row
from distill.evaluation.mlx_generation import MlxGenerator
from distill.models.mlx_runtime import blas_in_use, load_mlx
from distill.models.registry import resolve_mlx_dir

REPO = Path(__file__).resolve().parents[1]
TARGET_RATIO = 3.0


def sample_problems() -> list[dict[str, str]]:
    """Question and answer of every sample problem with text (the bundled O'Bryan-format files)."""
    problems = []
    for path in sorted((REPO / "examples" / "sample").glob("*.json")):
        for section in json.loads(path.read_text(encoding="utf-8")).values():
            problems += [q for q in section.values() if len(q.get("question", "")) > 40]
    return problems


def sequential(generator: MlxGenerator, prompts: list[list[int]]) -> tuple[int, float, list[str]]:
    from mlx_lm import stream_generate
    from mlx_lm.sample_utils import make_sampler

    tokens, texts, started = 0, [], time.perf_counter()
    for prompt in prompts:
        text, last = "", None
        for last in stream_generate(generator.model, generator.tokenizer, prompt, max_tokens=generator.max_tokens,
                                    sampler=make_sampler(temp=0.0)):
            text += last.text
        tokens += last.generation_tokens if last else 0
        texts.append(text)
    return tokens, time.perf_counter() - started, texts


def batched(generator: MlxGenerator, prompts: list[list[int]]) -> tuple[int, float, list[str]]:
    generations, seconds = generator.generate(prompts)
    return sum(g.tokens for g in generations), seconds, [g.text for g in generations]


def grading_rate(pairs: list[tuple[str, str]], passes: int) -> tuple[float, dict[str, int]]:
    """Answers per second of `answer_row` (extraction, rule check, word count), median of `passes`."""
    times, verdicts = [], {}
    for _ in range(passes):
        started = time.perf_counter()
        rows = [answer_row(response, gold, truncated=False) for response, gold in pairs]
        times.append(time.perf_counter() - started)
    for row in rows:
        verdicts[row["rule_verdict"]] = verdicts.get(row["rule_verdict"], 0) + 1
    return len(pairs) / statistics.median(times), verdicts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8, help="prompts generated together (and one by one)")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=2, help="timed runs of each mode; the best is reported")
    parser.add_argument("--model", default="student", help="'student' or an MLX model directory")
    args = parser.parse_args()
    load_mlx()
    problems = sample_problems()[:args.batch]
    model_dir = resolve_mlx_dir(args.model)
    generator = MlxGenerator.load(model_dir, max_tokens=args.max_tokens, batch_size=args.batch)
    prompts = [generator.prompt(p["question"]) for p in problems]
    print(f"model {model_dir} | BLAS {blas_in_use()} | {len(prompts)} prompts "
          f"({statistics.mean(len(p) for p in prompts):.0f} tokens on average), max_tokens {args.max_tokens}, greedy")
    generator.generate(prompts[:2])  # warm-up: kernels, caches

    results, outputs = {}, {}
    for name, run in (("sequential (stream_generate, 1 at a time)", sequential),
                      (f"batched (batch_generate, {len(prompts)} together)", batched)):
        best = None
        for _ in range(args.repeats):
            tokens, seconds, texts = run(generator, prompts)
            if best is None or tokens / seconds > best[0] / best[1]:
                best = (tokens, seconds)
            outputs[name] = texts
        results[name] = best
    base_rate = None
    print(f"\n{'mode':<45} {'tokens':>7} {'seconds':>8} {'tokens/s':>9} {'ratio':>6}")
    for name, (tokens, seconds) in results.items():
        rate = tokens / seconds
        base_rate = base_rate or rate
        print(f"{name:<45} {tokens:>7} {seconds:>8.1f} {rate:>9.1f} {rate / base_rate:>5.2f}x")
    tokens, seconds = list(results.values())[1]
    ratio = tokens / seconds / base_rate
    same = sum(a == b for a, b in zip(*outputs.values(), strict=True))
    verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
    print(f"batched / sequential: {ratio:.2f}x (target >= {TARGET_RATIO:.0f}x: {verdict}); "
          f"identical greedy texts: {same}/{len(prompts)}")

    answers = [text for texts in outputs.values() for text in texts]
    golds = [p["answer"] for p in problems] * len(outputs)
    pairs = list(zip(answers, golds, strict=True))
    pairs += [(f"So the result is {p['answer']}.\nAnswer: \\boxed{{{p['answer']}}}", p["answer"])
              for p in sample_problems()]
    pairs += [(f"Answer: \\boxed{{{p['answer']}1}}", p["answer"]) for p in sample_problems()]
    rate, verdicts = grading_rate(pairs, passes=5)
    print(f"\ngrading (extract + rule check): {len(pairs)} answers, {rate:,.0f} answers/s (median of 5); {verdicts}")
    print(f"side by side: generation {ratio * base_rate:.1f} tokens/s batched vs {base_rate:.1f} sequential; "
          f"grading {rate:,.0f} answers/s")


if __name__ == "__main__":
    main()
