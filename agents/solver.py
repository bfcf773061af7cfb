"""The solver role: its messages, and what a completion means (trace, final answer, or why it failed)."""

from __future__ import annotations

from dataclasses import dataclass

from distill.agents.answers import ExtractedAnswer, ambiguous_final, bare_answer, extract_answer, names_no_answer
from distill.agents.chat import Completion, Messages
from distill.agents.compressor import reasoning_words
from distill.agents.prompts import Prompt


@dataclass(frozen=True)
class Solution:
    """A solver completion, read."""

    status: str  # "ok" | "length" | "empty" | "no_answer" | "no_work" (an answer without the steps)
    answer: str | None
    answer_method: str  # how the answer was found: boxed, answer_line, final_expression, none
    answer_source: str | None  # "content", or "trace" when the content had none but the trace ends in one
    reasoning: str  # the chain of thought: the trace when the API returns one, else the content

    @property
    def failed(self) -> bool:
        return self.status != "ok"


def solver_messages(prompt: Prompt, question: str, previous_answer: str | None = None,
                    critique: str | None = None) -> Messages:
    """First attempt: the question. Retries: the question plus the previous answer and the critique."""
    if critique is None:
        return prompt.messages(question=question)
    return prompt.messages(question=question, retry=True, previous_answer=previous_answer or "nothing",
                           critique=critique)


def read_solution(completion: Completion, min_reasoning_words: int = 0) -> Solution:
    """The reasoning and final answer of a completion. Reasoning models put the trace apart from a short
    final answer; instruct models write both in the content. An answer found only in the trace counts, and is
    recorded as coming from there. With a separate trace, a short bare content (`5`, `x = 3`, one word such as
    `Tuesday` that is no filler) is the answer; an answer taken from the trace must look like one (never a phrase
    such as "a number") and the trace must not close on two different candidates (`either 3 or 4`, see
    `agents.answers.ambiguous_final`), else no_answer. Fewer than `min_reasoning_words` words besides the answer
    (a bare `Answer: \\boxed{54}`) is no_work: a chain of thought to distil shows its steps."""
    reasoning = completion.reasoning if completion.reasoning else completion.content
    if completion.failure:
        return Solution(completion.failure, None, "none", None, reasoning)
    found, source = extract_answer(completion.content), "content"
    if found.text is None and completion.reasoning:
        found = bare_answer(completion.content)
    if found.text is None and completion.reasoning:
        found, source = extract_answer(completion.reasoning), "trace"
        if names_no_answer(found.text) or ambiguous_final(completion.reasoning):  # no answer rather than a guess
            found = ExtractedAnswer(None, "none")
    if found.text is None:
        return Solution("no_answer", None, "none", None, reasoning)
    if min_reasoning_words and reasoning_words(reasoning) < min_reasoning_words:
        return Solution("no_work", found.text, found.method, source, reasoning)
    return Solution("ok", found.text, found.method, source, reasoning)


# What the solver is told before a retry when there is no critique to pass on. Never the reference answer.
FEEDBACK = {
    "length": "The previous reply was cut off before it reached a final answer. Be more concise.",
    "empty": "The previous reply was empty.",
    "no_answer": "The previous reply did not end with a final answer. End with 'Answer: \\boxed{...}'.",
    "no_work": "The previous reply gave the answer without the calculation. Show the steps, one calculation a "
               "line, then the final answer line.",
    "incorrect": "The final answer is not correct.",
    "unverified": "The previous answer could not be verified.",
}
