"""Where model files live while a run works on them, and where they are published.

With a local artifact store the files are written in place; with a remote one (GCS) they
are built under ``$FITSENSE_HOME/work`` and uploaded. Each run records which student
version it produced in ``models/student/runs/<run_id>.json``.
"""

import hashlib
import json
import re
from pathlib import Path

from fitsense_core.artifacts import ArtifactStore
from fitsense_core.errors import DataValidationError
from fitsense_core.settings import Settings


def working_dir(store: ArtifactStore, *parts: str) -> Path:
    local = store.local_path(*parts)
    if local is None:
        local = Settings.from_env().home / "work" / Path(*parts)
    local.mkdir(parents=True, exist_ok=True)
    return local


def fetched_dir(store: ArtifactStore, *parts: str) -> Path:
    local = store.local_path(*parts)
    if local is not None:
        if not local.exists():
            raise DataValidationError(f"{store.uri(*parts)} does not exist")
        return local
    return store.download_dir(Settings.from_env().home / "cache" / Path(*parts), *parts)


def training_key(dataset_sha256: str, base_digest: str, config: dict, code_version: str) -> str:
    """Names a training run by everything it depends on: an interrupted run resumes in the
    same place, and a finished one is reused rather than repeated."""
    payload = json.dumps([dataset_sha256, base_digest, config, code_version], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def student_version(run_id: str, key: str, adapter_sha256: str) -> str:
    """The version names what was trained on and what came out: same name, same weights."""
    digest = hashlib.sha256(f"{key}/{adapter_sha256}".encode()).hexdigest()[:10]
    slug = re.sub(r"[^a-z0-9._-]+", "-", run_id.lower()).strip("-")[:60] or "run"
    return f"student-{slug}-{digest}"


def run_pointer(run_id: str) -> tuple[str, ...]:
    return ("models", "student", "runs", f"{run_id}.json")


def student_prefix(version: str) -> tuple[str, ...]:
    return ("models", "student", version)


def current_student(store: ArtifactStore, run_id: str) -> dict:
    """The student version this run trained (written by ``student_model``)."""
    if not store.exists(*run_pointer(run_id)):
        raise DataValidationError(f"run {run_id} has not trained a student yet")
    return store.read_json(*run_pointer(run_id))
