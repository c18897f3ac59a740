"""The artifact store: Parquet table sets with manifests that catch corruption."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from fitsense_core.artifacts import ArtifactStore
from fitsense_core.errors import ConfigurationError, DataValidationError
from fitsense_core.synthetic import TableSet


def test_table_set_round_trip(tmp_path: Path, small_run: list[TableSet]) -> None:
    store = ArtifactStore(str(tmp_path))
    users = small_run[0]
    manifest = store.write_tables(users, "datasets", "synthetic", "r1", "synthetic_users")
    assert manifest["tables"]["users"]["rows"] == len(users["users"])
    assert (tmp_path / "datasets/synthetic/r1/synthetic_users/users.parquet").exists()
    back = store.read_tables("datasets", "synthetic", "r1", "synthetic_users")
    assert back.meta == users.meta
    for name, frame in users.tables.items():
        pd.testing.assert_frame_equal(
            back[name].astype(str).reset_index(drop=True),
            frame.astype(str).reset_index(drop=True),
            check_dtype=False,
        )


def test_writes_are_byte_for_byte_reproducible(tmp_path: Path, small_run: list[TableSet]) -> None:
    a = ArtifactStore(str(tmp_path / "a")).write_tables(small_run[1], "x")
    b = ArtifactStore(str(tmp_path / "b")).write_tables(small_run[1], "x")
    assert {k: v["sha256"] for k, v in a["tables"].items()} == {
        k: v["sha256"] for k, v in b["tables"].items()
    }


def test_corrupted_file_is_detected(tmp_path: Path, small_run: list[TableSet]) -> None:
    store = ArtifactStore(str(tmp_path))
    store.write_tables(small_run[0], "set")
    path = tmp_path / "set" / "users.parquet"
    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(DataValidationError, match="does not match its manifest"):
        store.read_tables("set")


def test_missing_artifact_names_its_location(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError, match=r"nothing-here/manifest\.json does not exist"):
        ArtifactStore(str(tmp_path)).read_tables("nothing-here")


def test_unsupported_scheme_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="not supported"):
        ArtifactStore("s3://bucket/prefix").write_bytes(b"x", "a")


def test_gcs_uri_layout() -> None:
    store = ArtifactStore("gs://fitsenseai-mlops-dev")
    assert (
        store.uri("datasets", "distillation", "r1")
        == "gs://fitsenseai-mlops-dev/datasets/distillation/r1"
    )


@pytest.fixture
def gcs_emulator(monkeypatch: pytest.MonkeyPatch):
    """A real GCS API (gcp-storage-emulator) on a free local port, with bucket fitsense-test."""
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gcp_storage_emulator",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--in-memory",
            "--default-bucket",
            "fitsense-test",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/storage/v1/b", timeout=1)
            break
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                raise
            time.sleep(0.2)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", url)
    yield url
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:  # the emulator sometimes ignores SIGTERM
        process.kill()
        process.wait()


def test_gcs_store_round_trip_against_emulator(
    gcs_emulator: str, small_run: list[TableSet]
) -> None:
    store = ArtifactStore("gs://fitsense-test/fitsenseai-mlops-dev")
    manifest = store.write_tables(small_run[0], "datasets", "synthetic", "r1", "synthetic_users")
    back = store.read_tables("datasets", "synthetic", "r1", "synthetic_users")
    assert len(back["users"]) == manifest["tables"]["users"]["rows"]
    assert store.exists("datasets", "synthetic", "r1", "synthetic_users", "manifest.json")
    assert not store.exists("datasets", "synthetic", "r2")
    with pytest.raises(DataValidationError, match="does not exist"):
        store.read_bytes("nothing", "here.json")
