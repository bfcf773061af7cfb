"""The student's chat format, shared by training (export) and evaluation (generation): one system prompt,
one way to ask, one way to answer."""

from __future__ import annotations

from distill.agents.answers import extract_answer

STUDENT_SYSTEM_PROMPT = (
    "You are a careful competition mathematician. Reason step by step, then give the final answer on its own "
    "line as: Answer: \\boxed{...}"
)


def student_messages(question: str) -> list[dict[str, str]]:
    """The prompt a student sees, in training and in evaluation alike."""
    return [{"role": "system", "content": STUDENT_SYSTEM_PROMPT}, {"role": "user", "content": question}]


def assistant_target(reasoning: str, answer: str) -> str:
    """What the student learns to write: the reasoning, ending in the standard answer line (added when the
    reasoning does not already end with it)."""
    text = reasoning.rstrip()
    found = extract_answer(text)
    tail = text[-len(answer) - 40:]
    if found.method == "boxed" and found.text is not None and found.text.strip() == answer.strip() \
            and "\\boxed" in tail:
        return text
    return f"{text}\n\nAnswer: \\boxed{{{answer}}}"


def training_example(question: str, reasoning: str, answer: str) -> dict[str, list[dict[str, str]]]:
    """One line of mlx-lm chat JSONL."""
    return {"messages": [*student_messages(question), {"role": "assistant", "content": assistant_target(reasoning,
                                                                                                        answer)}]}


def student_token_counter(tokenizer_dir: str | None = None):
    """`count(text) -> int` in the student's tokenizer (default: the default student's MLX directory), or None
    when that tokenizer is not installed (`distill models setup`)."""
    from pathlib import Path

    from distill.models.registry import default_student_mlx_dir

    folder = Path(tokenizer_dir) if tokenizer_dir else default_student_mlx_dir()
    if not (folder / "tokenizer.json").is_file() and not (folder / "tokenizer_config.json").is_file():
        return None
    import os

    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # no "PyTorch was not found" notice: not needed here
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    return lambda text: len(tokenizer.encode(text, add_special_tokens=False))
