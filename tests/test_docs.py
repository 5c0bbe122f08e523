"""The documentation: a short README that reaches every room, links that resolve, a
settings reference that matches ``Settings``, and no measurement diary."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from beatlight.settings_doc import CONFIGURATION_MD, REGENERATE, configuration_markdown

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
#: Every Markdown page of the documentation.
PAGES = sorted(
    [README, ROOT / "SECURITY.md", ROOT / "bench" / "README.md", ROOT / "tests" / "README.md"]
    + list((ROOT / "docs").glob("*.md"))
)
#: Phrases of a dated diary: the docs say what is; history lives in git.
DIARY = (
    "that morning",
    "that afternoon",
    "that evening",
    "that day",
    "slow day",
    "fast day",
    "the next step",
    "taken out again",
    "this session",
    "we tried",
    "ran slower",
    "before the fix",
)

_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")


def test_the_configuration_reference_is_current():
    on_disk = CONFIGURATION_MD.read_text(encoding="utf-8") if CONFIGURATION_MD.exists() else ""
    assert on_disk == configuration_markdown(), (
        f"docs/configuration.md is stale: run `{REGENERATE}` and commit the result"
    )


def test_the_configuration_reference_names_every_setting():
    from beatlight.settings import Settings

    text = configuration_markdown()
    missing = [name for name in Settings.model_fields if f"`BEATLIGHT_{name.upper()}`" not in text]
    assert not missing


def test_the_readme_is_at_most_300_lines():
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines <= 300, f"README.md has {lines} lines; move detail into a room under docs/"


def test_the_readme_links_every_room():
    """A newcomer reaches any room in two clicks: each is linked from the README itself."""
    linked = {target for target, _ in _links(README)}
    rooms = [page for page in PAGES if page != README]
    unlinked = [str(page.relative_to(ROOT)) for page in rooms if page not in linked]
    assert not unlinked, f"README.md does not link {unlinked}"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path):
    broken = []
    for target, fragment in _links(page):
        if not target.exists():
            broken.append(f"{target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}")
        elif fragment and target.suffix == ".md" and fragment not in _anchors(target):
            broken.append(f"{target.relative_to(ROOT)}#{fragment}")
    assert not broken, f"{page.relative_to(ROOT)} links to what does not exist: {broken}"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_no_page_keeps_a_diary(page: Path):
    text = " ".join(page.read_text(encoding="utf-8").lower().split())
    found = [phrase for phrase in DIARY if phrase in text]
    assert not found, f"{page.relative_to(ROOT)} tells history ({found}): say what is"


def test_the_readme_gives_the_test_command_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "bash scripts/test" in ci
    readme = README.read_text(encoding="utf-8")
    assert "bash scripts/test" in readme and "bash scripts/demo" in readme


def _links(page: Path) -> list[tuple[Path, str]]:
    """The page's relative links, as (file, fragment); a bare ``#x`` is the page itself."""
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    found = []
    for raw in _LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", raw):  # http:, https:, mailto:
            continue
        path, _, fragment = raw.partition("#")
        target = (page.parent / path).resolve() if path else page
        found.append((target, fragment))
    return found


def _anchors(page: Path) -> set[str]:
    """GitHub's anchors for the page's headings."""
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    anchors: set[str] = set()
    for line in text.splitlines():
        heading = _HEADING.match(line)
        if heading:
            title = re.sub(r"[`*]|\[([^\]]*)\]\([^)]*\)", r"\1", heading.group(1)).lower()
            slug = re.sub(r"[^\w\- ]", "", title).replace(" ", "-")
            base, n = slug, 1
            while slug in anchors:
                slug, n = f"{base}-{n}", n + 1
            anchors.add(slug)
    return anchors
