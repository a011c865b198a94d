"""The README is a front page and the manual in docs/ matches the code: every link resolves,
every repository path named exists, every `exohunter` command and option named is one the CLI
has, every `make` target named is in the Makefile. (The deploy page's own checks against
docker-compose.yml: tests/unit/test_deploy_files.py.)
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer

from scoring import cli, settings

ROOT = settings.PROJECT_ROOT
README = ROOT / "README.md"
PAGES = sorted((ROOT / "docs").glob("*.md"))
DOCS = [README, *PAGES]
COMPONENT_PAGES = (
    "warehouse",
    "ingest",
    "classifier",
    "anomalies",
    "lightcurves",
    "data-quality",
    "dashboards",
    "deploy",
    "reports",
    "benchmarks",
)
# Top-level folders whose files the docs name by path.
REPO_DIRS = (
    "scoring",
    "tests",
    "docs",
    "data",
    "dbt_project",
    "superset",
    "docker",
    "expectations",
    "notebooks",
    "requirements",
    ".ci",
)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
CODE_SPAN = re.compile(r"`([^`]+)`")  # a span may wrap onto the next line
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.M | re.S)


def text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def code(path: Path) -> list[str]:
    """Inline code spans and the lines of fenced blocks."""
    body = text(path)
    lines = [line for block in FENCE.findall(body) for line in block.splitlines()]
    spans = [" ".join(span.split()) for span in CODE_SPAN.findall(FENCE.sub("", body))]
    return spans + lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    plain = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return plain.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    body = FENCE.sub("", text(path))
    return {slug(h) for h in re.findall(r"^#{1,6} (.+)$", body, re.M)}


# -- the front page -----------------------------------------------------------------------------
def test_readme_is_a_front_page() -> None:
    lines = text(README).splitlines()
    assert len(lines) <= 150, f"README.md has {len(lines)} lines; the manual belongs in docs/"
    body = "\n".join(lines)
    assert re.search(r"^make demo\b", body, re.M)
    assert re.search(r"^make test\b", body, re.M), "the README's test command is `make test`"


def test_readme_layout_names_every_subpackage() -> None:
    layout = next(block for block in FENCE.findall(text(README)) if "scoring/" in block)
    for package in sorted(p.parent for p in (ROOT / "scoring").glob("*/__init__.py")):
        assert f"  {package.name}/ " in layout, f"README's layout omits scoring/{package.name}/"


def test_readme_links_every_page_of_the_manual() -> None:
    links = set(LINK.findall(text(README)))
    for page in PAGES:
        target = f"docs/{page.name}"
        assert any(link.split("#")[0] == target for link in links), f"README omits {target}"


def test_one_page_per_component() -> None:
    for name in COMPONENT_PAGES:
        assert (ROOT / "docs" / f"{name}.md").is_file(), f"docs/{name}.md is missing"


# -- links and paths ----------------------------------------------------------------------------
@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_resolves(doc: Path) -> None:
    for link in LINK.findall(text(doc)):
        if re.match(r"[a-z]+://", link):
            continue
        target, _, anchor = link.partition("#")
        path = (doc.parent / target).resolve() if target else doc
        assert path.exists(), f"{doc.name}: link {link} points at nothing"
        if anchor:
            assert anchor in anchors(path), f"{doc.name}: {link}: no such heading"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_repository_path_named_exists(doc: Path) -> None:
    pattern = re.compile(rf"(?<![\w/$.-])((?:{'|'.join(map(re.escape, REPO_DIRS))})/[\w./-]*)")
    for snippet in code(doc):
        for name in pattern.findall(snippet):
            if any(mark in name for mark in ("NNNN", "<")):
                continue
            path = name.split(":")[0].rstrip(".")
            assert (ROOT / path).exists(), f"{doc.name} names {name}, which does not exist"


# -- commands -----------------------------------------------------------------------------------
def exohunter_commands(doc: Path) -> list[list[str]]:
    """The words after each `exohunter` in the code of ``doc``, up to the end of the command."""
    # at the start, or run as a program: `.venv/bin/exohunter`, `$(exohunter …)`, `&& exohunter`
    # (not the role or database of `psql -U exohunter exohunter`)
    program = re.compile(r"(?:^|(?<=[/(\"])|(?<=&& ))exohunter\b((?: +[^\s|#&)`\"]+)*)")
    return [m.group(1).split() for snippet in code(doc) for m in program.finditer(snippet)]


def check_command(words: list[str]) -> None:
    command = typer.main.get_command(cli.app)
    path = ["exohunter"]
    while hasattr(command, "get_command") and words and not words[0].startswith("-"):
        name = words[0]
        if name.isupper() or not re.fullmatch(r"[a-z][\w-]*", name):
            return  # a placeholder (`exohunter COMMAND --help`)
        sub = command.get_command(None, name)
        assert sub is not None, f"`{' '.join(path)}` has no subcommand {name!r}"
        command, path, words = sub, [*path, name], words[1:]
    if path[-1] == "dbt":
        return  # passes everything on to dbt
    options = {"--help"}
    for param in command.params:
        options.update(param.opts)
        options.update(param.secondary_opts)
    for word in words:
        option = word.strip("[]").split("=")[0]
        if option.startswith("--"):
            assert option in options, f"`{' '.join(path)}` has no option {option}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_exohunter_command_named_exists(doc: Path) -> None:
    commands = exohunter_commands(doc)
    for words in commands:
        check_command(words)


def test_the_command_check_sees_the_commands() -> None:
    """Guard the parser above: the command-line page names every top-level command."""
    page = ROOT / "docs" / "command-line.md"
    named = {words[0] for words in exohunter_commands(page) if words}
    every = set(typer.main.get_command(cli.app).commands)  # type: ignore[attr-defined]
    assert every <= named, f"docs/command-line.md omits {sorted(every - named)}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_make_target_named_exists(doc: Path) -> None:
    targets = set(re.findall(r"^([\w-]+):", text(ROOT / "Makefile"), re.M))
    for snippet in code(doc):
        for target in re.findall(r"(?:^|(?<=\s))make ([\w-]+)", snippet):
            assert target in targets, f"{doc.name} names `make {target}`, not in the Makefile"
