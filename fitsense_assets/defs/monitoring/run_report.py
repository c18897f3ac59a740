"""Run reports: every finished run of the ``pipeline`` and ``dataset`` jobs is reported.

Three run status sensors, one per way a run ends (success, failure, cancellation), read
the finished run's event log — step stats, asset materializations and their metadata,
asset check evaluations, step errors — and record the report that
``fitsense_core.run_report`` builds from it: a row of ``pipeline_run_reports``, a JSON file
``reports/<run_id>/pipeline_runs/<dagster run id>.json`` in the artifact store and one
structured ``pipeline_run_report`` log line on stderr for Cloud Logging.

A run that stopped early is reported with what it ran (the assets and checks it planned
but never produced are listed). An error while reporting is not caught here: Dagster marks
the sensor's tick failed with it (and moves on, so one bad run does not block the others).
The sensors see the runs the daemon launched (the UI's launchpad, schedules, the retraining
sensor); ``fitsense pipeline run`` executes in-process, and ``fitsense_assets.runner``
reports its runs itself with :func:`record_run_report`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from fitsense_assets.defs.jobs import dataset_job, pipeline_job
from fitsense_assets.resources import AppDatabaseResource, ArtifactStoreResource
from fitsense_core import run_report as rr
from fitsense_core.artifacts import ArtifactStore
from fitsense_core.settings import deployment_environment, env_int

MONITORED_JOBS = [pipeline_job, dataset_job]
REPORTED_JOBS = tuple(job.name for job in MONITORED_JOBS)
_PLAIN_METADATA = (
    dg.IntMetadataValue,
    dg.FloatMetadataValue,
    dg.BoolMetadataValue,
    dg.TextMetadataValue,
    dg.JsonMetadataValue,
    dg.PathMetadataValue,
    dg.UrlMetadataValue,
)
_EVENTS = {
    dg.DagsterEventType.ASSET_MATERIALIZATION,
    dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED,
    dg.DagsterEventType.ASSET_CHECK_EVALUATION,
    dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED,
    dg.DagsterEventType.STEP_FAILURE,
    dg.DagsterEventType.RUN_FAILURE,
}
# Tags kept in the report besides every fitsense/* tag.
_DAGSTER_TAGS = (
    "dagster/partition",
    "dagster/sensor_name",
    "dagster/schedule_name",
    "dagster/backfill",
    "dagster/parent_run_id",
    "dagster/root_run_id",
)


def _time(timestamp: float | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp, UTC) if timestamp is not None else None


def _plain(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """Metadata values that are numbers, flags, short text, JSON or paths (no markdown,
    schemas or tables)."""
    return {k: v.value for k, v in metadata.items() if isinstance(v, _PLAIN_METADATA)}


def _error_text(error: Any) -> str:
    """An error's message and its causes', without the stack traces."""
    parts = []
    while error is not None:
        parts.append(error.message.strip())
        error = error.cause
    return " <- ".join(p for p in parts if p)


def run_facts(instance: dg.DagsterInstance, dagster_run_id: str) -> rr.RunFacts:
    """What the instance's event log says about one run, as plain values."""
    record = instance.get_run_record_by_id(dagster_run_id)
    if record is None:
        raise dg.DagsterInvariantViolationError(f"no run {dagster_run_id} in the instance")
    run = record.dagster_run
    stages = [
        rr.Stage(
            step_key=s.step_key,
            status=s.status.value if s.status else "IN_PROGRESS",
            started_at=_time(s.start_time),
            finished_at=_time(s.end_time),
            attempts=s.attempts or 1,
        )
        for s in instance.get_run_step_stats(dagster_run_id)
    ]
    materializations, checks, planned_assets, planned_checks, errors = [], [], [], [], []
    run_error = None
    for entry in instance.all_logs(dagster_run_id, of_type=_EVENTS):
        event = entry.dagster_event
        if event is None:
            continue
        kind = event.event_type
        if kind == dg.DagsterEventType.ASSET_MATERIALIZATION:
            m = event.step_materialization_data.materialization
            materializations.append(
                rr.Materialization(
                    asset=m.asset_key.to_user_string(),
                    step_key=entry.step_key,
                    partition=m.partition,
                    metadata=_plain(m.metadata),
                )
            )
        elif kind == dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED:
            planned_assets.append(
                event.asset_materialization_planned_data.asset_key.to_user_string()
            )
        elif kind == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            c = event.asset_check_evaluation_data
            checks.append(
                rr.CheckResult(
                    asset=c.asset_key.to_user_string(),
                    check=c.check_name,
                    passed=c.passed,
                    severity=c.severity.value,
                    blocking=bool(c.blocking),
                    description=c.description,
                    step_key=entry.step_key,
                )
            )
        elif kind == dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED:
            p = event.asset_check_planned_data
            planned_checks.append((p.asset_key.to_user_string(), p.check_name))
        elif kind == dg.DagsterEventType.STEP_FAILURE:
            error = event.step_failure_data.error
            errors.append(
                rr.StepError(
                    entry.step_key, _error_text(error) if error else event.message or "failed"
                )
            )
        elif kind == dg.DagsterEventType.RUN_FAILURE:
            run_error = event.message
    return rr.RunFacts(
        dagster_run_id=dagster_run_id,
        job_name=run.job_name,
        status=run.status.value,
        partition=run.tags.get("dagster/partition"),
        tags={k: v for k, v in run.tags.items() if k.startswith("fitsense/") or k in _DAGSTER_TAGS},
        started_at=_time(record.start_time),
        finished_at=_time(record.end_time),
        stages=stages,
        materializations=materializations,
        checks=checks,
        planned_assets=planned_assets,
        planned_checks=planned_checks,
        errors=errors,
        run_error=run_error,
    )


def record_run_report(
    instance: dg.DagsterInstance,
    dagster_run_id: str,
    *,
    database_url: str,
    store: ArtifactStore,
    environment: str | None = None,
) -> dict[str, Any]:
    """Build one finished run's report and record it: the artifact JSON, the
    ``pipeline_run_reports`` row (inserted or replaced), then the log line. Returns it."""
    import psycopg

    from fitsense_core.migrations import migrate

    report = rr.build_report(run_facts(instance, dagster_run_id))
    parts = rr.artifact_parts(report)
    report["report_uri"] = store.uri(*parts)
    store.write_json(report, *parts)
    migrate(database_url)
    with psycopg.connect(database_url) as conn:
        rr.upsert_report(conn, report)
    rr.emit_log_line(
        rr.log_entry(
            report,
            environment=environment or deployment_environment(os.environ),
            service=os.environ.get("K_SERVICE") or "fitsense-dagster",
        )
    )
    return report


def _run_report_sensor(status: dg.DagsterRunStatus) -> dg.RunStatusSensorDefinition:
    ending = status.value.lower()

    @dg.run_status_sensor(
        name=f"pipeline_run_report_{ending}",
        run_status=status,
        monitored_jobs=MONITORED_JOBS,
        minimum_interval_seconds=env_int(
            os.environ, "FITSENSE_RUN_REPORT_SENSOR_INTERVAL_S", 30, 5, 86_400
        ),
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Reports every {ending} run of the pipeline and dataset jobs: per-stage "
        "status and runtime, row counts, asset-check results, QA anomalies by severity, bias "
        "alerts and the model version, in PostgreSQL (pipeline_run_reports), as JSON "
        "(reports/<run_id>/pipeline_runs/) and as a structured pipeline_run_report log line.",
    )
    def _sensor(
        context: dg.RunStatusSensorContext,
        app_database: AppDatabaseResource,
        artifact_store: ArtifactStoreResource,
    ) -> None:
        report = record_run_report(
            context.instance,
            context.dagster_run.run_id,
            database_url=app_database.resolved_url(),
            store=artifact_store.store(),
        )
        context.log.log(
            logging.getLevelName(report["severity"]),
            f"{report['message']} (report {report['report_uri']})",
        )

    return _sensor


pipeline_run_report_success = _run_report_sensor(dg.DagsterRunStatus.SUCCESS)
pipeline_run_report_failure = _run_report_sensor(dg.DagsterRunStatus.FAILURE)
pipeline_run_report_canceled = _run_report_sensor(dg.DagsterRunStatus.CANCELED)
