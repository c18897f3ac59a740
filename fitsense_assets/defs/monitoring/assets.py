"""Live monitoring: probes of the served model, the recent interactions and drift."""

import os
from datetime import UTC, datetime

import dagster as dg
from pydantic import Field

from fitsense_assets.defs.registry.assets import serving_model
from fitsense_assets.resources import AppDatabaseResource, ArtifactStoreResource
from fitsense_core import layout


class MonitoringConfig(dg.Config):
    window_hours: float = Field(
        default=24.0, description="How far back the interactions are read (hours)."
    )
    probes: int = Field(
        default=12,
        description="Probe prompts asked of the served model, stratified by prompt type "
        "(plan creation, plan update, coaching, safety) from a fixed pool.",
    )
    rotate_probes: bool = Field(
        default=True,
        description="Ask another sample of the probe pool every quarter hour (a day's "
        "window then covers most of the pool); false: the same probes every run.",
    )
    probe_timeout_s: float = Field(
        default=30.0, description="Seconds one probe may take before it counts as failed."
    )
    contract_validity_min: float = Field(default=1.0, description="Decayed below this.")
    semantic_validity_min: float = Field(default=0.9, description="Decayed below this.")
    latency_p95_max_s: float = Field(
        default=8.0, description="Serving degraded above this p95 (s): an alert, not decay."
    )
    fallback_rate_max: float = Field(
        default=0.05,
        description="Decayed above this share of model answers the checks refuse; serving "
        "degraded above this share of requests the model gave no answer to.",
    )
    drift_psi_warn: float = Field(
        default=0.25, description="The drift check warns above this population stability index."
    )
    drift_psi_retrain: float = Field(
        default=0.5,
        description="Drift above this PSI, on enough requests from enough people, is a "
        "retraining cause.",
    )
    min_drift_retrain_requests: int = Field(
        default=200, description="Fewer user requests: drift is never a retraining cause."
    )
    min_drift_people: int = Field(
        default=20, description="Fewer distinct people: drift is never a retraining cause."
    )
    capability_plan_floor: float = Field(
        default=0.9,
        description="A plan capability is suspended (the knowledge-based coach serves it) "
        "when the 95 % upper bound of its live acceptance is below this.",
    )
    capability_reply_floor: float = Field(
        default=0.8,
        description="The coach-reply capability is suspended when the 95 % upper bound of "
        "its live acceptance is below this (the gate's reply-acceptance floor).",
    )
    min_capability_answers: int = Field(
        default=10, description="Fewer model answers of a capability: it is not judged."
    )
    min_requests: int = Field(
        default=5, description="Fewer requests in the window: its rates are shown, not judged."
    )
    min_drift_requests: int = Field(
        default=20, description="Fewer user requests: no drift statistic is computed."
    )


def _reference(store, url: str, version: str | None):
    """The serving version's training split, when its dataset is in the artifact store."""
    from fitsense_core.distill import read_split
    from fitsense_core.monitoring import training_reference
    from fitsense_core.student.registry import get

    if version is None:
        return None
    run_id = get(url, version).dataset_run_id
    if not store.exists(*layout.distillation_split(run_id, "train")):
        return None
    return training_reference(read_split(store, run_id, "train"), f"{run_id}/train")


@dg.asset(
    group_name="monitoring",
    kinds={"postgres", "python"},
    deps=[serving_model],
    description="Probes the served student with a fixed probe set and aggregates the "
    "window's ai_interactions: JSON, contract and semantic validity, safety outcomes, "
    "fallback and error rates, latency p50/p95, and drift (PSI, KS) of the request slices "
    "and lengths against the serving version's training data. Stored in PostgreSQL "
    "(monitoring_reports) and as a JSON report with a plot; the retraining sensor reads it.",
)
def live_monitoring(
    context: dg.AssetExecutionContext,
    config: MonitoringConfig,
    app_database: AppDatabaseResource,
    artifact_store: ArtifactStoreResource,
) -> dg.MaterializeResult:
    import psycopg

    from fitsense_core import monitoring as m
    from fitsense_core.migrations import migrate
    from fitsense_core.student.registry import serving
    from fitsense_core.student.suspensions import suspend

    url = app_database.resolved_url()
    migrate(url)
    store = artifact_store.store()
    thresholds = m.Thresholds(
        contract_validity_min=config.contract_validity_min,
        semantic_validity_min=config.semantic_validity_min,
        latency_p95_max_s=config.latency_p95_max_s,
        fallback_rate_max=config.fallback_rate_max,
        drift_psi_warn=config.drift_psi_warn,
        drift_psi_retrain=config.drift_psi_retrain,
        min_drift_retrain_requests=config.min_drift_retrain_requests,
        min_drift_people=config.min_drift_people,
        capability_plan_floor=config.capability_plan_floor,
        capability_reply_floor=config.capability_reply_floor,
        min_capability_answers=config.min_capability_answers,
        min_requests=config.min_requests,
        min_drift_requests=config.min_drift_requests,
    )
    start, end = m.window(config.window_hours)
    current = serving(url)
    version = current.version if current else None
    rotation = int(start.timestamp() // 900) if config.rotate_probes else 0
    context.log.info(
        f"serving: {version or 'nothing'}; asking {config.probes} probes (rotation {rotation})"
    )
    outcomes = m.probe_served_model(
        m.probe_records(config.probes, rotation),
        url,
        timeout_s=config.probe_timeout_s,
        progress=context.log.info,
    )
    with psycopg.connect(url) as conn:
        m.record_probes(conn, outcomes)
        conn.commit()
        end = datetime.now(UTC)
        rows = m.window_rows(conn, start, end)
    probes = m.probe_metrics(outcomes)
    live = m.live_metrics(rows)
    live["capabilities"] = m.capability_metrics(rows, version)
    live["capability_breaches"] = m.breaches(
        live["capabilities"],
        plan_floor=thresholds.capability_plan_floor,
        reply_floor=thresholds.capability_reply_floor,
        min_answers=thresholds.min_capability_answers,
    )
    drift = m.drift_report(_reference(store, url, version), rows, thresholds)
    report = m.MonitoringReport(
        window_start=start,
        window_end=end,
        model_version=version,
        probes=probes,
        live=live,
        drift=drift,
        thresholds=thresholds,
        decay_reasons=m.decay_reasons(probes, live, thresholds),
        serving_problems=m.serving_problems(probes, live, thresholds),
    )
    stamp = end.strftime("%Y%m%dT%H%M%S")
    png = m.plot_png(report)
    plot_uri = store.write_bytes(png, *layout.monitoring_report(stamp, ".png"))
    report.report_uri = store.uri(*layout.monitoring_report(stamp))
    newly_suspended: dict[str, str] = {}
    with psycopg.connect(url) as conn:
        m.store_report(conn, report)
        # Users are protected at once: a capability below its gate is served by the
        # knowledge-based coach from the API's next request until a version passes again.
        for capability, why in report.capability_breaches.items():
            if version and suspend(conn, version, capability, why, report.id):
                newly_suspended[capability] = why
        conn.commit()
    store.write_json(report.to_json(), *layout.monitoring_report(stamp))
    verdict = "; ".join(report.decay_reasons) or "healthy"
    serving = "; ".join(report.serving_problems) or "healthy"
    drift_cause = "; ".join(report.drift_reasons)
    context.log.info(
        f"monitoring report {report.id}: model quality {verdict}; serving {serving}; "
        f"drift {drift['status']}"
        + (f" ({drift_cause}: a retraining cause)" if drift_cause else "")
    )
    from fitsense_core.run_report import emit_log_line
    from fitsense_core.settings import deployment_environment

    environment = deployment_environment(os.environ)
    if newly_suspended:
        emit_log_line(m.suspension_alert_entry(report, newly_suspended, environment=environment))
        context.log.error(
            f"suspended for {version} (the knowledge-based coach serves them): "
            + "; ".join(f"{c}: {r}" for c, r in newly_suspended.items())
        )
    if report.serving_degraded:
        # An alert, not a retraining run: no new model fixes a slow or absent server.
        emit_log_line(m.serving_alert_entry(report, environment=environment))
        context.log.error(f"serving degraded (alert raised, no retraining): {serving}")
    figures = {
        "probe contract validity": probes.get("contract_validity"),
        "probe semantic validity": probes.get("semantic_validity"),
        "probe safety compliance": probes.get("safety_compliance"),
        "probe p95 latency (s)": probes.get("latency_p95_s"),
        "probe false escalation (ordinary triaged clearance/emergency)": probes.get(
            "false_escalation_rate"
        ),
        "probe missed escalation (clearance/emergency triaged ordinary)": probes.get(
            "missed_escalation_rate"
        ),
        "live contract validity": live["contract_validity"],
        "live semantic validity": live["semantic_validity"],
        "fallback rate": live["fallback_rate"],
        "model answers refused by the checks": live["rejected_rate"],
        "no model answer (serving)": live["no_answer_rate"],
        "error rate": live["error_rate"],
        "live p50 / p95 latency (s)": f"{live['latency_p50_s']} / {live['latency_p95_s']}",
        "drift": f"{drift['status']} (max PSI {drift.get('max_psi', '-')})",
    }
    table = "| figure | value |\n| --- | --- |\n" + "\n".join(
        f"| {k} | {'-' if v is None else v} |" for k, v in figures.items()
    )
    return dg.MaterializeResult(
        metadata={
            "report_id": report.id,
            "serving_version": version or "",
            "decayed": report.decayed,
            "decay_reasons": verdict,
            "drift_reasons": "; ".join(report.drift_reasons) or "none",
            "suspended_capabilities": "; ".join(
                f"{c}: {r}" for c, r in report.capability_breaches.items()
            )
            or "none",
            "capabilities": dg.MetadataValue.json(live["capabilities"]),
            "serving_degraded": report.serving_degraded,
            "serving_problems": serving,
            "status": dg.MetadataValue.md(
                "| concern | status |\n| --- | --- |\n"
                + "\n".join(f"| {k.replace('_', ' ')} | {v} |" for k, v in report.status.items())
            ),
            "requests": live["requests"],
            "user_requests": live["user_requests"],
            "probes": probes.get("probes", 0),
            "fallback_rate": live["fallback_rate"] if live["fallback_rate"] is not None else -1.0,
            "summary": dg.MetadataValue.md(table),
            "plot": dg.MetadataValue.md(m.png_markdown(png)),
            "outcomes": dg.MetadataValue.json(live["outcomes"]),
            "drift": dg.MetadataValue.json(drift),
            "report": dg.MetadataValue.path(report.report_uri),
            "plot_uri": dg.MetadataValue.path(plot_uri),
        }
    )


monitoring_job = dg.define_asset_job(
    "monitoring",
    selection=[live_monitoring],
    description="Probe the served model and aggregate the recent interactions.",
)

monitoring_schedule = dg.ScheduleDefinition(
    name="monitoring_every_15_minutes",
    job=monitoring_job,
    cron_schedule="*/15 * * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Live monitoring every 15 minutes; the retraining sensor reads its reports.",
)
