"""The README and docs/ stay true to the repository: every relative link resolves (to a
file, and to a heading where it names one), and every `make` target, `fitsense` command
and repository path they name exists."""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]

FENCE = re.compile(r"^[ \t]*(```|~~~).*?^[ \t]*\1[ \t]*$", re.M | re.S)
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.M)
SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)
REPO_PATH = re.compile(r"^(?:fitsense_[a-z]+|tests|bench|docs|deploy|infra|docker|sql)/")


def prose(text: str) -> str:
    """The text outside fenced code blocks."""
    return FENCE.sub("", text)


def code(text: str) -> list[str]:
    """The fenced code blocks and the inline code spans."""
    fenced = [m.group(0) for m in FENCE.finditer(text)]
    return fenced + [m.group(2) for m in CODE_SPAN.finditer(prose(text))]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "").strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


@functools.cache
def anchors(path: Path) -> frozenset[str]:
    seen: dict[str, int] = {}
    found = set()
    for heading in HEADING.findall(prose(path.read_text())):
        base = slug(heading)
        n = seen.get(base, 0)
        seen[base] = n + 1
        found.add(base if n == 0 else f"{base}-{n}")
    return frozenset(found)


def broken_links(page: Path) -> list[str]:
    """The relative links of a markdown page whose file, or heading, does not exist."""
    broken = []
    for target in LINK.findall(prose(page.read_text())):
        if SCHEME.match(target):
            continue
        file, _, anchor = target.partition("#")
        resolved = (page.parent / file).resolve() if file else page
        if not resolved.exists() or (
            anchor and resolved.suffix == ".md" and anchor not in anchors(resolved)
        ):
            broken.append(target)
    return broken


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(ROOT).as_posix() for p in PAGES])
def test_every_relative_link_resolves(page: Path) -> None:
    assert broken_links(page) == []


def test_the_link_checker_catches_a_broken_link(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other page\n\n## A section\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n"
        "[fine](other.md), [fine too](other.md#a-section), [here](#page), "
        "[outside](https://example.com/missing.md)\n"
        "[gone](missing.md), [no such heading](other.md#nowhere)\n\n"
        "```\n[in a code block](also-missing.md)\n```\n"
    )
    assert broken_links(page) == ["missing.md", "other.md#nowhere"]


def test_the_docs_pages_are_linked_from_the_readme() -> None:
    linked = {
        (README.parent / t.partition("#")[0]).resolve() for t in LINK.findall(README.read_text())
    }
    assert [p.name for p in PAGES[1:] if p.resolve() not in linked] == []


def make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z][\w-]*)\s*:(?!=)", text, re.M))


def test_every_make_target_the_readme_names_exists() -> None:
    named = set(re.findall(r"\bmake ([a-z][\w-]*)", README.read_text()))
    assert {"run", "test"} <= named
    assert sorted(named - make_targets()) == []


FITSENSE = Path(sys.executable).parent / "fitsense"
COMMAND = re.compile(r"(?<![\w./-])fitsense((?: [a-z][a-z-]*(?:\|[a-z][a-z-]*)*)+)")


@functools.cache
def help_text(*command: str) -> str:
    result = subprocess.run(
        [str(FITSENSE), *command, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"},
    )
    assert result.returncode == 0, f"fitsense {' '.join(command)} --help: {result.stderr}"
    return result.stdout


def subcommands(*command: str) -> set[str]:
    """The commands `fitsense ... --help` lists (rich panels or click's plain list)."""
    text = help_text(*command)
    if "Commands" not in text:
        return set()
    listing = text.split("Commands", 1)[1]
    return set(re.findall(r"^(?:[│|] |  )([a-z][\w-]*)(?=\s)", listing, re.M))


def named_commands(text: str) -> list[tuple[tuple[str, ...], list[str]]]:
    """Every `fitsense <command> [<subcommand>]` in the code of a page (`a|b` spelled out),
    with the options written after it on the same line."""
    named = []
    for snippet in code(text):
        for match in COMMAND.finditer(snippet):
            words = match.group(1).split()
            rest = re.split(r"\n|(?<![\w./-])fitsense ", snippet[match.end() :], maxsplit=1)[0]
            options = re.findall(r"(?<![\w-])--[a-z][a-z-]*", rest)
            top = words[0]
            if top in subcommands() and subcommands(top) and len(words) > 1:
                subs = words[1].split("|")
                named.extend(((top, sub), options if len(subs) == 1 else []) for sub in subs)
            else:
                named.append(((top,), options))
    return named


def options(*command: str) -> set[str]:
    return set(re.findall(r"--[a-z][a-z-]*", help_text(*command)))


def unknown_commands(text: str) -> list[str]:
    """The commands, and the options of known commands, that `fitsense --help` lacks."""
    unknown = []
    for command, written in named_commands(text):
        parent, name = command[:-1], command[-1]
        shown = "fitsense " + " ".join(command)
        if name not in subcommands(*parent):
            unknown.append(shown)
        else:
            unknown.extend(f"{shown} {o}" for o in written if o not in options(*command))
    return unknown


@pytest.mark.skipif(not FITSENSE.exists(), reason="the fitsense command is not installed")
@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(ROOT).as_posix() for p in PAGES])
def test_every_fitsense_command_named_exists(page: Path) -> None:
    assert unknown_commands(page.read_text()) == []


@pytest.mark.skipif(not FITSENSE.exists(), reason="the fitsense command is not installed")
def test_the_command_checker_catches_an_unknown_command() -> None:
    text = (
        "Run `fitsense up --no-pipeline`, `fitsense model promote v1`, `fitsense model demote`,"
        " `fitsense launch` and `fitsense serve --turbo`."
    )
    assert unknown_commands(text) == [
        "fitsense model demote",
        "fitsense launch",
        "fitsense serve --turbo",
    ]


def repository_paths(text: str) -> set[str]:
    """The repository paths written in code: words that start with a top-level folder."""
    paths = set()
    for snippet in code(text):
        for word in snippet.split():
            word = word.strip("\"'`,;:()[]")
            if REPO_PATH.match(word):
                paths.add(word)
    return paths


def exists(path: str) -> bool:
    """A path, or a pattern (`*`, `<name>`, `NNNN`, `{a,b}`) that matches something."""
    pattern = re.sub(r"<[^>]*>|NNNN|\{[^}]*\}", "*", path).replace("…", "*")
    if "*" in pattern:
        return any(ROOT.glob(pattern.rstrip("/")))
    return (ROOT / path).exists()


def test_every_repository_path_named_exists() -> None:
    missing = sorted(
        f"{page.relative_to(ROOT).as_posix()}: {path}"
        for page in PAGES
        for path in repository_paths(page.read_text())
        if not exists(path)
    )
    assert missing == [], "paths named in the docs that do not exist:\n" + "\n".join(missing)


def test_the_path_checker_catches_a_missing_path() -> None:
    text = "See `fitsense_core/settings.py`, `sql/NNNN_*.sql`, `tests/test_api_*` and `fitsense_core/nowhere.py`."
    assert sorted(p for p in repository_paths(text) if not exists(p)) == [
        "fitsense_core/nowhere.py"
    ]
