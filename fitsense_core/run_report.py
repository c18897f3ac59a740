"""The report of one finished pipeline run (seed §9.2): per-stage runtime, row counts,
validation results, anomaly severity and bias alerts.

The orchestration side reads a finished run's Dagster event log into a :class:`RunFacts`
of plain values; :func:`build_report` turns it into one JSON-ready report, which is
recorded three ways: a row of ``pipeline_run_reports`` (:func:`upsert_report`, keyed by
the Dagster run id, so a second look at the same run replaces the row), a JSON file under
``reports/<run_id>/pipeline_runs/`` in the artifact store (:func:`artifact_parts`), and
one log line in Cloud Logging's structured JSON shape (:func:`log_entry`, event
``pipeline_run_report``) that ``infra/monitoring.tf`` alerts on at severity ERROR.

Severity of a report:

- ``ERROR``: the run failed, a check of severity ERROR failed (validation, the blocking
  QA checks, the promotion gate), QA found critical bias (a slice deviating > 25 %), or
  the anomaly check failed at severity ERROR;
- ``WARNING``: the run was canceled, a warning check failed, bias was flagged (> 10 %),
  or the anomaly check warned;
- ``INFO`` otherwise.

QA anomalies (outliers and near-duplicate answer pairs, from ``qa_anomalies``' metadata)
are counted by the verdict of the anomaly check ``few_anomalies`` on them: ``info`` when it
passed (within tolerance), ``warning`` or ``error`` when it failed at that severity, and
``unjudged`` when the check did not run. Nothing here knows about Dagster.
"""

from __future__ import annotations

import json
import logging
import math
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from fitsense_core import layout

REPORT_SCHEMA = 1
EVENT = "pipeline_run_report"
LOGGER_NAME = "fitsense.pipeline_runs"
LABELS = "logging.googleapis.com/labels"
NO_PARTITION = "no-partition"
FINISHED = ("SUCCESS", "FAILURE", "CANCELED")

ANOMALY_ASSET = "qa_anomalies"
ANOMALY_CHECK = "few_anomalies"
BIAS_ASSET = "qa_bias_slices"
BIAS_CHECK = "no_critical_bias"
VALIDATION_ASSET = "teacher_output_validation"
# Where a run's model version shows, most authoritative first.
MODEL_ASSETS = ("model_version", "student_export", "student_model")
REGISTRY_ASSET = "model_version"
SERVING_ASSET = "serving_model"
# Integer metadata that counts an asset's rows when it has no dagster/row_count.
ROW_COUNT_KEYS = ("dagster/row_count", "rows", "records")
ERROR_CHARS = 2000


@dataclass(frozen=True)
class Stage:
    """One step of the run as the event log has it."""

    step_key: str
    status: str  # SUCCESS, FAILURE, SKIPPED, or IN_PROGRESS for one that never ended
    started_at: datetime | None
    finished_at: datetime | None
    attempts: int = 1

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return round((self.finished_at - self.started_at).total_seconds(), 3)


@dataclass(frozen=True)
class Materialization:
    """One asset materialization with its metadata as plain values (markdown left out)."""

    asset: str
    step_key: str | None
    partition: str | None
    metadata: Mapping[str, Any]


@dataclass(frozen=True)
class CheckResult:
    """One asset check evaluation."""

    asset: str
    check: str
    passed: bool
    severity: str  # ERROR or WARN
    blocking: bool
    description: str | None = None
    step_key: str | None = None


@dataclass(frozen=True)
class StepError:
    step_key: str | None
    message: str


@dataclass
class RunFacts:
    """What a finished run's event log says, as plain values."""

    dagster_run_id: str
    job_name: str
    status: str
    partition: str | None
    tags: Mapping[str, str]
    started_at: datetime | None
    finished_at: datetime | None
    stages: Sequence[Stage] = ()
    materializations: Sequence[Materialization] = ()
    checks: Sequence[CheckResult] = ()
    planned_assets: Sequence[str] = ()
    planned_checks: Sequence[tuple[str, str]] = ()  # (asset, check)
    errors: Sequence[StepError] = ()
    run_error: str | None = None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _datetime(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and not (isinstance(value, float) and not math.isfinite(value))
    )


def _int(metadata: Mapping[str, Any], key: str) -> int | None:
    value = metadata.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def row_count(metadata: Mapping[str, Any]) -> int | None:
    """An asset's row count: ``dagster/row_count``, else an integer ``rows``/``records``."""
    for key in ROW_COUNT_KEYS:
        value = _int(metadata, key)
        if value is not None:
            return value
    return None


def _asset_entry(m: Materialization) -> dict[str, Any]:
    figures = {
        k: (round(v, 6) if isinstance(v, float) else v)
        for k, v in m.metadata.items()
        if (_number(v) or isinstance(v, bool)) and k not in ROW_COUNT_KEYS
    }
    entry: dict[str, Any] = {
        "asset": m.asset,
        "step_key": m.step_key,
        "partition": m.partition,
        "row_count": row_count(m.metadata),
    }
    counts = m.metadata.get("row_counts")
    if isinstance(counts, Mapping):
        entry["row_counts"] = {str(k): v for k, v in counts.items() if _number(v)}
    entry["figures"] = figures
    for key in ("uri", "report", "manifest"):
        if isinstance(m.metadata.get(key), str):
            entry["uri"] = m.metadata[key]
            break
    return entry


def _latest(materializations: Sequence[Materialization]) -> dict[str, Materialization]:
    """The last materialization of every asset (a retried step may report twice)."""
    return {m.asset: m for m in materializations}


def _check_entry(c: CheckResult) -> dict[str, Any]:
    return {
        "asset": c.asset,
        "check": c.check,
        "passed": c.passed,
        "severity": c.severity,
        "blocking": c.blocking,
        "description": c.description,
    }


def _anomalies(
    latest: Mapping[str, Materialization], checks: Mapping[tuple[str, str], CheckResult]
) -> tuple[dict[str, Any] | None, dict[str, int] | None]:
    found = latest.get(ANOMALY_ASSET)
    if found is None:
        return None, None
    md = found.metadata
    outliers = _int(md, "outliers") or 0
    near = _int(md, "near_duplicate_pairs") or 0
    check = checks.get((ANOMALY_ASSET, ANOMALY_CHECK))
    if check is None:
        verdict = "unjudged"
    elif check.passed:
        verdict = "info"
    else:
        verdict = "error" if check.severity == "ERROR" else "warning"
    by_severity = {"info": 0, "warning": 0, "error": 0, "unjudged": 0}
    by_severity[verdict] = outliers + near
    share = md.get("exact_duplicate_share")
    detail = {
        "outliers": outliers,
        "near_duplicate_pairs": near,
        "exact_duplicate_share": share if _number(share) else None,
        "severity": verdict,
        "check": _check_entry(check) if check else None,
    }
    return detail, by_severity


def _bias(
    latest: Mapping[str, Materialization], checks: Mapping[tuple[str, str], CheckResult]
) -> dict[str, Any] | None:
    found = latest.get(BIAS_ASSET)
    if found is None:
        return None
    md = found.metadata
    flags = _int(md, "flags") or 0
    critical = _int(md, "critical") or 0
    missing = md.get("missing_slices")
    check = checks.get((BIAS_ASSET, BIAS_CHECK))
    return {
        # Every slice metric deviating > 10 % from overall, the critical ones (> 25 %) included.
        "flags": flags,
        "critical": critical,
        "missing_slices": dict(missing) if isinstance(missing, Mapping) else {},
        "check_passed": check.passed if check else None,
    }


def _model(latest: Mapping[str, Materialization]) -> dict[str, Any] | None:
    version = next(
        (
            latest[a].metadata["version"]
            for a in MODEL_ASSETS
            if a in latest and isinstance(latest[a].metadata.get("version"), str)
        ),
        None,
    )
    if version is None:
        return None
    registered = latest.get(REGISTRY_ASSET)
    serving = latest.get(SERVING_ASSET)
    return {
        "version": version,
        "registered": registered is not None,
        "registry_status": registered.metadata.get("status") if registered else None,
        "promoted": serving is not None,
        "replaced": (serving.metadata.get("replaced") or None) if serving else None,
    }


def _severity(
    status: str,
    checks: Sequence[CheckResult],
    anomaly_verdict: str | None,
    bias: Mapping[str, Any] | None,
) -> str:
    failed = [c for c in checks if not c.passed]
    if (
        status == "FAILURE"
        or any(c.severity == "ERROR" for c in failed)
        or (bias and bias["critical"] > 0)
        or anomaly_verdict == "error"
    ):
        return "ERROR"
    if (
        status == "CANCELED"
        or failed
        or (bias and bias["flags"] > 0)
        or anomaly_verdict == "warning"
    ):
        return "WARNING"
    return "INFO"


def _message(report: Mapping[str, Any]) -> str:
    stages = report["stage_summary"]
    parts = [
        f"{report['job']} run {report['run_id'] or '-'} {report['status']}"
        + (f" in {report['duration_s']:.1f} s" if report["duration_s"] is not None else "")
        + f": {stages['by_status'].get('SUCCESS', 0)}/{stages['total']} steps succeeded"
    ]
    if stages["failed"]:
        parts.append("failed steps: " + ", ".join(stages["failed"]))
    failed = report["validation"]["failed"]
    if failed:
        parts.append("failed checks: " + ", ".join(failed))
    by_severity = report["anomalies_by_severity"]
    if by_severity:
        parts.append(
            "anomalies " + ", ".join(f"{k} {v}" for k, v in by_severity.items() if v)
            if any(by_severity.values())
            else "no anomalies"
        )
    bias = report["bias_alerts"]
    if bias:
        parts.append(f"bias flags {bias['flags']} (critical {bias['critical']})")
    model = report["model"]
    if model:
        parts.append(
            f"model {model['version']} "
            + ("promoted" if model["promoted"] else model["registry_status"] or "not registered")
        )
    if report["run_error"] and not stages["failed"]:
        parts.append(report["run_error"][:300])
    return "; ".join(parts)


def build_report(facts: RunFacts) -> dict[str, Any]:
    """The run report (JSON-ready); the module docstring has its severity rules."""
    if facts.status not in FINISHED:
        raise ValueError(f"run {facts.dagster_run_id} has not finished: status {facts.status}")
    latest = _latest(facts.materializations)
    checks = {(c.asset, c.check): c for c in facts.checks}  # the last evaluation of each
    anomalies, anomalies_by_severity = _anomalies(latest, checks)
    bias = _bias(latest, checks)
    tally = Counter(s.status for s in facts.stages)
    timed = [s for s in facts.stages if s.duration_s is not None]
    duration = (
        round((facts.finished_at - facts.started_at).total_seconds(), 3)
        if facts.started_at and facts.finished_at
        else None
    )
    failed_checks = [c for c in checks.values() if not c.passed]
    validation: dict[str, Any] = {
        "checks": len(checks),
        "passed": sum(c.passed for c in checks.values()),
        "failed": [f"{c.asset}:{c.check}" for c in failed_checks],
        "blocking_failed": [f"{c.asset}:{c.check}" for c in failed_checks if c.blocking],
    }
    answers = latest.get(VALIDATION_ASSET)
    if answers is not None:
        validation["teacher_answers"] = {
            k: answers.metadata.get(k) for k in ("accepted", "rejected", "pass_rate")
        }
    evaluated = set(checks)
    run_id = facts.partition or facts.tags.get("fitsense/run_id") or None
    report: dict[str, Any] = {
        "schema": REPORT_SCHEMA,
        "dagster_run_id": facts.dagster_run_id,
        "job": facts.job_name,
        "run_id": run_id,
        "partition": facts.partition,
        "status": facts.status,
        "trigger": facts.tags.get("fitsense/trigger"),
        "reason": facts.tags.get("fitsense/reason"),
        "tags": dict(facts.tags),
        "started_at": _iso(facts.started_at),
        "finished_at": _iso(facts.finished_at),
        "duration_s": duration,
        "stages": [
            {
                "step_key": s.step_key,
                "status": s.status,
                "started_at": _iso(s.started_at),
                "finished_at": _iso(s.finished_at),
                "duration_s": s.duration_s,
                "attempts": s.attempts,
            }
            for s in facts.stages
        ],
        "stage_summary": {
            "total": len(facts.stages),
            "by_status": dict(sorted(tally.items())),
            "failed": [s.step_key for s in facts.stages if s.status == "FAILURE"],
            "seconds": round(sum(s.duration_s for s in timed), 3),
            "slowest": [
                {"step_key": s.step_key, "duration_s": s.duration_s}
                for s in sorted(timed, key=lambda s: s.duration_s, reverse=True)[:3]
            ],
        },
        "assets": [_asset_entry(m) for m in latest.values()],
        "assets_not_materialized": sorted(set(facts.planned_assets) - set(latest)),
        "row_counts": {
            asset: count
            for asset, m in latest.items()
            if (count := row_count(m.metadata)) is not None
        },
        "checks": [_check_entry(c) for c in checks.values()],
        "checks_not_run": sorted(f"{a}:{c}" for a, c in set(facts.planned_checks) - evaluated),
        "validation": validation,
        "anomalies": anomalies,
        "anomalies_by_severity": anomalies_by_severity,
        "bias_alerts": bias,
        "model": _model(latest),
        "errors": [
            {"step_key": e.step_key, "message": e.message[:ERROR_CHARS]} for e in facts.errors
        ],
        "run_error": facts.run_error[:ERROR_CHARS] if facts.run_error else None,
    }
    report["severity"] = _severity(
        facts.status,
        list(checks.values()),
        anomalies["severity"] if anomalies else None,
        bias,
    )
    report["message"] = _message(report)
    return report


def artifact_parts(report: Mapping[str, Any]) -> tuple[str, ...]:
    """Where the report's JSON lives in the artifact store:
    ``reports/<run_id>/pipeline_runs/<dagster run id>.json``."""
    return layout.pipeline_run_report(report["run_id"] or NO_PARTITION, report["dagster_run_id"])


def log_entry(
    report: Mapping[str, Any], *, service: str = "fitsense-dagster", environment: str = "local"
) -> dict[str, Any]:
    """The report as one Cloud Logging structured entry (``severity``, ``message``, ``time``
    and labels are lifted into the entry; the rest lands in ``jsonPayload``)."""
    return {
        "severity": report["severity"],
        "message": report["message"],
        "time": report["finished_at"],
        LABELS: {"service": service, "env": environment},
        "event": EVENT,
        "run_id": report["run_id"],
        "partition": report["partition"],
        "dagster_run_id": report["dagster_run_id"],
        "job": report["job"],
        "status": report["status"],
        "trigger": report["trigger"],
        "duration_s": report["duration_s"],
        "stages": {
            s["step_key"]: {"status": s["status"], "duration_s": s["duration_s"]}
            for s in report["stages"]
        },
        "row_counts": report["row_counts"],
        "checks_failed": report["validation"]["failed"],
        "anomalies_by_severity": report["anomalies_by_severity"],
        "bias_alerts": (
            {k: report["bias_alerts"][k] for k in ("flags", "critical", "check_passed")}
            if report["bias_alerts"]
            else None
        ),
        "model_version": report["model"]["version"] if report["model"] else None,
        "report_uri": report.get("report_uri"),
    }


class _StderrJsonHandler(logging.Handler):
    """Writes a record's ``entry`` as one JSON line to the current ``sys.stderr`` (looked up
    at every line, so a redirected stderr is honoured)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            entry = getattr(record, "entry", None) or {
                "severity": record.levelname,
                "message": record.getMessage(),
            }
            sys.stderr.write(json.dumps(entry, default=str) + "\n")
            sys.stderr.flush()
        except Exception:  # logging's own error path (handleError) reports it
            self.handleError(record)


def logger() -> logging.Logger:
    """``fitsense.pipeline_runs``: JSON lines on stderr, for Cloud Logging's agent."""
    log = logging.getLogger(LOGGER_NAME)
    if not any(isinstance(h, _StderrJsonHandler) for h in log.handlers):
        log.addHandler(_StderrJsonHandler())
        log.setLevel(logging.INFO)
        log.propagate = False
    return log


def emit_log_line(entry: Mapping[str, Any]) -> None:
    """Write the entry through :func:`logger` at its severity."""
    level = logging.getLevelName(entry["severity"])
    logger().log(
        level if isinstance(level, int) else logging.INFO,
        entry["message"],
        extra={"entry": dict(entry)},
    )


def upsert_report(conn: psycopg.Connection, report: Mapping[str, Any]) -> None:
    """Insert the run's row of ``pipeline_run_reports``, or replace it when the run was
    reported before (a sensor that looks at a run again never adds a second row)."""
    conn.execute(
        """
        INSERT INTO pipeline_run_reports (
          dagster_run_id, job_name, run_id, status, severity, started_at, finished_at,
          duration_s, report, report_uri)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (dagster_run_id) DO UPDATE SET
          job_name = EXCLUDED.job_name, run_id = EXCLUDED.run_id, status = EXCLUDED.status,
          severity = EXCLUDED.severity, started_at = EXCLUDED.started_at,
          finished_at = EXCLUDED.finished_at, duration_s = EXCLUDED.duration_s,
          report = EXCLUDED.report, report_uri = EXCLUDED.report_uri, recorded_at = now()
        """,
        (
            report["dagster_run_id"],
            report["job"],
            report["run_id"],
            report["status"],
            report["severity"],
            _datetime(report["started_at"]),
            _datetime(report["finished_at"]),
            report["duration_s"],
            Jsonb(dict(report)),
            report.get("report_uri"),
        ),
    )
