"""Prompt files: a short `# key: value` header, then `=== system ===`, `=== user ===` (and optional
`=== retry ===`; the compressor also needs `=== shorten ===`, see agents/compressor.py) sections with
`{{variable}}` slots, and optionally one worked exchange (`=== example_user ===` and `=== example_assistant ===`,
no slots) sent before the request: small models follow a shown example far
better than a described one. Each prompt's content hash is stored with every call."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

SECTION = re.compile(r"^=== *(\w+) *===[ \t]*$", re.MULTILINE)
SLOT = re.compile(r"\{\{\s*(\w+)\s*\}\}")
HEADER = re.compile(r"^#\s*(\w+)\s*:\s*(.*)$")

# The variables each role's template may use; a prompt using any other variable is an error.
ROLE_VARIABLES: dict[str, dict[str, set[str]]] = {
    "solver": {"system": set(), "user": {"question"}, "retry": {"previous_answer", "critique", "question"}},
    "critic": {"system": set(), "user": {"question", "reference_answer", "reasoning", "answer"}},
    "compressor": {"system": {"target_words"}, "user": {"question"},
                   "shorten": {"answer", "target_words", "level", "words"},
                   "retry": {"problem_with_previous", "target_words", "words"}},
    "judge": {"system": set(), "user": {"question", "reference_answer", "answer", "response"}},
}
REQUIRED_SECTIONS = {"system", "user"}
ROLE_SECTIONS = {"compressor": {"shorten"}}  # required besides system and user
EXAMPLE_SECTIONS = ("example_user", "example_assistant")
DEFAULT_DIR = "default"


class PromptError(ValueError):
    """A prompt file that cannot be used: names the file and what is wrong."""


@dataclass(frozen=True)
class Prompt:
    role: str
    path: str
    text: str
    sections: dict[str, str]
    header: dict[str, str] = field(default_factory=dict)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @property
    def version(self) -> str:
        """Short content hash, stored with every call made with this prompt."""
        return self.sha256[:16]

    def render(self, section: str, **values: object) -> str:
        """Fill one section's `{{slots}}`; a missing value is an error."""
        template = self.sections.get(section)
        if template is None:
            raise PromptError(f"{self.path}: no === {section} === section")

        def fill(match: re.Match[str]) -> str:
            name = match[1]
            if name not in values:
                raise PromptError(f"{self.path}: section {section!r} needs a value for {{{{{name}}}}}")
            return str(values[name])

        return SLOT.sub(fill, template)

    def messages(self, **values: object) -> list[dict[str, str]]:
        """[system, (example user, example assistant,) user] messages; the `retry` section is appended to the user
        message, after a blank line, when `retry=True`."""
        retry = bool(values.pop("retry", False))
        return [{"role": "system", "content": self.render("system", **values)}, *self.example_messages(),
                {"role": "user", "content": self.request("user", retry, **values)}]

    def request(self, section: str, retry: bool, **values: object) -> str:
        """`section` rendered, followed by the `retry` section as a paragraph of its own when `retry` (sections
        are stored without their surrounding blank lines)."""
        text = self.render(section, **values)
        return text + "\n\n" + self.render("retry", **values) if retry else text

    def example_messages(self) -> list[dict[str, str]]:
        """The worked exchange (user, assistant), or nothing."""
        return [{"role": role, "content": self.sections[f"example_{role}"]} for role in ("user", "assistant")
                if EXAMPLE_SECTIONS[0] in self.sections]


def parse_prompt(text: str, path: str, role: str) -> Prompt:
    """Parse and check a prompt file's text for `role`."""
    if role not in ROLE_VARIABLES:
        raise PromptError(f"{path}: unknown role {role!r}")
    parts = SECTION.split(text)
    header: dict[str, str] = {}
    for line in parts[0].splitlines():
        match = HEADER.match(line.strip())
        if match:
            header[match[1]] = match[2].strip()
        elif line.strip():
            raise PromptError(f"{path}: before the first === section === only '# key: value' lines may stand: {line!r}")
    if header.get("role", role) != role:
        raise PromptError(f"{path}: its header says role {header['role']!r}, but it is used as the {role} prompt")
    sections = {parts[i].lower(): parts[i + 1].strip("\n") for i in range(1, len(parts) - 1, 2)}
    missing = (REQUIRED_SECTIONS | ROLE_SECTIONS.get(role, set())) - sections.keys()
    if missing:
        raise PromptError(f"{path}: missing section(s) {sorted(missing)} (write them as '=== user ===')")
    if len(set(EXAMPLE_SECTIONS) & sections.keys()) == 1:
        raise PromptError(f"{path}: an example needs both sections, === example_user === and === example_assistant ===")
    allowed = ROLE_VARIABLES[role] | {name: set() for name in EXAMPLE_SECTIONS}
    for name, body in sections.items():
        if name not in allowed:
            raise PromptError(f"{path}: unknown section {name!r} for a {role} prompt; allowed: {sorted(allowed)}")
        unknown = set(SLOT.findall(body)) - allowed[name]
        if unknown:
            raise PromptError(
                f"{path}: section {name!r} uses {sorted(unknown)}; a {role} prompt's {name} section may use "
                f"{sorted(allowed[name]) or 'no variables'}"
            )
    return Prompt(role=role, path=path, text=text, sections=sections, header=header)


def load_prompt(role: str, directory: str | Path | None = None, file: str | Path | None = None) -> Prompt:
    """The `role` prompt: from `file`, else `<directory>/<role>.md`, else the packaged default."""
    if file is not None:
        source = Path(file)
    elif directory is not None:
        source = Path(directory) / f"{role}.md"
    else:
        packaged = resources.files("distill.agents").joinpath("prompt_files", DEFAULT_DIR, f"{role}.md")
        return parse_prompt(packaged.read_text(encoding="utf-8"), f"agents/prompt_files/{DEFAULT_DIR}/{role}.md", role)
    if not source.is_file():
        raise PromptError(f"{source}: no such prompt file for the {role} role")
    return parse_prompt(source.read_text(encoding="utf-8"), str(source), role)
