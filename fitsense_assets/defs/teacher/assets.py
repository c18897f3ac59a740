"""Prompts rendered from the synthetic people and from the consented, anonymized requests
of real ones, and the teacher's answers to them."""

import secrets
from collections.abc import Iterator

import dagster as dg
import pandas as pd
from pydantic import Field

from fitsense_assets.defs.synthetic.assets import (
    synthetic_daily_signals,
    synthetic_plans,
    synthetic_users,
    synthetic_workouts,
)
from fitsense_assets.defs.teacher.knowledge import knowledge_base
from fitsense_assets.metadata import markdown_table
from fitsense_assets.partitions import run_partitions
from fitsense_assets.resources import (
    AppDatabaseResource,
    ArtifactStoreResource,
    TeacherResource,
)
from fitsense_assets.stages import SYNTHETIC_STAGES, read_prompts, read_synthetic
from fitsense_core import layout
from fitsense_core.artifacts import ArtifactStore
from fitsense_core.consented import (
    DEFAULT_LIMIT,
    ROW_COLUMNS,
    extract_consented,
    origin_counts,
)
from fitsense_core.errors import DataValidationError
from fitsense_core.prompts import Prompt, build_prompts, slice_tags
from fitsense_core.synthetic import TableSet
from fitsense_core.synthetic.context import user_contexts
from fitsense_core.teacher import TeacherRunReport, run_teacher
from fitsense_core.teacher.offline import OfflineTeacher
from fitsense_core.teacher.runner import AnswerCache, estimate_tokens
from fitsense_core.teacher.shards import (
    answers_frame,
    answers_from_frame,
    merge_shards,
    shard_budget,
    shard_from_key,
    shard_key,
    split_prompts,
)


def read_consented_prompts(store: ArtifactStore, run_id: str) -> list[Prompt]:
    frame = store.read_tables(*layout.consented_prompts(run_id))["prompts"]
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
    "consent is on now, made while it was on (consent_events), with their feedback: "
    "anonymized (keys are HMAC-SHA256 of the user id under a salt drawn for this run and "
    "never stored; emails, phone numbers, URLs and names scrubbed from free text; the "
    "profile reduced to the slice features) and rendered as teacher prompts.",
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
        *layout.consented_prompts(run_id),
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
            "uri": dg.MetadataValue.path(store.uri(*layout.consented_prompts(run_id))),
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
    focus_prompt_types: list[str] = Field(
        default=[],
        description="Prompt types asked focus_factor times as often (a retraining run "
        "targets the capability that decayed; the retraining sensor sets it).",
    )
    focus_slices: dict[str, str] = Field(
        default={},
        description="People in this slice (e.g. {'age_band': '65+'}) are asked focus_factor "
        "times as many prompts (a retraining run targets the slice that drifted).",
    )
    focus_factor: int = Field(default=2, description="How much more the focus is asked (1-5).")

    def _base_mix(self) -> dict[str, int]:
        mix = {
            "plan_creation": self.plan_creation,
            "plan_update": self.plan_update,
            "coaching": self.coaching,
            "safety": self.safety,
        }
        unknown = set(self.focus_prompt_types) - set(mix)
        if unknown:
            raise ValueError(f"unknown focus prompt types: {sorted(unknown)}")
        return mix

    def _factor(self) -> int:
        return max(1, min(5, self.focus_factor))

    def mix(self) -> dict[str, int]:
        """Prompts per person: the focus types ``focus_factor`` times as many."""
        factor = self._factor()
        return {
            t: n * factor if t in self.focus_prompt_types else n
            for t, n in self._base_mix().items()
        }

    def focus_mix(self) -> dict[str, int]:
        """Prompts per person in the focus slices: every type ``focus_factor`` times."""
        factor = self._factor()
        return {t: n * factor for t, n in self._base_mix().items()}


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
        knowledge_base,
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
    in_focus = {
        user_id
        for user_id, ctx in contexts.items()
        if config.focus_slices
        and all(
            slice_tags(ctx.profile, "").get(dim) == value
            for dim, value in config.focus_slices.items()
        )
    }
    built = build_prompts(
        run_id, {u: c for u, c in contexts.items() if u not in in_focus}, config.mix()
    )
    if in_focus:
        built += build_prompts(
            run_id, {u: c for u, c in contexts.items() if u in in_focus}, config.focus_mix()
        )
        built.sort(key=lambda p: (p.user_id, p.prompt_id))
    focus = {
        "prompt_types": list(config.focus_prompt_types),
        "slices": dict(config.focus_slices),
        "factor": config.focus_factor,
        "people_in_focus_slices": len(in_focus),
    }
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
                "focus": focus,
                "include_consented": config.include_consented,
                "origins": origins,
            },
        ),
        *layout.teacher_prompts(run_id),
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
            "focus": dg.MetadataValue.json(focus),
            "by_source": dg.MetadataValue.json(origins),
            "by_prompt_type": dg.MetadataValue.json(frame["prompt_type"].value_counts().to_dict()),
            "by_expected_safety_level": dg.MetadataValue.json(
                frame["expected_safety_level"].value_counts().to_dict()
            ),
            "preview": dg.MetadataValue.md(
                markdown_table(preview.drop_duplicates("prompt_type"), 8)
            ),
            "uri": dg.MetadataValue.path(store.uri(*layout.teacher_prompts(run_id))),
        }
    )


TEACHER_POOL = "teacher_provider"


def pool_limit_warning(instance: dg.DagsterInstance, shards: int) -> str | None:
    """Why N shards may call the provider more than N at a time across runs, or None: the
    teacher_provider pool has no limit, or one above N."""
    try:
        limits = {p.name: p.limit for p in instance.event_log_storage.get_pool_limits()}
        limit = limits.get(
            TEACHER_POOL, instance.get_concurrency_config().pool_config.default_pool_limit
        )
    except NotImplementedError:
        limit = None
    if limit is not None and limit <= shards:
        return None
    return (
        f"the {TEACHER_POOL} pool has {'no limit' if limit is None else f'a limit of {limit}'}: "
        f"another run's shards may call the provider beside these {shards} and exceed its "
        f"rate limit; set it with `dagster instance concurrency set {TEACHER_POOL} {shards}`"
    )


@dg.op(
    ins={"prompts": dg.In(dg.Nothing)},
    out=dg.DynamicOut(dg.Nothing),
    description="Splits the run's prompts into N teacher shards (int(prompt_hash[:8], 16) % N; "
    "N from the teacher resource's shards or FITSENSE_TEACHER_SHARDS) and writes the plan.",
)
def split_teacher_prompts(
    context: dg.OpExecutionContext,
    artifact_store: ArtifactStoreResource,
    teacher: TeacherResource,
) -> Iterator[dg.DynamicOutput]:
    store = artifact_store.store()
    run_id = context.partition_key
    shards = teacher.resolved_shards()
    batch = read_prompts(store, run_id)
    provider = teacher.teacher()
    sizes = [len(part) for part in split_prompts(batch, shards)]
    store.write_json(
        {
            "run_id": run_id,
            "shards": shards,
            "prompts": len(batch),
            "sizes": sizes,
            "provider": provider.provider,
            "model": provider.model,
        },
        *layout.teacher_shard_plan(run_id),
    )
    context.log.info(
        f"teacher {provider.provider}/{provider.model}: {len(batch):,} prompts in "
        f"{shards} shard{'s' if shards != 1 else ''} of {', '.join(f'{n:,}' for n in sizes)}"
    )
    if shards > 1 and (warning := pool_limit_warning(context.instance, shards)):
        context.log.warning(warning)
    for shard in range(shards):
        yield dg.DynamicOutput(None, mapping_key=shard_key(shard))


@dg.op(
    ins={"planned": dg.In(dg.Nothing)},
    out=dg.Out(dg.Nothing),
    pool=TEACHER_POOL,
    description="Answers one shard's prompts with 1/N of the teacher's concurrency and "
    "token budget; writes them under teacher_outputs/<run_id>/shards/<shard>/answers.",
)
def answer_teacher_shard(
    context: dg.OpExecutionContext,
    artifact_store: ArtifactStoreResource,
    teacher: TeacherResource,
) -> None:
    store = artifact_store.store()
    run_id = context.partition_key
    shard = shard_from_key(context.get_mapping_key() or "")
    shards = int(store.read_json(*layout.teacher_shard_plan(run_id))["shards"])
    batch = split_prompts(read_prompts(store, run_id), shards)[shard]
    budget = shard_budget(teacher.concurrency, teacher.tokens_per_minute, shards)
    provider = teacher.teacher()
    cache = (
        AnswerCache(store, provider.provider, provider.model)
        if teacher.use_cache and provider.provider != "offline"
        else None
    )
    name = f"teacher {shard_key(shard)} of {shards}" if shards > 1 else "teacher"
    if budget.tokens_per_minute and batch:
        largest = max(estimate_tokens(p) for p in batch)
        if largest > budget.tokens_per_minute:
            context.log.warning(
                f"{name}: a request may need {largest:,} tokens, more than the shard's "
                f"{budget.tokens_per_minute:,} a minute; such requests are let through at the "
                "bucket's capacity, so the provider may see more than tokens_per_minute"
            )
    step = max(1, len(batch) // 10)

    def progress(done: int, total: int) -> None:
        if done % step == 0 or done == total:
            context.log.info(f"{name}: {done:,}/{total:,} prompts answered")

    context.log.info(
        f"{name}: {len(batch):,} prompts, {budget.concurrency} in flight, "
        f"{budget.tokens_per_minute or 'no'} tokens a minute"
    )
    report = run_teacher(
        batch,
        provider,
        cache=cache,
        concurrency=budget.concurrency,
        tokens_per_minute=budget.tokens_per_minute,
        max_attempts=teacher.max_attempts,
        base_delay_s=teacher.base_delay_s,
        max_delay_s=teacher.max_delay_s,
        fallback=OfflineTeacher() if teacher.fallback_to_offline else None,
        progress=progress,
    )
    store.write_tables(
        TableSet(
            {"answers": answers_frame(report.answers)},
            {"run_id": run_id, "shard": shard, "shards": shards, "seconds": report.seconds},
        ),
        *layout.teacher_shard_answers(run_id, shard),
    )


@dg.op(
    ins={"answered": dg.In(dg.Nothing)},
    out=dg.Out(dg.Nothing),
    description="Merges the shards' answers in prompt order into teacher_outputs/<run_id>/answers.",
)
def merge_teacher_shards(
    context: dg.OpExecutionContext, artifact_store: ArtifactStoreResource
) -> None:
    store = artifact_store.store()
    run_id = context.partition_key
    plan = store.read_json(*layout.teacher_shard_plan(run_id))
    batch = read_prompts(store, run_id)
    parts, seconds = [], []
    for shard in range(int(plan["shards"])):
        written = store.read_tables(*layout.teacher_shard_answers(run_id, shard))
        if written.meta.get("run_id") != run_id or written.meta.get("shards") != plan["shards"]:
            raise DataValidationError(f"teacher shard {shard} of {run_id} is not this plan's")
        parts.append(answers_from_frame(written["answers"]))
        seconds.append(float(written.meta["seconds"]))
    # The shards run side by side: the stage took as long as its longest shard.
    report = TeacherRunReport(merge_shards(batch, parts), max(seconds, default=0.0))
    frame = answers_frame(report.answers)
    store.write_tables(
        TableSet({"answers": frame}, {"run_id": run_id}), *layout.teacher_answers(run_id)
    )
    failed = frame[frame["status"] == "failed"]
    context.add_output_metadata(
        {
            "dagster/row_count": len(frame),
            "provider": plan["provider"],
            "model": plan["model"],
            "outcomes": dg.MetadataValue.json(report.counts),
            "failure_rate": round(report.failure_rate, 4),
            "failure_reasons": dg.MetadataValue.json(report.failure_reasons),
            "seconds": round(report.seconds, 2),
            "prompts_per_second": round(len(frame) / max(report.seconds, 1e-9), 1),
            "failed_examples": dg.MetadataValue.md(
                markdown_table(failed[["prompt_id", "error"]], 5) if len(failed) else "(none)"
            ),
            "shards": int(plan["shards"]),
            "shard_rows": dg.MetadataValue.json([len(part) for part in parts]),
            "shard_seconds": dg.MetadataValue.json([round(s, 2) for s in seconds]),
            "uri": dg.MetadataValue.path(store.uri(*layout.teacher_answers(run_id))),
        }
    )


@dg.graph_asset(
    partitions_def=run_partitions,
    group_name="teacher",
    kinds={"python", "parquet"},
    ins={"prompts": dg.AssetIn(dagster_type=dg.Nothing)},
    description="The teacher's answer to every prompt (plan or coaching reply), with "
    "provider, model, attempts, latency and tokens; failures kept with their reason. "
    "Answered by N shard steps side by side (FITSENSE_TEACHER_SHARDS, default 1), each with "
    "1/N of the budget, in the teacher_provider concurrency pool, then merged in prompt order.",
)
def teacher_outputs(prompts):
    answered = split_teacher_prompts(prompts).map(answer_teacher_shard)
    return merge_teacher_shards(answered.collect())
