"""Prompt files: the packaged defaults load; bad files are errors naming the file; an example exchange is sent
between the system message and the request."""

from __future__ import annotations

from pathlib import Path

import pytest
from distill.agents.prompts import ROLE_VARIABLES, PromptError, load_prompt, parse_prompt

SOLVER = "# role: solver\n=== system ===\nSolve it.\n=== user ===\n{{question}}\n"


@pytest.mark.parametrize("role", sorted(ROLE_VARIABLES))
def test_every_default_prompt_loads(role):
    prompt = load_prompt(role)
    assert prompt.role == role and len(prompt.version) == 16 and {"system", "user"} <= prompt.sections.keys()


@pytest.mark.parametrize(("text", "message"), [
    ("=== system ===\nx\n", "missing section(s) ['user']"),
    ("# role: critic\n" + SOLVER.split("\n", 1)[1], "its header says role 'critic'"),
    ("stray line\n" + SOLVER, "only '# key: value' lines"),
    (SOLVER + "=== hints ===\nx\n", "unknown section 'hints'"),
    (SOLVER.replace("{{question}}", "{{answer}}"), "uses ['answer']"),
    (SOLVER + "=== example_user ===\nQ\n", "an example needs both sections"),
    (SOLVER + "=== example_user ===\n{{question}}\n=== example_assistant ===\nA\n", "uses ['question']"),
])
def test_bad_prompt_files_name_the_file_and_the_fault(text, message):
    with pytest.raises(PromptError) as caught:
        parse_prompt(text, "my/solver.md", "solver")
    assert "my/solver.md" in str(caught.value) and message in str(caught.value)


def test_an_example_exchange_goes_between_system_and_request():
    plain = parse_prompt(SOLVER, "p.md", "solver")
    shown = parse_prompt(SOLVER + "=== example_user ===\n1 + 1?\n=== example_assistant ===\nAnswer: 2\n", "p.md",
                         "solver")
    assert [m["role"] for m in plain.messages(question="2 + 2?")] == ["system", "user"]
    assert shown.messages(question="2 + 2?") == [
        {"role": "system", "content": "Solve it."}, {"role": "user", "content": "1 + 1?"},
        {"role": "assistant", "content": "Answer: 2"}, {"role": "user", "content": "2 + 2?"}]
    assert shown.version != plain.version


def test_a_missing_file_and_a_missing_value(tmp_path: Path):
    with pytest.raises(PromptError, match="no such prompt file for the solver role"):
        load_prompt("solver", directory=tmp_path)
    with pytest.raises(PromptError, match=r"needs a value for \{\{question\}\}"):
        parse_prompt(SOLVER, "p.md", "solver").messages()


def test_the_retry_section_is_a_paragraph_of_its_own():
    retry = "=== retry ===\n\nYou answered {{previous_answer}}: {{critique}}\n"
    prompt = parse_prompt(SOLVER + retry, "p.md", "solver")
    user = prompt.messages(question="2 + 2?", retry=True, previous_answer="5", critique="wrong")[-1]["content"]
    assert user == "2 + 2?\n\nYou answered 5: wrong"
