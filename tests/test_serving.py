"""``fitsense serve``: the switching proxy in front of real llama.cpp servers on the shipped
base GGUF, registered as real model versions, and the vLLM command for GPU hosts.

Every test that starts servers stops them and checks that no llama.cpp process is left.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from fitsense_core.artifacts import ArtifactStore
from fitsense_core.errors import ConfigurationError
from fitsense_core.migrations import migrate
from fitsense_core.student import registry
from fitsense_core.student.base_model import base_model_gguf
from fitsense_core.student.registry import ModelVersion
from fitsense_serving.llama_server import free_port
from fitsense_serving.server import BackgroundProxy
from fitsense_serving.supervisor import Supervisor
from fitsense_serving.targets import (
    NO_VERSION_MESSAGE,
    ServingError,
    ServingTarget,
    TargetSource,
    registry_target,
    resolve_gguf,
)
from fitsense_serving.vllm import printable_command, vllm_command
from tests.model_fixtures import register_test_version
from tests.test_artifacts import gcs_emulator  # noqa: F401  (fixture, used by name)

API_KEY = "test-serving-key"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
FITSENSE = [sys.executable, "-m", "fitsense_cli"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@contextmanager
def running(source: TargetSource, home: Path, **options: Any) -> Iterator[BackgroundProxy]:
    """A proxy + supervisor that the test drives with ``proxy.reconcile()``; afterwards
    every llama.cpp process it started must have exited."""
    supervisor = Supervisor(source, home=home, poll_interval_s=None, **options)
    proxy = BackgroundProxy(supervisor, api_key=API_KEY).start()
    try:
        yield proxy
    finally:
        proxy.close()
        leftover = [pid for pid in supervisor.started_pids if _alive(pid)]
        for pid in leftover:
            os.kill(pid, signal.SIGKILL)
        assert not leftover, f"llama.cpp processes left running: {leftover}"


def chat(proxy: BackgroundProxy, model: str | None = None, max_tokens: int = 8) -> httpx.Response:
    body: dict[str, Any] = {
        "messages": [{"role": "user", "content": "Give me one squat tip."}],
        "max_tokens": max_tokens,
    }
    if model:
        body["model"] = model
    return httpx.post(f"{proxy.url}/chat/completions", headers=AUTH, json=body, timeout=60)


def ready(proxy: BackgroundProxy) -> httpx.Response:
    """The proxy's /ready in full (with the key)."""
    return httpx.get(f"{proxy.root}/ready", headers=AUTH, timeout=30)


# --- the vLLM command --------------------------------------------------------------------


def model_version(**changes: Any) -> ModelVersion:
    base = ModelVersion(
        version="v7",
        status="serving",
        run_id="run-7",
        base_model="HuggingFaceTB/SmolLM2-135M-Instruct",
        base_model_digest="d" * 64,
        dataset_run_id="run-7",
        dataset_sha256="e" * 64,
        git_commit="abc",
        training_config={"lora_r": 8},
        metrics={},
        gate={"passed": True},
        manifest_uri="/srv/models/student/v7/manifest.json",
        eval_report_uri="/srv/reports/run-7/evaluation.json",
        gguf_uri="/srv/models/student/v7/student-q8_0.gguf",
        gguf_sha256="f" * 64,
        adapter_uri="/srv/models/student/v7/adapter",
        merged_uri="/srv/models/student/v7/merged",
        codebook_uri="/srv/models/student/v7/codebook.json",
    )
    return dataclasses.replace(base, **changes)


COMMON_FLAGS = [
    "--max-model-len",
    "4096",
    "--max-num-seqs",
    "2",
    "--host",
    "127.0.0.1",
    "--port",
    "8090",
    "--api-key",
    "$FITSENSE_MODEL_API_KEY",
]


def test_vllm_command_serves_the_merged_model_under_its_versioned_name() -> None:
    argv = vllm_command(model_version(), mode="merged")
    assert argv == [
        "vllm",
        "serve",
        "/srv/models/student/v7/merged",
        "--served-model-name",
        "fitsense-student-v7",
        *COMMON_FLAGS,
    ]
    line = printable_command(argv)
    assert line.endswith('--api-key "$FITSENSE_MODEL_API_KEY"'), line


def test_vllm_command_serves_the_adapter_as_a_named_lora_module() -> None:
    argv = vllm_command(model_version(), mode="lora", base_model="/srv/base", port=9000)
    assert argv == [
        "vllm",
        "serve",
        "/srv/base",
        "--enable-lora",
        "--lora-modules",
        "fitsense-student-v7=/srv/models/student/v7/adapter",
        "--max-lora-rank",
        "8",
        *[("9000" if flag == "8090" else flag) for flag in COMMON_FLAGS],
    ]
    # The rank as training recorded it, under either name, else trl's default.
    assert "32" in vllm_command(model_version(training_config={"r": 32}), mode="lora")
    default = vllm_command(model_version(training_config={}), mode="lora")
    assert default[default.index("--max-lora-rank") + 1] == "16"
    assert default[2] == "HuggingFaceTB/SmolLM2-135M-Instruct"


def test_vllm_command_refuses_what_vllm_cannot_load() -> None:
    with pytest.raises(ConfigurationError, match="dense base weights"):
        vllm_command(model_version(base_model="/x/SmolLM2.Q4_1.gguf"), mode="lora")
    remote = model_version(merged_uri="gs://bucket/models/student/v7/merged")
    with pytest.raises(ConfigurationError, match="needs a local directory"):
        vllm_command(remote, mode="merged")
    assert vllm_command(remote, mode="merged", model_path="/tmp/m")[2] == "/tmp/m"
    with pytest.raises(ConfigurationError, match="unknown vLLM mode"):
        vllm_command(model_version(), mode="awq")  # type: ignore[arg-type]


def _stream(url: str, body: dict[str, Any]) -> tuple[httpx.Response, list[tuple[float, str]]]:
    began = time.monotonic()
    events: list[tuple[float, str]] = []
    with httpx.stream("POST", url, headers=AUTH, json={**body, "stream": True}, timeout=60) as r:
        for line in r.iter_lines():
            if line.startswith("data: "):
                events.append((time.monotonic() - began, line.removeprefix("data: ")))
    return r, events


# --- one served version: auth, models, completions, streaming -----------------------------


@pytest.fixture(scope="class")
def served(database_factory: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory):
    """The registry's serving version v001 behind the proxy, shared by the read-only tests."""
    url = database_factory("serving")
    migrate(url)
    root = tmp_path_factory.mktemp("serving")
    register_test_version(url, root / "artifacts", "v001")
    with running(registry_target(url), root / "home") as proxy:
        proxy.reconcile()
        yield proxy


class TestOneServedVersion:
    """Read-only requests against one version (its server runs for this class only)."""

    def test_model_api_needs_the_key_but_health_and_ready_do_not(
        self, served: BackgroundProxy
    ) -> None:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": API_KEY}):
            response = httpx.get(f"{served.url}/models", headers=headers)
            assert response.status_code == 401, headers
            assert "API key" in response.json()["error"]["message"]
            response = httpx.post(f"{served.url}/chat/completions", headers=headers, json={})
            assert response.status_code == 401
        assert httpx.get(f"{served.root}/health").json() == {"status": "ok"}
        # Without the key /ready tells a probe the status only: no versions, pids or load.
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            public = httpx.get(f"{served.root}/ready", headers=headers, timeout=30)
            assert (public.status_code, public.json()) == (200, {"ready": True, "state": "idle"})
        body = ready(served).json()
        assert (body["ready"], body["version"], body["state"]) == (True, "v001", "idle")
        assert body["backends"][0]["pid"] > 0 and body["in_flight"] == 0

    def test_models_names_the_serving_version(self, served: BackgroundProxy) -> None:
        response = httpx.get(f"{served.url}/models", headers=AUTH)
        assert response.status_code == 200
        assert response.json() == {
            "object": "list",
            "data": [
                {
                    "id": "fitsense-student-v001",
                    "object": "model",
                    "owned_by": "fitsense",
                    "version": "v001",
                }
            ],
        }

    def test_chat_completion_through_the_proxy_names_its_version(
        self, served: BackgroundProxy
    ) -> None:
        client = openai.OpenAI(base_url=served.url, api_key=API_KEY, max_retries=0)
        raw = client.chat.completions.with_raw_response.create(
            model="fitsense-student-v001",
            messages=[{"role": "user", "content": "Give me one squat tip."}],
            max_tokens=12,
        )
        assert raw.headers["x-fitsense-model-version"] == "v001"
        completion = raw.parse()
        assert completion.model == "fitsense-student-v001"
        assert completion.choices[0].message.content
        # A name no backend has goes to the serving version, and the answer says which.
        response = chat(served, model="gpt-4o")
        assert response.status_code == 200
        assert response.headers["x-fitsense-model-version"] == "v001"
        assert response.json()["model"] == "fitsense-student-v001"

    def test_streamed_completion_passes_through_chunk_by_chunk(
        self, served: BackgroundProxy
    ) -> None:
        response, events = _stream(
            f"{served.url}/completions",
            {"prompt": "Three tips for a better deadlift:", "max_tokens": 48, "min_tokens": 48},
        )
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-fitsense-model-version"] == "v001"
        assert events[-1][1] == "[DONE]"
        chunks = [json.loads(data) for _, data in events[:-1]]
        assert len(chunks) >= 48
        assert all(c["model"] == "fitsense-student-v001" for c in chunks)
        # Not buffered: the first token arrives long before the last.
        first, last = events[0][0], events[-1][0]
        assert first < last / 3, (first, last)

    def test_client_that_goes_away_stops_the_generation(self, served: BackgroundProxy) -> None:
        backend = served.supervisor.active
        assert backend is not None
        log_path = backend.server.log_path
        before = log_path.read_text(errors="replace").count("Disconnected from client")
        body = {"prompt": "Write a long training diary.", "max_tokens": 1500, "min_tokens": 1500}
        with httpx.stream(
            "POST", f"{served.url}/completions", headers=AUTH, json={**body, "stream": True}
        ) as response:
            for n, _ in enumerate(response.iter_lines()):
                if n >= 4:
                    break
        # Without another request (which would interrupt it anyway), llama.cpp sees the
        # closed connection and stops well before 1,500 tokens (~20 s).
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if log_path.read_text(errors="replace").count("Disconnected from client") > before:
                break
            time.sleep(0.1)
        else:
            pytest.fail("llama.cpp kept generating after the client went away")
        assert backend.in_flight == 0
        started = time.monotonic()
        assert chat(served).status_code == 200
        assert time.monotonic() - started < 5


# --- switching versions -------------------------------------------------------------------


def test_promotion_switches_blue_green_and_rollback_switches_back(
    fresh_migrated_db: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="fitsense.serving")
    url, artifacts = fresh_migrated_db, tmp_path / "artifacts"
    register_test_version(url, artifacts, "v001")
    with running(registry_target(url), tmp_path / "home") as proxy:
        supervisor = proxy.supervisor
        proxy.reconcile()
        v001 = supervisor.active
        assert v001 is not None and v001.version == "v001"

        # A long answer on v001 that is still being written when v002 takes over.
        first_token = threading.Event()
        outcome: dict[str, Any] = {}

        def long_answer() -> None:
            body = {"prompt": "A weekly plan:", "max_tokens": 256, "min_tokens": 256}
            with httpx.stream(
                "POST",
                f"{proxy.url}/completions",
                headers=AUTH,
                json={**body, "stream": True},
                timeout=60,
            ) as r:
                outcome["version"] = r.headers.get("x-fitsense-model-version")
                outcome["events"] = []
                for line in r.iter_lines():
                    if line.startswith("data: "):
                        outcome["events"].append(line.removeprefix("data: "))
                        first_token.set()

        streaming = threading.Thread(target=long_answer, daemon=True)
        streaming.start()
        assert first_token.wait(30)

        register_test_version(url, artifacts, "v002")  # registered and promoted
        proxy.reconcile()
        v002 = supervisor.active
        assert v002 is not None and v002.version == "v002"
        assert (v001.state, v001.in_flight) == ("draining", 1), (
            "v001's answer ended before the switch"
        )
        assert v001.alive
        response = chat(proxy)
        assert response.headers["x-fitsense-model-version"] == "v002"
        models = httpx.get(f"{proxy.url}/models", headers=AUTH).json()
        assert [m["id"] for m in models["data"]] == ["fitsense-student-v002"]

        streaming.join(60)
        assert outcome["version"] == "v001"
        assert outcome["events"][-1] == "[DONE]"
        assert len(outcome["events"]) > 256
        proxy.call(supervisor.wait_drained(30))
        assert v001.server.process.poll() is not None, "the old llama.cpp server still runs"
        assert not _alive(v001.pid)
        assert supervisor.backends == [v002]

        registry.rollback(url)
        proxy.reconcile()
        back = supervisor.active
        assert back is not None and back.version == "v001" and back is not v001
        assert chat(proxy).headers["x-fitsense-model-version"] == "v001"
        proxy.call(supervisor.wait_drained(30))
        assert not _alive(v002.pid)
        assert ready(proxy).json()["version"] == "v001"
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("switched: v002 serves now (was v001)") for m in messages), messages
    assert any(m.startswith("drained v001") for m in messages), messages
    assert any(m.startswith("switched: v001 serves now (was v002)") for m in messages), messages


def test_a_version_that_fails_to_start_leaves_the_old_one_serving(
    fresh_migrated_db: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="fitsense.serving")
    url = fresh_migrated_db
    v001 = register_test_version(url, tmp_path / "artifacts", "v001")
    garbage = tmp_path / "broken.gguf"
    garbage.write_bytes(b"this is not a GGUF file" * 100)
    broken = dataclasses.replace(
        v001,
        version="broken",
        status="candidate",
        gguf_uri=str(garbage),
        gguf_sha256=hashlib.sha256(garbage.read_bytes()).hexdigest(),
    )
    registry.register(url, broken)
    with running(registry_target(url), tmp_path / "home", retry_backoff_s=600) as proxy:
        proxy.reconcile()
        serving = proxy.supervisor.active
        registry.promote(url, "broken")
        proxy.reconcile()
        assert proxy.supervisor.active is serving
        assert ready(proxy).status_code == 200
        assert chat(proxy).headers["x-fitsense-model-version"] == "v001"
        proxy.reconcile()  # within the back-off: no second attempt
        failures = [r for r in caplog.records if "could not start version broken" in r.message]
        assert len(failures) == 1, failures
        assert failures[0].levelno == logging.ERROR
        assert "still serving v001" in failures[0].message
        assert len(proxy.supervisor.started_pids) == 1  # the failed start never served
        registry.rollback(url)
        proxy.reconcile()
        assert proxy.supervisor.active is serving


def test_a_crashed_backend_answers_502_and_is_restarted(
    fresh_migrated_db: str, tmp_path: Path
) -> None:
    register_test_version(fresh_migrated_db, tmp_path / "artifacts", "v001")
    with running(registry_target(fresh_migrated_db), tmp_path / "home") as proxy:
        proxy.reconcile()
        crashed = proxy.supervisor.active
        assert crashed is not None
        os.kill(crashed.pid, signal.SIGKILL)
        crashed.server.process.wait(10)
        response = ready(proxy)
        assert response.status_code == 503
        assert "exited with code" in response.json()["reason"]
        response = chat(proxy)
        assert response.status_code == 502
        assert response.headers["content-type"] == "application/json"
        assert "is down" in response.json()["error"]["message"]
        proxy.reconcile()
        restarted = proxy.supervisor.active
        assert restarted is not None and restarted is not crashed and restarted.alive
        assert ready(proxy).status_code == 200
        assert chat(proxy).status_code == 200


def test_without_a_serving_version_it_waits_and_says_what_to_do(
    fresh_migrated_db: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="fitsense.serving")
    with running(registry_target(fresh_migrated_db), tmp_path / "home") as proxy:
        proxy.reconcile()
        proxy.reconcile()
        response = ready(proxy)
        assert response.status_code == 503
        assert response.json()["reason"] == NO_VERSION_MESSAGE
        response = httpx.get(f"{proxy.url}/models", headers=AUTH)
        assert (response.status_code, response.json()["data"]) == (503, [])
        response = chat(proxy)
        assert response.status_code == 503
        assert "fitsense model promote" in response.json()["error"]["message"]
        assert proxy.supervisor.started_pids == []
    assert [r.message for r in caplog.records].count(NO_VERSION_MESSAGE) == 1


# --- GGUF files in a GCS artifact store ---------------------------------------------------


def test_gcs_gguf_is_downloaded_once_and_checked(
    gcs_emulator: str,  # noqa: F811  (the fixture imported above)
    tmp_path: Path,
) -> None:
    data = os.urandom(200_000)
    uri = ArtifactStore("gs://fitsense-test/art").write_bytes(data, "models", "v9", "s.gguf")
    target = ServingTarget("v9", uri, hashlib.sha256(data).hexdigest())
    path = resolve_gguf(target, tmp_path / "serving")
    assert path == tmp_path / "serving" / "v9.gguf"
    assert path.read_bytes() == data
    stamp = path.stat().st_mtime_ns
    assert resolve_gguf(target, tmp_path / "serving").stat().st_mtime_ns == stamp
    tampered = dataclasses.replace(target, version="v10", gguf_sha256="0" * 64)
    with pytest.raises(ServingError, match="the registry records"):
        resolve_gguf(tampered, tmp_path / "serving")
    assert not (tmp_path / "serving" / "v10.gguf").exists()
    with pytest.raises(ServingError, match="GGUF file of version v11 is missing"):
        resolve_gguf(ServingTarget("v11", str(tmp_path / "nope.gguf")), tmp_path)


# --- the command --------------------------------------------------------------------------


SECRET = "do-not-print-this-key"


@pytest.fixture
def cli_env(fresh_migrated_db: str, tmp_path: Path) -> dict[str, str]:
    register_test_version(fresh_migrated_db, tmp_path / "artifacts", "v001")
    return {
        **os.environ,
        "FITSENSE_DATABASE_URL": fresh_migrated_db,
        "FITSENSE_DAGSTER_STORAGE_URL": fresh_migrated_db,
        "FITSENSE_HOME": str(tmp_path / "home"),
        "FITSENSE_ARTIFACTS_URI": str(tmp_path / "artifacts"),
        "FITSENSE_MODEL_API_KEY": SECRET,
        "HF_HUB_OFFLINE": "1",
    }


def fitsense(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FITSENSE, *args], env=env, capture_output=True, text=True, timeout=120)


def test_serve_vllm_dry_run_prints_the_command_without_the_key(
    cli_env: dict[str, str], fresh_migrated_db: str
) -> None:
    out = fitsense(["serve", "--backend", "vllm", "--dry-run"], cli_env)
    assert out.returncode == 0, out.stderr
    expected = vllm_command(registry.get(fresh_migrated_db, "v001"), mode="merged")
    assert out.stdout.strip() == printable_command(expected)
    assert SECRET not in out.stdout + out.stderr
    out = fitsense(
        [
            *("serve", "--backend", "vllm", "--vllm-mode", "lora", "--base-model", "/srv/base"),
            *("--port", "9001", "--dry-run"),
        ],
        cli_env,
    )
    assert out.returncode == 0, out.stderr
    assert "vllm serve /srv/base --enable-lora --lora-modules fitsense-student-v001=" in out.stdout
    assert "--max-lora-rank 16" in out.stdout and "--port 9001" in out.stdout


@pytest.mark.skipif(shutil.which("vllm") is not None, reason="vLLM is installed here")
def test_serve_vllm_where_vllm_is_missing_fails_clearly(cli_env: dict[str, str]) -> None:
    out = fitsense(["serve", "--backend", "vllm"], cli_env)
    assert out.returncode == 1
    assert "GPU hosts only" in out.stderr
    assert "vllm serve " in out.stderr and '"$FITSENSE_MODEL_API_KEY"' in out.stderr
    assert SECRET not in out.stdout + out.stderr


def test_serve_dry_run_says_what_it_would_serve(cli_env: dict[str, str]) -> None:
    out = fitsense(["serve", "--dry-run", "--port", "9002"], cli_env)
    assert out.returncode == 0, out.stderr
    assert "would serve v001 as fitsense-student-v001" in out.stdout
    assert "http://127.0.0.1:9002/v1" in out.stdout
    out = fitsense(["serve", "--version", "nope", "--dry-run"], cli_env)
    assert out.returncode == 1 and "no model version 'nope'" in out.stderr


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def test_serve_stops_its_model_server_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "FITSENSE_HOME": str(tmp_path / "home"),
        "FITSENSE_MODEL_API_KEY": API_KEY,
        "FITSENSE_MODEL_URL": f"http://127.0.0.1:{port}/v1",
    }
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        [*FITSENSE, "serve", "--gguf", str(base_model_gguf()), "--name", "dev"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    children: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            time.sleep(0.2)
        else:
            pytest.fail(
                "fitsense serve did not get ready:\n" + (tmp_path / "serve.log").read_text()
            )
        models = httpx.get(f"http://127.0.0.1:{port}/v1/models", headers=AUTH).json()
        assert models["data"][0]["id"] == "fitsense-student-dev"
        children = _children(process.pid)
        assert children, "no llama.cpp server under fitsense serve"
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()
    output = (tmp_path / "serve.log").read_text()
    assert f"model endpoint: http://127.0.0.1:{port}/v1" in output
    assert "serving dev as fitsense-student-dev" in output
    assert "received SIGTERM" in output and "stopped dev" in output, output
    assert not [pid for pid in children if _alive(pid)], "llama.cpp outlived fitsense serve"
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # the port is free again
