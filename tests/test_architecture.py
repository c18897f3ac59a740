"""The packages' import rules, as pyproject.toml's [tool.importlinter] contracts state them:
fitsense_core is the base and imports none of the packages built on it; fitsense_serving
and fitsense_api import neither the pipeline nor the command; fitsense_assets does not
import the API; nothing imports fitsense_cli. Each check is shown able to fail."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
CONTRACTS = {contract["id"]: contract for contract in CONFIG["contracts"]}
# The packages built on fitsense_core; its code, comments and docstrings name none of them.
ABOVE_CORE = re.compile(rb"fitsense_(api|assets|serving|cli)")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """import-linter on the packages under ``root`` with ``root``'s pyproject.toml."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache", "--no-logo"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )


def mentions_above_core(package: Path) -> list[str]:
    """Every line of every file under ``package`` that names a package above fitsense_core,
    as `grep -rn "fitsense_\\(api\\|assets\\|serving\\|cli\\)"` prints them."""
    found = []
    for path in sorted(package.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        for number, line in enumerate(path.read_bytes().splitlines(), start=1):
            if ABOVE_CORE.search(line):
                found.append(f"{path.relative_to(package.parent)}:{number}: {line.decode()}")
    return found


def test_every_package_keeps_its_import_rules() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, f"import rules broken:\n{result.stdout}{result.stderr}"
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in result.stdout, result.stdout


def test_every_package_is_under_a_rule() -> None:
    """A new top-level package has to be placed among the others."""
    packages = {p.parent.name for p in ROOT.glob("fitsense_*/__init__.py")}
    assert packages == set(CONFIG["root_packages"])
    assert packages - {"fitsense_cli"} == {c["source_modules"][0] for c in CONTRACTS.values()}
    assert all("fitsense_cli" in c["forbidden_modules"] for c in CONTRACTS.values())


@pytest.fixture(scope="module")
def project_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packages and pyproject.toml, copied where a test may plant a fault."""
    root = tmp_path_factory.mktemp("project")
    shutil.copy(ROOT / "pyproject.toml", root)
    ignore = shutil.ignore_patterns("__pycache__")
    for package in CONFIG["root_packages"]:
        shutil.copytree(ROOT / package, root / package, ignore=ignore)
    return root


@pytest.mark.parametrize(
    ("contract_id", "forbidden"),
    [(id_, module) for id_, c in sorted(CONTRACTS.items()) for module in c["forbidden_modules"]],
)
def test_a_forbidden_import_breaks_its_contract(
    project_copy: Path, contract_id: str, forbidden: str
) -> None:
    contract = CONTRACTS[contract_id]
    source = contract["source_modules"][0]
    planted = project_copy / source / "planted.py"
    planted.write_text(f'"""A planted fault."""\n\nimport {forbidden}  # noqa: F401\n')
    try:
        result = lint_imports(project_copy)
    finally:
        planted.unlink()
    assert result.returncode == 1, result.stdout + result.stderr
    broken = result.stdout.split("Broken contracts", 1)[-1]
    assert contract["name"] in broken, result.stdout
    assert f"{source}.planted -> {forbidden}" in broken, result.stdout


def test_core_names_no_package_built_on_it() -> None:
    found = mentions_above_core(ROOT / "fitsense_core")
    assert not found, "fitsense_core names packages built on it:\n" + "\n".join(found)


def test_a_mention_in_a_comment_or_docstring_is_found(tmp_path: Path) -> None:
    package = tmp_path / "fitsense_core"
    (package / "monitoring").mkdir(parents=True)
    (package / "__init__.py").write_text('"""The base package."""\n')
    assert mentions_above_core(package) == []
    (package / "monitoring" / "probes.py").write_text(
        '"""Probes."""\n\n# fitsense_serving restarts the model server\nPROBES = 3\n'
    )
    (package / "run_report.py").write_text('"""Read by fitsense_assets.defs.registry."""\n')
    assert mentions_above_core(package) == [
        "fitsense_core/monitoring/probes.py:3: # fitsense_serving restarts the model server",
        'fitsense_core/run_report.py:1: """Read by fitsense_assets.defs.registry."""',
    ]
