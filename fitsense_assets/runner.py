"""Running pipeline jobs against the project's Dagster instance, as the CLI does."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import dagster as dg

from fitsense_assets.definitions import defs
from fitsense_assets.defs.monitoring.run_report import REPORTED_JOBS, record_run_report
from fitsense_assets.partitions import run_partitions
from fitsense_assets.resources import AppDatabaseResource, ArtifactStoreResource
from fitsense_core.synthetic.config import validate_run_id


@dataclass(frozen=True)
class PipelineResult:
    run_id: str
    dagster_run_id: str
    success: bool
    materialized: list[str]
    failed_checks: list[str]
    metadata: dict[str, dict[str, Any]]
    report_uri: str | None = None  # the run report (pipeline and dataset jobs)


JOBS = ("pipeline", "dataset", "synthetic_data")


@contextmanager
def termination_signals_kept() -> Iterator[None]:
    """Restore SIGINT's and SIGTERM's handlers on the way out. Dagster's in-process
    execution leaves SIGTERM set to whatever SIGINT's handler was (its interrupt capture maps
    SIGTERM onto SIGINT): in a process started in the background, where SIGINT is ignored,
    SIGTERM ends up ignored too, and every process started afterwards inherits that, so
    `fitsense up` could no longer stop its model server, API or Dagster with SIGTERM. Only the
    main thread can set handlers; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in saved.items():
            if handler is not None:  # None: set outside Python; nothing to restore to
                signal.signal(signum, handler)


def run_pipeline_job(
    run_id: str,
    *,
    n_users: int,
    seed: int,
    history_days: int,
    history_end: str = "",
    job_name: str = "pipeline",
    ops_config: dict[str, dict[str, Any]] | None = None,
    instance: dg.DagsterInstance | None = None,
) -> PipelineResult:
    """Materialize a job's assets for partition ``run_id`` in the Dagster instance
    (``pipeline``: everything through training, evaluation and promotion; ``dataset``: up to
    the distillation dataset; ``synthetic_data``: the synthetic stage only). ``ops_config``
    adds per-asset configuration, e.g. ``{"student_model": {"max_steps": 10}}``."""
    validate_run_id(run_id)
    instance = instance or dg.DagsterInstance.get()
    if not instance.has_dynamic_partition(run_partitions.name, run_id):
        instance.add_dynamic_partitions(run_partitions.name, [run_id])
    job = defs().resolve_job_def(job_name)
    run_config = {
        "loggers": {"console": {"config": {"log_level": "INFO"}}},
        "ops": {
            "synthetic_users": {
                "config": {
                    "n_users": n_users,
                    "seed": seed,
                    "history_days": history_days,
                    "history_end": history_end,
                }
            }
        },
    }
    for op, values in (ops_config or {}).items():
        if job.has_node_named(op):
            run_config["ops"].setdefault(op, {"config": {}})["config"].update(values)
    with termination_signals_kept():
        result = job.execute_in_process(
            run_config=run_config,
            instance=instance,
            partition_key=run_id,
            raise_on_error=False,
            tags={"fitsense/run_id": run_id, "fitsense/trigger": "cli"},
        )
    materialized, metadata = [], {}
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        if materialization is None:
            continue
        key = materialization.asset_key.to_user_string()
        materialized.append(key)
        metadata[key] = {k: v.value for k, v in materialization.metadata.items()}
    evaluations = [
        e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ]
    failed = [f"{ev.check_name}: {ev.description}" for ev in evaluations if not ev.passed]
    report_uri = None
    if job_name in REPORTED_JOBS:
        # The daemon's run report sensors only see runs it launched; this one is in-process.
        report_uri = record_run_report(
            instance,
            result.run_id,
            database_url=AppDatabaseResource().resolved_url(),
            store=ArtifactStoreResource().store(),
        )["report_uri"]
    return PipelineResult(
        run_id, result.run_id, result.success, materialized, failed, metadata, report_uri
    )
