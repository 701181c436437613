"""Reading the Markdown documentation: pages, fenced code blocks, links and headings.

The docs tests check the documentation against the repository and the code: every page
is reachable from the index, every relative link and anchor resolves, every
``fleetprompt`` invocation shown names a real command with real options, and every
``FLEETPROMPT_*`` variable the code reads is documented.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

_FENCE = re.compile(r"^\s*(```+|~~~+)\s*([\w+-]*)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
# [text](target) but not ![image](...) alt text handling matters little: images are links too.
_LINK = re.compile(r"\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_INLINE_CODE = re.compile(r"(`+)(.+?)\1")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


@dataclass(frozen=True)
class CodeBlock:
    """One fenced code block: its info string and its lines with their line numbers."""

    language: str
    lines: tuple[tuple[int, str], ...]


@dataclass
class Page:
    """A Markdown file split into prose lines and fenced code blocks."""

    path: Path
    text: str
    prose: list[tuple[int, str]] = field(default_factory=list)
    blocks: list[CodeBlock] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The path relative to the repository root, for messages and test ids."""
        if self.path.is_relative_to(ROOT):
            return self.path.relative_to(ROOT).as_posix()
        return self.path.name

    def links(self) -> list[tuple[int, str]]:
        """Return ``(line, target)`` for every Markdown link outside code."""
        found: list[tuple[int, str]] = []
        for number, line in self.prose:
            # Code spans may contain brackets and parentheses that are not links.
            bare = _INLINE_CODE.sub(lambda m: " " * len(m.group(0)), line)
            found += [(number, m.group(1)) for m in _LINK.finditer(bare)]
        return found

    def anchors(self) -> set[str]:
        """Return the anchors GitHub generates for this page's headings."""
        seen: dict[str, int] = {}
        anchors: set[str] = set()
        for _, line in self.prose:
            match = _HEADING.match(line)
            if not match:
                continue
            slug = github_anchor(match.group(2))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            anchors.add(slug if count == 0 else f"{slug}-{count}")
        return anchors


def github_anchor(heading: str) -> str:
    """Return the anchor GitHub gives a heading: lowercase, punctuation dropped, - for spaces."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def parse_page(path: Path, text: str | None = None) -> Page:
    """Split ``path`` (or ``text``, read from it by default) into prose and code blocks."""
    body = path.read_text(encoding="utf-8") if text is None else text
    page = Page(path=path, text=body)
    fence: str | None = None
    language = ""
    current: list[tuple[int, str]] = []
    for number, line in enumerate(body.splitlines(), start=1):
        match = _FENCE.match(line)
        if fence is None:
            if match:
                fence, language, current = match.group(1), match.group(2), []
            else:
                page.prose.append((number, line))
        elif line.strip().startswith(fence[0] * len(fence)) and not line.strip()[len(fence) :]:
            page.blocks.append(CodeBlock(language, tuple(current)))
            fence = None
        else:
            current.append((number, line))
    return page


def doc_paths() -> list[Path]:
    """Every Markdown page in docs/."""
    return sorted(DOCS.glob("*.md"))


def checked_paths() -> list[Path]:
    """The pages whose links and commands are checked: docs/*.md and the README."""
    return [*doc_paths(), ROOT / "README.md"]


@dataclass(frozen=True)
class Invocation:
    """A ``fleetprompt ...`` command line shown in the docs, split into words."""

    page: str
    line: int
    words: tuple[str, ...]

    @property
    def id(self) -> str:
        """``docs/x.md:12``, the test id."""
        return f"{self.page}:{self.line}"


def _command_lines(block: CodeBlock) -> list[tuple[int, str]]:
    """Return the lines of ``block`` that are commands (joined across ``\\`` breaks).

    In a block that uses ``$ `` prompts only the prompted lines are commands; the others
    are output.
    """
    prompted = any(line.lstrip().startswith("$ ") for _, line in block.lines)
    joined: list[tuple[int, str]] = []
    pending: tuple[int, str] | None = None
    for number, line in block.lines:
        if pending is not None:
            start, text = pending
            line, number = text + " " + line.strip(), start
        elif prompted:
            if not line.lstrip().startswith("$ "):
                continue
            line = line.lstrip()[2:]
        if line.rstrip().endswith("\\"):
            pending = (number, line.rstrip()[:-1])
            continue
        pending = None
        joined.append((number, line))
    return joined


def split_words(command: str) -> list[str]:
    """Split a shell line into words (shell quoting honoured, a trailing comment dropped)."""
    command = re.sub(r"(^|\s)#\s.*$", "", command)
    try:
        return shlex.split(command)
    except ValueError:
        return command.split()


def _commands_in(line: str) -> list[tuple[str, ...]]:
    """Return the words of each ``fleetprompt`` command on a shell ``line``."""
    commands: list[tuple[str, ...]] = []
    segment: list[str] = []
    for word in [*split_words(line), "&&"]:
        if word in ("&&", "||", ";", "|"):
            while segment and _ASSIGNMENT.match(segment[0]):
                segment.pop(0)  # FLEETPROMPT_HOME=... fleetprompt info
            if segment and segment[0] == "fleetprompt":
                commands.append(tuple(segment[1:]))
            segment = []
        else:
            segment.append(word)
    return commands


def invocations(page: Page) -> list[Invocation]:
    """Return every ``fleetprompt`` command in ``page``'s code blocks and inline code.

    In a code block a command starts a line or follows ``&&``, ``||``, ``;`` or ``|``, and
    its words end at the next such separator. In prose, an inline code span that starts
    with ``fleetprompt `` is a command.
    """
    found: list[Invocation] = []
    for block in page.blocks:
        for number, line in _command_lines(block):
            found += [Invocation(page.name, number, words) for words in _commands_in(line)]
    for number, line in page.prose:
        for match in _INLINE_CODE.finditer(line):
            if match.group(2).strip().startswith("fleetprompt "):
                found += [
                    Invocation(page.name, number, words) for words in _commands_in(match.group(2))
                ]
    return found


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize ``page`` over docs/*.md and the README, ``invocation`` over their commands."""
    pages = [parse_page(path) for path in checked_paths()]
    if "page" in metafunc.fixturenames:
        metafunc.parametrize("page", pages, ids=[p.name for p in pages])
    if "invocation" in metafunc.fixturenames:
        calls = [call for page in pages for call in invocations(page)]
        metafunc.parametrize("invocation", calls, ids=[c.id for c in calls])


@pytest.fixture
def index_page() -> Page:
    """docs/index.md, parsed."""
    return parse_page(DOCS / "index.md")
