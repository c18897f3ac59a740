"""The model registry: versions with lineage in PostgreSQL, files in the artifact store.

A version is registered once all its files exist and are hashed (status ``candidate``,
or ``rejected`` when its promotion gate failed). Promotion and rollback each run in one
transaction: the serving version retires, the new one serves, and the change is recorded
in ``model_promotions``. A version whose gate failed is never promoted.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from fitsense_core.database import connect
from fitsense_core.errors import FitSenseError
from fitsense_core.settings import REPO_ROOT


class RegistryError(FitSenseError):
    """A registry operation that cannot be done."""


@dataclass(frozen=True)
class ModelVersion:
    version: str
    status: str
    run_id: str
    base_model: str
    base_model_digest: str
    dataset_run_id: str
    dataset_sha256: str
    git_commit: str
    training_config: dict[str, Any]
    metrics: dict[str, Any]
    gate: dict[str, Any]
    manifest_uri: str
    eval_report_uri: str
    gguf_uri: str
    gguf_sha256: str
    adapter_uri: str
    merged_uri: str
    codebook_uri: str
    created_at: Any = None
    promoted_at: Any = None
    retired_at: Any = None

    @property
    def gate_passed(self) -> bool:
        return bool(self.gate.get("passed"))


COLUMNS = tuple(ModelVersion.__dataclass_fields__)
INSERTED = COLUMNS[:-3]


def git_commit() -> str:
    """The commit the code comes from: ``FITSENSE_GIT_COMMIT`` when set (the container
    images set it at build time, as they hold no ``.git``), else HEAD of the checkout the
    code runs from, marked -dirty with local changes; ``unknown`` when neither says."""
    built_from = os.environ.get("FITSENSE_GIT_COMMIT", "").strip()
    if built_from:
        return built_from
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return f"{head}-dirty" if dirty else head
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def register(url: str, version: ModelVersion) -> ModelVersion:
    """Insert a complete version. Registering it again replaces its record while it has
    never served; a version that has served keeps its record (the same files register as
    a no-op, different files under its name are refused)."""
    values = [getattr(version, c) for c in INSERTED]
    values = [Jsonb(v) if isinstance(v, dict) else v for v in values]
    with connect(url) as conn, conn.transaction():
        existing = conn.execute(
            "SELECT status, gguf_sha256 FROM model_versions WHERE version = %s",
            (version.version,),
        ).fetchone()
        if existing and existing[0] in ("serving", "retired"):
            if existing[1] == version.gguf_sha256:
                return get(url, version.version)
            raise RegistryError(
                f"version {version.version} has served and cannot be replaced by different files"
            )
        if existing:
            conn.execute("DELETE FROM model_versions WHERE version = %s", (version.version,))
        conn.execute(
            f"INSERT INTO model_versions ({', '.join(INSERTED)}) "
            f"VALUES ({', '.join(['%s'] * len(INSERTED))})",
            values,
        )
    return get(url, version.version)


def _row(row: dict[str, Any]) -> ModelVersion:
    return ModelVersion(**{c: row[c] for c in COLUMNS})


def get(url: str, version: str) -> ModelVersion:
    with connect(url) as conn, conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("SELECT * FROM model_versions WHERE version = %s", (version,)).fetchone()
    if row is None:
        raise RegistryError(f"no model version {version!r}")
    return _row(row)


def list_versions(url: str) -> list[ModelVersion]:
    with connect(url) as conn, conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute("SELECT * FROM model_versions ORDER BY created_at DESC").fetchall()
    return [_row(r) for r in rows]


def serving(url: str) -> ModelVersion | None:
    with connect(url) as conn, conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("SELECT * FROM model_versions WHERE status = 'serving'").fetchone()
    return _row(row) if row else None


def _switch(conn: psycopg.Connection, version: str, action: str, reason: str) -> str | None:
    conn.execute("LOCK TABLE model_versions IN SHARE ROW EXCLUSIVE MODE")
    current = conn.execute("SELECT version FROM model_versions WHERE status = 'serving'").fetchone()
    previous = current[0] if current else None
    if previous == version:
        raise RegistryError(f"version {version} is already serving")
    if previous:
        conn.execute(
            "UPDATE model_versions SET status = 'retired', retired_at = now() WHERE version = %s",
            (previous,),
        )
    conn.execute(
        "UPDATE model_versions SET status = 'serving', promoted_at = now(), "
        "retired_at = NULL WHERE version = %s",
        (version,),
    )
    conn.execute(
        "INSERT INTO model_promotions (version, action, previous_version, reason) "
        "VALUES (%s, %s, %s, %s)",
        (version, action, previous, reason),
    )
    return previous


def promote(url: str, version: str, reason: str = "promotion gate passed") -> str | None:
    """Make ``version`` the serving model; returns the version it replaced."""
    candidate = get(url, version)
    if not candidate.gate_passed:
        failures = "; ".join(candidate.gate.get("failures", [])) or "gate not passed"
        raise RegistryError(f"version {version} failed its promotion gate: {failures}")
    if candidate.status == "rejected":
        raise RegistryError(f"version {version} was rejected")
    with connect(url) as conn, conn.transaction():
        return _switch(conn, version, "promote", reason)


def rollback(url: str, reason: str = "rollback") -> tuple[str, str]:
    """Serve again the version that served before the current one."""
    with connect(url) as conn, conn.transaction():
        row = conn.execute(
            "SELECT version, previous_version FROM model_promotions p "
            "WHERE version = (SELECT version FROM model_versions WHERE status = 'serving') "
            "ORDER BY created_at DESC LIMIT 1"
        ).fetchone()
        if row is None or row[1] is None:
            raise RegistryError("there is no earlier serving version to roll back to")
        current, previous = row
        _switch(conn, previous, "rollback", reason)
    return current, previous


def history(url: str) -> list[dict[str, Any]]:
    with connect(url) as conn, conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT version, action, previous_version, reason, created_at "
            "FROM model_promotions ORDER BY created_at"
        ).fetchall()


def summary_line(v: ModelVersion) -> str:
    m = v.metrics.get("student", {})
    return (
        f"{v.version:<40} {v.status:<9} dataset={v.dataset_run_id} "
        f"contract={m.get('contract_validity')} semantic={m.get('semantic_validity')} "
        f"p95={m.get('plan_latency_p95_s')}s gate={'pass' if v.gate_passed else 'FAIL'}"
    )


def dumps(v: ModelVersion) -> str:
    return json.dumps({c: getattr(v, c) for c in COLUMNS}, indent=2, default=str)
