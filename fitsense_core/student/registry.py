"""The model registry: versions with lineage in PostgreSQL, files in the artifact store.

A version is registered once all its files exist and are hashed. Its promotion gate is
judged per capability (:data:`CAPABILITIES`): a version that passed at least one is a
``candidate`` and may be promoted, and then serves only the capabilities it passed (the
API answers the others from the knowledge-based coach); a version that passed none is
``rejected`` — evaluated, not promoted — and :func:`promote` refuses it. Promotion and
rollback each run in one transaction: the serving version retires, the new one serves,
and the change is recorded in ``model_promotions``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from fitsense_core import layout
from fitsense_core.artifacts import ArtifactStore, path_sha256
from fitsense_core.database import connect
from fitsense_core.errors import FitSenseError
from fitsense_core.settings import REPO_ROOT


class RegistryError(FitSenseError):
    """A registry operation that cannot be done."""


# What a version may be trusted with, each judged by its own criteria in the promotion
# gate. The API maps its requests onto these (plan_generate, plan_update, plan_adapt, coach).
CAPABILITIES: tuple[str, ...] = ("plan_creation", "plan_update", "plan_adaptation", "coach_reply")


def gate_capabilities(gate: dict[str, Any]) -> tuple[str, ...]:
    """The capabilities a gate passed, in :data:`CAPABILITIES` order.

    A gate recorded before per-capability gating has no ``capabilities`` key: it judged the
    version as a whole, so it counts as all four capabilities when it passed and none when
    it did not. Names the registry does not know are ignored: nothing could serve them."""
    recorded = gate.get("capabilities")
    if not isinstance(recorded, dict):
        return CAPABILITIES if gate.get("passed") else ()
    return tuple(c for c in CAPABILITIES if recorded.get(c) is True)


def failed_criteria(gate: dict[str, Any]) -> list[dict[str, Any]]:
    """The gate's criteria that did not pass (empty for a legacy gate, which recorded
    only its ``failures`` sentences)."""
    return [c for c in gate.get("criteria") or [] if not c.get("passed")]


def _number(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _ci(ci: Any) -> str:
    if not ci or len(ci) != 2:
        return ""
    return f"[{_number(ci[0])}, {_number(ci[1])}]"


def criterion_text(criterion: dict[str, Any]) -> str:
    """One criterion as a person reads it: ``name = value [lo, hi], needs threshold``."""
    ci = _ci(criterion.get("ci"))
    return (
        f"{criterion.get('name')} = {_number(criterion.get('value'))}"
        + (f" {ci}" if ci else "")
        + f", needs {criterion.get('threshold')}"
    )


def criteria_table(gate: dict[str, Any]) -> str:
    """The gate's criteria as a markdown table (capability, criterion, value, CI,
    threshold, pass/fail), for the registry asset's metadata in the UI; a legacy gate gets
    its verdict and failure sentences instead, as it recorded nothing finer."""
    criteria = gate.get("criteria")
    if not criteria:
        verdict = "passes" if gate.get("passed") else "fails"
        failures = "".join(f"\n- {f}" for f in gate.get("failures") or [])
        return f"Gate recorded without per-criterion results: {verdict}.{failures}"
    rows = [
        "| capability | criterion | value | CI | threshold | pass/fail |",
        "|---|---|---|---|---|---|",
    ]
    for c in criteria:
        cells = (
            c.get("capability", ""),
            c.get("name", ""),
            _number(c.get("value")),
            _ci(c.get("ci")),
            c.get("threshold", ""),
            "pass" if c.get("passed") else "**fail**",
        )
        rows.append("| " + " | ".join(str(x).replace("|", "\\|") for x in cells) + " |")
    return "\n".join(rows)


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
    def capabilities(self) -> tuple[str, ...]:
        """The capabilities this version passed and may serve (see :func:`gate_capabilities`
        for a gate recorded before per-capability gating)."""
        return gate_capabilities(self.gate)

    @property
    def gate_passed(self) -> bool:
        """Whether the gate let the version through at all: at least one capability."""
        return bool(self.capabilities)

    @property
    def failures(self) -> list[str]:
        """Why the gate held it back: each failed criterion (capability: name = value,
        needs threshold), else a legacy gate's failure sentences."""
        failed = failed_criteria(self.gate)
        if failed:
            return [f"{c.get('capability')}: {criterion_text(c)}" for c in failed]
        return [str(f) for f in self.gate.get("failures") or []]


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


QA_REPORTS = ("validation", "statistics", "anomalies", "bias")
# What a version's directory holds, as named in its manifest.
VERSION_FILES = (
    ("gguf", layout.STUDENT_GGUF),
    ("adapter", layout.ADAPTER),
    ("merged", layout.MERGED),
    ("codebook", layout.CODEBOOK),
)


def _stored(store: ArtifactStore, *parts: str) -> dict[str, str]:
    """A stored file's location relative to the store, with its SHA-256."""
    if not store.exists(*parts):
        raise RegistryError(f"{store.uri(*parts)} is missing: the version's lineage is incomplete")
    return {
        "uri": layout.relative(*parts),
        "sha256": hashlib.sha256(store.read_bytes(*parts)).hexdigest(),
    }


def _synthetic_seed(store: ArtifactStore, run_id: str) -> int | None:
    """The seed the run's synthetic people were drawn from (None: the run has none)."""
    from fitsense_core.artifacts import MANIFEST

    parts = (*layout.synthetic_tables(run_id, "synthetic_users"), MANIFEST)
    if not store.exists(*parts):
        return None
    return store.read_json(*parts)["meta"].get("config", {}).get("seed")


def version_manifest(
    store: ArtifactStore, run_id: str, version: str, *, commit: str
) -> dict[str, Any]:
    """The lineage manifest of the version a run trained: what it was made from (dataset,
    training set with what it dropped, base model, training key, config and seeds) and of
    (GGUF, adapter, merged weights, codebook), its QA and evaluation reports with the
    evaluation's sample size — every artifact with its SHA-256, every URI relative to the
    artifact store's root (the same manifest is true on any machine that mounts it)."""
    pointer = store.read_json(*layout.student_model_of_run(run_id))
    if pointer["version"] != version:
        raise RegistryError(f"run {run_id} trained {pointer['version']}, not {version}")
    prefix = layout.student_model(version)
    base = store.read_json(*layout.base_model_of_run(run_id))
    dataset = store.read_json(*layout.distillation_manifest(run_id))
    training_set = store.read_json(*layout.student_training_manifest(run_id))
    report = store.read_json(*layout.evaluation_report(run_id))
    local = layout.fetched_dir(store, *prefix)
    files = {}
    for name, part in VERSION_FILES:
        if not (local / part).exists():
            raise RegistryError(f"{store.uri(*prefix, part)} is missing: the version is incomplete")
        files[name] = {"uri": layout.relative(*prefix, part), "sha256": path_sha256(local / part)}
    evaluation = _stored(store, *layout.evaluation_report(run_id))
    return {
        "version": version,
        "run_id": run_id,
        "uris": "relative to the artifact store's root",
        "training_key": pointer["training_key"],
        "code_version": pointer.get("code_version"),
        "seeds": {
            # The people are drawn from a seed derived from the configured one and the run
            # id (synthetic.config.run_seed): every run, a retraining one too, new people.
            "synthetic_people": _synthetic_seed(store, run_id),
            "training": pointer["training_config"].get("seed"),
            "evaluation": report.get("config", {}).get("seed"),
        },
        "split_rule": dataset.get("split_rule"),
        "dataset": {
            "run_id": run_id,
            "sha256": dataset["content_sha256"],
            "uri": layout.relative(*layout.distillation_dataset(run_id)),
            "manifest": _stored(store, *layout.distillation_manifest(run_id)),
            "records": dataset.get("records"),
            "withheld": dataset.get("withheld"),
        },
        "training_set": {
            "sha256": training_set["content_sha256"],
            "uri": layout.relative(*layout.student_training_set(run_id)),
            "manifest": _stored(store, *layout.student_training_manifest(run_id)),
            "max_length": training_set["max_length"],
            "kept": training_set["kept"],
            "dropped": {k: training_set["dropped"][k] for k in ("count", "by_reason", "by_group")},
            "groups_over_limit": training_set["groups_over_limit"],
        },
        "base_model": {
            "source": base["source"],
            "digest": base["digest"],
            "uri": layout.relative(*layout.base_model(base["digest"])),
        },
        "git_commit": commit,
        "training_config": pointer["training_config"],
        "metrics": report["summary"],
        "gate": report["gate"],
        "evaluation": {
            **evaluation,
            "sample_size": report["prompts"],
            "prompt_set": report.get("prompt_set"),
        },
        "eval_report_uri": evaluation["uri"],
        "qa_reports": {
            name: _stored(store, *layout.qa_report(run_id, name)) for name in QA_REPORTS
        },
        "files": files,
    }


def register(url: str, version: ModelVersion) -> ModelVersion:
    """Insert a complete version. Its status comes from its gate, whatever the caller
    says: ``candidate`` when it passed at least one capability, else ``rejected``.
    Registering it again replaces its record while it has never served; a version that has
    served keeps its record (the same files register as a no-op, different files under its
    name are refused), so a serving version's capabilities never change under its name."""
    status = "candidate" if version.capabilities else "rejected"
    values = [status if c == "status" else getattr(version, c) for c in INSERTED]
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
    """Make ``version`` the serving model; returns the version it replaced. A version that
    passed no capability is refused with its failures; one that passed some serves only
    those."""
    candidate = get(url, version)
    if not candidate.capabilities:
        failures = "; ".join(candidate.failures) or "gate not passed"
        raise RegistryError(
            f"version {version} failed its promotion gate: {failures} (it passed no capability)"
        )
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


def latest_rejected(url: str) -> ModelVersion | None:
    """The newest version its gate rejected (no capability passed), if any."""
    return next((v for v in list_versions(url) if v.status == "rejected"), None)


def summary_line(v: ModelVersion) -> str:
    m = v.metrics.get("student", {})
    verdict = (
        "FAIL" if not v.capabilities else "pass" if v.capabilities == CAPABILITIES else "partial"
    )
    return (
        f"{v.version:<40} {v.status:<9} dataset={v.dataset_run_id} "
        f"contract={m.get('contract_validity')} semantic={m.get('semantic_validity')} "
        f"p95={m.get('plan_latency_p95_s')}s gate={verdict} "
        f"capabilities={','.join(v.capabilities) or 'none'}"
    )


def failure_lines(v: ModelVersion) -> list[str]:
    """Why each capability the version did not pass failed, one line per failed criterion
    (a legacy gate: its failure sentences), for ``fitsense model list`` and ``fitsense up``."""
    failed = failed_criteria(v.gate)
    if failed:
        return [f"failed {c.get('capability')}: {criterion_text(c)}" for c in failed]
    return [f"failed: {f}" for f in v.gate.get("failures") or []]


def dumps(v: ModelVersion) -> str:
    """The full record as JSON, with the capabilities it serves and its failures."""
    record = {c: getattr(v, c) for c in COLUMNS}
    record["capabilities"] = list(v.capabilities)
    record["failures"] = v.failures
    return json.dumps(record, indent=2, default=str)
