"""The docs index reaches every page, and every relative link and anchor resolves."""

from __future__ import annotations

import re
from pathlib import Path

from .conftest import DOCS, Page, doc_paths, parse_page

_EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # http:, https:, mailto: ...


def broken_links(page: Page) -> list[str]:
    """Return ``line: target (why)`` for each relative link of ``page`` that does not resolve.

    A link resolves when its file exists (relative to the page) and, for a link into a
    Markdown page with ``#anchor``, when that page has a heading with that anchor.
    """
    broken: list[str] = []
    for line, target in page.links():
        if _EXTERNAL.match(target):
            continue
        file_part, _, anchor = target.partition("#")
        destination = (page.path.parent / file_part).resolve() if file_part else page.path
        if not destination.exists():
            broken.append(f"{line}: {target} (no such file)")
            continue
        if anchor and destination.suffix == ".md":
            anchors = page.anchors() if not file_part else parse_page(destination).anchors()
            if anchor not in anchors:
                broken.append(f"{line}: {target} (no heading with anchor #{anchor})")
    return broken


def linked_pages(page: Page) -> set[Path]:
    """Return the local files ``page`` links to."""
    targets = (t.partition("#")[0] for _, t in page.links() if not _EXTERNAL.match(t))
    return {(page.path.parent / t).resolve() for t in targets if t}


def test_every_page_in_docs_is_linked_from_the_index(index_page: Page) -> None:
    linked = linked_pages(index_page)
    missing = [p.name for p in doc_paths() if p.name != "index.md" and p.resolve() not in linked]
    assert not missing, f"docs/index.md does not link: {', '.join(missing)}"


def test_every_relative_link_points_to_an_existing_file_and_heading(page: Page) -> None:
    assert not broken_links(page), f"{page.name}: broken links: {broken_links(page)}"


def test_the_index_has_a_section_for_each_audience(index_page: Page) -> None:
    headings = " ".join(line.lower() for _, line in index_page.prose if line.startswith("#"))
    for audience in ("package authors", "tenant operators", "marketplace ci"):
        assert audience in headings, f"docs/index.md has no section for {audience}"


def test_a_missing_file_or_heading_is_reported_and_code_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "there.md").write_text("# There\n\n## Known `limits`\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n"
        "[ok](there.md) [ok too](there.md#known-limits) [self](#page) [web](https://x.org/y)\n"
        "[gone](gone.md) [bad anchor](there.md#nowhere) [bad self](#elsewhere)\n"
        "`[not a link](code.md)`\n\n"
        "```\n[also not](block.md)\n```\n",
        encoding="utf-8",
    )
    assert broken_links(parse_page(page)) == [
        "4: gone.md (no such file)",
        "4: there.md#nowhere (no heading with anchor #nowhere)",
        "4: #elsewhere (no heading with anchor #elsewhere)",
    ]


def test_an_unlinked_page_is_reported(tmp_path: Path) -> None:
    index = tmp_path / "index.md"
    index.write_text("# Docs\n\n- [a](a.md)\n", encoding="utf-8")
    assert linked_pages(parse_page(index)) == {(tmp_path / "a.md").resolve()}
    assert DOCS / "index.md" in doc_paths()
