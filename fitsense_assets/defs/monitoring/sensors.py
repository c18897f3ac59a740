"""The retraining sensor: a new pipeline run when the model's quality decays, when the
requests drift far from the training data (on enough requests from enough people), or
when enough new consented user data has arrived since the last training. Serving problems
(latency, no answers, an outage) are never a cause: retraining cannot fix them, and the
monitoring asset raises an alert for them instead.

Its cursor remembers the last monitoring report it judged and since when it counts new
data, and every run it requests has a run key naming its cause, so one cause never
starts two runs. The cause is on the run as the ``fitsense/reason`` tag; what a run caused
by a report should target (``monitoring.focus``: the decayed capabilities, the drifted
slice) is its ``fitsense/focus`` tag and its run config (more prompts of that kind, the
evaluation's focus section).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import dagster as dg

from fitsense_assets.defs.jobs import pipeline_job
from fitsense_assets.partitions import run_partitions
from fitsense_assets.resources import AppDatabaseResource
from fitsense_core.settings import env_int

TRIGGER = "retraining_sensor"
ACTIVE = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def _since(cursor: dict, url: str) -> datetime | None:
    """Where new data is counted from: the last retraining this sensor requested, else
    when the serving version was registered (trained), else the beginning."""
    from fitsense_core.student.registry import serving

    if cursor.get("data_since"):
        return datetime.fromisoformat(cursor["data_since"])
    current = serving(url)
    return current.created_at if current else None


@dg.sensor(
    job=pipeline_job,
    minimum_interval_seconds=env_int(
        os.environ, "FITSENSE_RETRAIN_SENSOR_INTERVAL_S", 60, 5, 86_400
    ),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests a new pipeline run (a new run_id partition: data, teacher, QA, "
    "dataset, student, evaluation, promotion gate) when the latest monitoring report says "
    "the model's quality decayed past its thresholds (serving problems — latency, no "
    "answers, an outage — raise an alert instead), when the requests drifted past "
    "drift_psi_retrain on enough requests from enough people, or when "
    "FITSENSE_RETRAIN_MIN_NEW_RECORDS (default 200) new consented interactions and feedback "
    "rows have arrived since the last training.",
)
def retraining_sensor(
    context: dg.SensorEvaluationContext, app_database: AppDatabaseResource
) -> dg.SensorResult | dg.SkipReason:
    from fitsense_core.consented import consented_activity_since
    from fitsense_core.monitoring import latest_report
    from fitsense_core.monitoring.focus import focus_run_config, retraining_focus

    cursor = json.loads(context.cursor) if context.cursor else {}
    url = app_database.resolved_url()
    now = datetime.now(UTC)
    causes: list[tuple[str, str]] = []  # (run key part, reason)
    report = latest_report(url)
    if report is not None and report.id > cursor.get("report_id", 0):
        cursor["report_id"] = report.id
        if report.decayed:
            causes.append(
                (
                    f"decay-report-{report.id}",
                    "monitoring decayed: " + "; ".join(report.decay_reasons),
                )
            )
        if report.drift_reasons:
            causes.append(
                (
                    f"drift-report-{report.id}",
                    "monitoring " + "; ".join(report.drift_reasons),
                )
            )
    minimum = env_int(os.environ, "FITSENSE_RETRAIN_MIN_NEW_RECORDS", 200, 1, 10_000_000)
    since = _since(cursor, url)
    fresh = consented_activity_since(url, since)
    if fresh >= minimum:
        mark = since.isoformat() if since else "start"
        causes.append(
            (f"new-data-{mark}", f"{fresh} new consented records since {mark} (≥ {minimum})")
        )
    active = context.instance.get_runs(
        filters=dg.RunsFilter(tags={"fitsense/trigger": TRIGGER}, statuses=ACTIVE), limit=1
    )
    if not causes:
        serving = (
            f"; serving degraded ({'; '.join(report.serving_problems)}): an alert, not a "
            "cause for retraining"
            if report and report.serving_degraded
            else ""
        )
        return dg.SensorResult(
            skip_reason=f"nothing to do: latest report {report.id if report else '-'} "
            f"model quality {'decayed' if report and report.decayed else 'healthy'}, "
            f"drift {report.drift.get('status', '-') if report else '-'}, {fresh} "
            f"new consented records (< {minimum}){serving}",
            cursor=json.dumps(cursor),
        )
    if active:
        # The running retraining answers this decay; new data waits for the next tick.
        return dg.SensorResult(
            skip_reason=f"retraining run {active[0].run_id} is still in progress; "
            f"not starting another for: {'; '.join(r for _, r in causes)}",
            cursor=json.dumps(cursor),
        )
    if any(key.startswith("new-data-") for key, _ in causes):
        cursor["data_since"] = now.isoformat()
    partition = f"retrain-{now:%Y%m%d-%H%M%S}"
    reason = "; ".join(r for _, r in causes)
    # A run caused by the report targets what decayed or drifted (monitoring.focus).
    focus = (
        retraining_focus(report)
        if report is not None and any(not k.startswith("new-data-") for k, _ in causes)
        else {}
    )
    run_config = focus_run_config(focus)
    focused = json.dumps(focus, sort_keys=True) if run_config else ""
    context.log.info(
        f"requesting pipeline run {partition}: {reason}" + (f"; focus {focused}" if focused else "")
    )
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key="+".join(key for key, _ in causes),
                partition_key=partition,
                run_config=run_config,
                tags={
                    "fitsense/run_id": partition,
                    "fitsense/trigger": TRIGGER,
                    "fitsense/reason": reason[:1000],
                    **({"fitsense/focus": focused[:1000]} if focused else {}),
                },
            )
        ],
        dynamic_partitions_requests=[run_partitions.build_add_request([partition])],
        cursor=json.dumps(cursor),
    )
