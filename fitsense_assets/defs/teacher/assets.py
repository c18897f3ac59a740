"""Prompts rendered from the synthetic people and from the consented, anonymized requests
of real ones, and the teacher's answers to them."""

import secrets

import dagster as dg
import pandas as pd
from pydantic import Field

from fitsense_assets.defs.synthetic.assets import (
    synthetic_daily_signals,
    synthetic_plans,
    synthetic_users,
    synthetic_workouts,
)
from fitsense_assets.metadata import markdown_table
from fitsense_assets.partitions import run_partitions
from fitsense_assets.resources import (
    AppDatabaseResource,
    ArtifactStoreResource,
    TeacherResource,
)
from fitsense_assets.stages import (
    SYNTHETIC_STAGES,
    answers_prefix,
    prompts_prefix,
    read_prompts,
    read_synthetic,
)
from fitsense_core.artifacts import ArtifactStore
from fitsense_core.consented import (
    DEFAULT_LIMIT,
    ROW_COLUMNS,
    extract_consented,
    origin_counts,
)
from fitsense_core.prompts import Prompt, build_prompts
from fitsense_core.synthetic import TableSet
from fitsense_core.synthetic.context import user_contexts
from fitsense_core.teacher import run_teacher
from fitsense_core.teacher.offline import OfflineTeacher
from fitsense_core.teacher.runner import AnswerCache


def consented_prefix(run_id: str) -> tuple[str, ...]:
    return ("teacher_outputs", run_id, "consented_interactions")


def read_consented_prompts(store: ArtifactStore, run_id: str) -> list[Prompt]:
    frame = store.read_tables(*consented_prefix(run_id))["prompts"]
    return [Prompt.from_record(row) for row in frame.astype(object).to_dict("records")]


class ConsentedConfig(dg.Config):
    max_interactions: int = Field(
        default=DEFAULT_LIMIT,
        description="At most this many of the newest consented interactions are read.",
    )


@dg.asset(
    partitions_def=run_partitions,
    group_name="teacher",
    kinds={"postgres", "python", "parquet"},
    description="Requests the served model answered (outcome ok) of people whose training "
    "consent is on now, with their feedback: anonymized (keys are HMAC-SHA256 of the user "
    "id under a salt drawn for this run and never stored; emails, phone numbers, URLs and "
    "names scrubbed from free text; the profile reduced to the slice features) and "
    "rendered as teacher prompts.",
)
def consented_interactions(
    context: dg.AssetExecutionContext,
    config: ConsentedConfig,
    app_database: AppDatabaseResource,
    artifact_store: ArtifactStoreResource,
) -> dg.MaterializeResult:
    from fitsense_core.migrations import migrate

    store = artifact_store.store()
    run_id = context.partition_key
    url = app_database.resolved_url()
    migrate(url)  # the first asset of a run may meet a database not yet migrated
    batch = extract_consented(
        url,
        run_id,
        secrets.token_bytes(32),
        limit=config.max_interactions,
    )
    rows = pd.DataFrame([r.record() for r in batch.rows], columns=list(ROW_COLUMNS))
    built = pd.DataFrame([p.record() for p in batch.prompts])
    feedback = batch.feedback_counts()
    store.write_tables(
        TableSet(
            {"interactions": rows, "prompts": built},
            {"run_id": run_id, "people": batch.people, "skipped": batch.skipped, **feedback},
        ),
        *consented_prefix(run_id),
    )
    context.log.info(
        f"{len(rows):,} consented interactions of {batch.people:,} people "
        f"({feedback['feedback_rows']:,} feedback rows)"
    )
    preview = rows[["key", "prompt_type", "topic", "rating", "request", "age_band", "goal"]]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(rows),
            "people": batch.people,
            "skipped_incomplete_profiles": batch.skipped,
            "feedback": dg.MetadataValue.json(feedback),
            "by_prompt_type": dg.MetadataValue.json(rows["prompt_type"].value_counts().to_dict()),
            "preview": dg.MetadataValue.md(
                markdown_table(preview) if len(rows) else "(nobody has opted in yet)"
            ),
            "uri": dg.MetadataValue.path(store.uri(*consented_prefix(run_id))),
        }
    )


class PromptsConfig(dg.Config):
    plan_creation: int = Field(default=1, description="Plan-creation prompts per person.")
    plan_update: int = Field(default=2, description="Plan-update prompts per person.")
    coaching: int = Field(default=2, description="Coaching questions per person.")
    safety: int = Field(default=1, description="Red-flag or clearance cases per person.")
    include_consented: bool = Field(
        default=True,
        description="Add the anonymized requests of people who opted in to training use "
        "(consented_interactions) next to the synthetic prompts; false: synthetic only.",
    )

    def mix(self) -> dict[str, int]:
        return {
            "plan_creation": self.plan_creation,
            "plan_update": self.plan_update,
            "coaching": self.coaching,
            "safety": self.safety,
        }


@dg.asset(
    partitions_def=run_partitions,
    group_name="teacher",
    kinds={"python", "parquet"},
    deps=[
        synthetic_users,
        synthetic_plans,
        synthetic_workouts,
        synthetic_daily_signals,
        consented_interactions,
    ],
    description="Teacher prompts per person: plan creation, plan update (current plan, last "
    "3 sessions, a request), coaching questions and safety cases, with slice tags and the "
    "safety outcome the policy expects; plus the consented real requests (include_consented).",
)
def prompts(
    context: dg.AssetExecutionContext, config: PromptsConfig, artifact_store: ArtifactStoreResource
) -> dg.MaterializeResult:
    store = artifact_store.store()
    run_id = context.partition_key
    contexts = user_contexts(*(read_synthetic(store, run_id, s) for s in SYNTHETIC_STAGES))
    built = build_prompts(run_id, contexts, config.mix())
    if config.include_consented:
        built += read_consented_prompts(store, run_id)
    origins = origin_counts(built)
    frame = pd.DataFrame([p.record() for p in built])
    store.write_tables(
        TableSet(
            {"prompts": frame},
            {
                "run_id": run_id,
                "mix": config.mix(),
                "include_consented": config.include_consented,
                "origins": origins,
            },
        ),
        *prompts_prefix(run_id),
    )
    context.log.info(
        f"{len(built):,} prompts for {len(contexts):,} synthetic people and "
        f"{origins['consented_people']:,} consenting people ({origins['consented']:,} prompts)"
    )
    preview = frame[["prompt_type", "topic", "expected_safety_level", "request"]]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(frame),
            "people": len(contexts),
            "by_source": dg.MetadataValue.json(origins),
            "by_prompt_type": dg.MetadataValue.json(frame["prompt_type"].value_counts().to_dict()),
            "by_expected_safety_level": dg.MetadataValue.json(
                frame["expected_safety_level"].value_counts().to_dict()
            ),
            "preview": dg.MetadataValue.md(
                markdown_table(preview.drop_duplicates("prompt_type"), 8)
            ),
            "uri": dg.MetadataValue.path(store.uri(*prompts_prefix(run_id))),
        }
    )


@dg.asset(
    partitions_def=run_partitions,
    group_name="teacher",
    kinds={"python", "parquet"},
    deps=[prompts],
    description="The teacher's answer to every prompt (plan or coaching reply), with "
    "provider, model, attempts, latency and tokens; failures kept with their reason.",
)
def teacher_outputs(
    context: dg.AssetExecutionContext,
    artifact_store: ArtifactStoreResource,
    teacher: TeacherResource,
) -> dg.MaterializeResult:
    store = artifact_store.store()
    run_id = context.partition_key
    batch = read_prompts(store, run_id)
    provider = teacher.teacher()
    cache = (
        AnswerCache(store, provider.provider, provider.model)
        if teacher.use_cache and provider.provider != "offline"
        else None
    )
    step = max(1, len(batch) // 10)

    def progress(done: int, total: int) -> None:
        if done % step == 0 or done == total:
            context.log.info(f"teacher: {done:,}/{total:,} prompts answered")

    context.log.info(f"teacher {provider.provider}/{provider.model}: {len(batch):,} prompts")
    report = run_teacher(
        batch,
        provider,
        cache=cache,
        concurrency=teacher.concurrency,
        tokens_per_minute=teacher.tokens_per_minute or None,
        max_attempts=teacher.max_attempts,
        base_delay_s=teacher.base_delay_s,
        max_delay_s=teacher.max_delay_s,
        fallback=OfflineTeacher() if teacher.fallback_to_offline else None,
        progress=progress,
    )
    frame = pd.DataFrame([a.record() for a in report.answers])
    store.write_tables(TableSet({"answers": frame}, {"run_id": run_id}), *answers_prefix(run_id))
    failed = frame[frame["status"] == "failed"]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(frame),
            "provider": provider.provider,
            "model": provider.model,
            "outcomes": dg.MetadataValue.json(report.counts),
            "failure_rate": round(report.failure_rate, 4),
            "failure_reasons": dg.MetadataValue.json(report.failure_reasons),
            "seconds": round(report.seconds, 2),
            "prompts_per_second": round(len(frame) / max(report.seconds, 1e-9), 1),
            "failed_examples": dg.MetadataValue.md(
                markdown_table(failed[["prompt_id", "error"]], 5) if len(failed) else "(none)"
            ),
            "uri": dg.MetadataValue.path(store.uri(*answers_prefix(run_id))),
        }
    )
