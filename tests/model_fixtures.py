"""A real model version for serving tests: the shipped SmolLM2-135M GGUF, registered
and promoted in a test database with a codebook over the whole catalog.

It is the untrained base model, not a fake: it answers through the same llama.cpp server,
grammar and decoder as the student does, only less well.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

from fitsense_core.artifacts import ArtifactStore, file_sha256
from fitsense_core.student import registry
from fitsense_core.student.base_model import base_model_gguf
from fitsense_core.student.compact import build_codebook
from fitsense_core.student.registry import ModelVersion


def register_test_version(
    database_url: str,
    artifact_root: Path,
    version: str,
    *,
    promote: bool = True,
    gate: dict[str, Any] | None = None,
) -> ModelVersion:
    """Store the base GGUF (hard-linked when possible) and a codebook as ``version``'s files,
    register it with ``gate`` (default: a passing legacy gate, every capability) and, by
    default, promote it."""
    store = ArtifactStore(str(artifact_root))
    prefix = ("models", version)
    gguf = Path(store.uri(*prefix, "student.gguf"))
    gguf.parent.mkdir(parents=True, exist_ok=True)
    if not gguf.exists():
        try:
            gguf.hardlink_to(base_model_gguf())
        except OSError:
            shutil.copyfile(base_model_gguf(), gguf)
    digest = file_sha256(gguf)
    codebook_uri = store.write_bytes(
        build_codebook([]).to_json().encode(), *prefix, "codebook.json"
    )
    registered = registry.register(
        database_url,
        ModelVersion(
            version=version,
            status="candidate",
            run_id=f"test-{version}",
            base_model="SmolLM2-135M-Instruct",
            base_model_digest=digest,
            dataset_run_id="test",
            dataset_sha256=hashlib.sha256(b"no dataset: the untrained base").hexdigest(),
            git_commit="test",
            training_config={},
            metrics={},
            gate=gate if gate is not None else {"passed": True, "reasons": []},
            manifest_uri=store.uri(*prefix, "manifest.json"),
            eval_report_uri=store.uri(*prefix, "evaluation.json"),
            gguf_uri=str(gguf),
            gguf_sha256=digest,
            adapter_uri=store.uri(*prefix, "adapter"),
            merged_uri=store.uri(*prefix, "merged"),
            codebook_uri=codebook_uri,
        ),
    )
    if promote:
        registry.promote(database_url, version, reason="test")
        registered = registry.get(database_url, version)
    return registered
