"""The documentation holds together: a short README, links that resolve, and every "DESIGN §" reference
of the code, tests and docs pointing at a section of docs/design.md. Fast: reads files only."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
DESIGN = DOCS / "design.md"
README_MAX_LINES = 150

# Where "DESIGN §" references are looked for.
CITING = (ROOT / "src", ROOT / "tests", DOCS, README)
SKIP_DIRS = {"__pycache__", ".pytest_cache"}
SKIP_SUFFIXES = {".pyc", ".xlsx", ".png", ".pdf", ".whl", ".gz", ".zip"}

SECTION = r"\d+(?:\.\d+)?"
# "DESIGN §5", "DESIGN §3.1", and the sections listed or ranged after it: "DESIGN §1, §4, §9",
# "DESIGN §5 and §7", "DESIGN §6-§7", "DESIGN §3.1–3.3" (a range's ends are checked).
DESIGN_REF = re.compile(
    rf"DESIGN\s*§\s*(?P<first>{SECTION})"
    rf"(?P<more>(?:(?:\s*[,;&]\s*|\s+and\s+)§\s*{SECTION}|\s*[-–]\s*§\s*{SECTION}|[-–]{SECTION})*)"
)
FOLLOWING = re.compile(rf"§?\s*({SECTION})")
HEADING = re.compile(rf"^#{{2,6}}\s+({SECTION})\.?\s", re.M)

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.M | re.S)
INLINE_CODE = re.compile(r"`[^`\n]*`")
INLINE_LINK = re.compile(r"!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'(][^)]*)?\)")
REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]\n]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)
EXTERNAL = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:|//|#)")


def design_refs(text: str) -> list[str]:
    """Every section number a text cites as DESIGN §…"""
    refs = []
    for m in DESIGN_REF.finditer(text):
        refs.append(m["first"])
        refs.extend(FOLLOWING.findall(m["more"]))
    return refs


def design_sections(text: str) -> set[str]:
    """Section numbers of the headings: `## 5. Indicators` → 5, `### 3.1 Education …` → 3.1."""
    return set(HEADING.findall(text))


def relative_links(text: str) -> list[str]:
    """Targets of the markdown links of a text that point into the repository (code excluded)."""
    prose = INLINE_CODE.sub("", FENCE.sub("", text))
    targets = INLINE_LINK.findall(prose) + REFERENCE_LINK.findall(prose)
    return [t for t in targets if not EXTERNAL.match(t)]


def broken_links(path: Path) -> list[str]:
    broken = []
    for target in relative_links(path.read_text(encoding="utf-8")):
        file_part = target.split("#", 1)[0].split("?", 1)[0]
        if file_part and not (path.parent / file_part).exists():
            broken.append(target)
    return broken


def citing_files():
    for top in CITING:
        if top.is_file():
            yield top
            continue
        for path in sorted(top.rglob("*")):
            parts = set(path.relative_to(ROOT).parts)
            if (not path.is_file() or parts & SKIP_DIRS or any(p.endswith(".egg-info") for p in parts)
                    or path.suffix in SKIP_SUFFIXES):
                continue
            yield path


def markdown_files() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


# ------------------------------------------------------------------------------------------ README


def test_readme_is_short():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; keep it at most {README_MAX_LINES}, move detail to docs/"


def test_readme_starts_with_the_two_set_up_commands_ci_runs():
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"^```bash\n(.*?)\n```", text, re.M | re.S)
    assert blocks[:2] == [
        "python3.11 -m venv .venv && .venv/bin/pip install -r requirements.txt -e . && .venv/bin/spm demo",
        "python3.11 -m venv .venv && .venv/bin/pip install -q -r requirements-test.txt -e . && .venv/bin/pytest",
    ], "the demo and the test commands must stay the README's first two code blocks, exactly"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert blocks[1] in ci.splitlines(), ".ci/run must run the README's test command exactly"
    assert '.venv/bin/pytest -m "not postgres and not airflow and not slow and not system" -q -n auto' in text


def test_readme_points_at_the_design_in_the_repository():
    text = README.read_text(encoding="utf-8")
    assert "docs/design.md" in text
    assert "DESIGN §" in DESIGN.read_text(encoding="utf-8").splitlines()[0]


# ------------------------------------------------------------------------------------------ links


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(path):
    assert broken_links(path) == [], f"{path.relative_to(ROOT)} links to files that do not exist"


def test_link_check_catches_a_broken_link(tmp_path):
    (tmp_path / "there.md").write_text("x")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](there.md) [ok too](there.md#anchor) [web](https://example.org/x.md) [here](#top)\n"
        "`[in code](nowhere.md)`\n```\n[in a block](nowhere.md)\n```\n"
        "[gone](missing.md#part) ![pic](img/none.png)\n[ref]: ../absent.md\n"
    )
    assert broken_links(page) == ["missing.md#part", "img/none.png", "../absent.md"]


# ------------------------------------------------------------------------------------------ DESIGN §


def test_design_has_the_numbered_sections():
    sections = design_sections(DESIGN.read_text(encoding="utf-8"))
    assert {str(n) for n in range(1, 11)} | {"3.1", "3.2", "3.3", "3.4"} <= sections


def test_every_design_reference_names_a_section_of_docs_design():
    sections = design_sections(DESIGN.read_text(encoding="utf-8"))
    unknown, cited = [], 0
    for path in citing_files():
        data = path.read_bytes()
        if b"DESIGN" not in data:
            continue
        for n, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
            for ref in design_refs(line):
                cited += 1
                if ref not in sections:
                    unknown.append(f"{path.relative_to(ROOT)}:{n}: DESIGN §{ref}")
    assert cited > 100, f"only {cited} DESIGN § references found: is the scan looking in the right places?"
    assert unknown == [], "references to sections docs/design.md does not have:\n" + "\n".join(unknown)


def test_reference_check_reads_lists_and_ranges_and_catches_a_bogus_section():
    sign = "DESIGN §"  # built here, so this file cites nothing itself
    text = (f"({sign}5) ({sign}3.1). {sign}1, §4, §9; {sign}6-§7, §10 and {sign}3.1–3.3. "
            f"{sign}5 and §7, 2026 figures; {sign}" + "42")
    assert design_refs(text) == ["5", "3.1", "1", "4", "9", "6", "7", "10", "3.1", "3.3", "5", "7", "42"]
    sections = design_sections("## 5. Indicators\n### 3.1 Education — Dapodik\n## 7. Published tables\n")
    assert sections == {"5", "3.1", "7"}
    assert [r for r in design_refs(text) if r not in sections] == ["1", "4", "9", "6", "10", "3.3", "42"]
