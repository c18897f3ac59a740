"""Checks on prompts, the consented real requests and teacher answers."""

from collections import Counter

import dagster as dg

from fitsense_assets.defs.teacher.assets import (
    consented_interactions,
    prompts,
    teacher_outputs,
)
from fitsense_assets.resources import AppDatabaseResource, ArtifactStoreResource
from fitsense_assets.stages import read_answers, read_prompts
from fitsense_core import layout
from fitsense_core.consented import find_leaks, is_consented
from fitsense_core.prompts import PROMPT_TYPES

MIN_PROMPTS_PER_PERSON = 6
MAX_FAILURE_RATE = 0.05


@dg.asset_check(
    asset=prompts,
    blocking=True,
    description="Every synthetic person has at least 6 prompts (a consenting person has "
    "as many as they asked), every prompt type occurs, ids are unique and every prompt "
    "carries its slice tags.",
)
def prompts_cover_every_person(
    context: dg.AssetCheckExecutionContext, artifact_store: ArtifactStoreResource
) -> dg.AssetCheckResult:
    batch = read_prompts(artifact_store.store(), context.partition_key)
    per_person = Counter(p.user_id for p in batch if not is_consented(p))
    types = Counter(p.prompt_type for p in batch)
    problems = []
    if len({p.prompt_id for p in batch}) != len(batch):
        problems.append("prompt ids are not unique")
    short = [u for u, n in per_person.items() if n < MIN_PROMPTS_PER_PERSON]
    if short:
        problems.append(f"{len(short)} people have fewer than {MIN_PROMPTS_PER_PERSON} prompts")
    missing = [t for t in PROMPT_TYPES if not types[t]]
    if missing:
        problems.append(f"no prompts of type {', '.join(missing)}")
    untagged = [
        p.prompt_id
        for p in batch
        if set(p.slices)
        != {"age_band", "sex", "goal", "experience", "condition_flag", "prompt_type"}
    ]
    if untagged:
        problems.append(f"{len(untagged)} prompts lack slice tags")
    return dg.AssetCheckResult(
        passed=not problems,
        description="; ".join(problems) or "ok",
        metadata={
            "prompts": len(batch),
            "people": len(per_person),
            "consented_prompts": sum(is_consented(p) for p in batch),
            "by_type": dg.MetadataValue.json(dict(types)),
        },
    )


@dg.asset_check(
    asset=consented_interactions,
    blocking=True,
    description="Nothing written identifies anyone: no user, interaction or feedback id, "
    "no email address, no consenting person's name, no URL or phone number left in the "
    "requests and comments.",
)
def consented_interactions_anonymized(
    context: dg.AssetCheckExecutionContext,
    artifact_store: ArtifactStoreResource,
    app_database: AppDatabaseResource,
) -> dg.AssetCheckResult:
    tables = artifact_store.store().read_tables(*layout.consented_prompts(context.partition_key))
    texts, free_texts = [], []
    for name, frame in tables.tables.items():
        for column in frame.columns:
            values = [str(v) for v in frame[column].dropna()]
            texts += values
            if column in ("request", "comment") and name == "interactions":
                free_texts += values
    problems = find_leaks(app_database.resolved_url(), texts, free_texts)
    return dg.AssetCheckResult(
        passed=not problems,
        description="; ".join(problems)
        or f"{len(tables['interactions'])} rows, nothing identifying",
        metadata={"cells": len(texts)},
    )


@dg.asset_check(
    asset=teacher_outputs,
    blocking=False,
    description=f"At most {MAX_FAILURE_RATE:.0%} of prompts failed at the teacher "
    "(warns; failed prompts never reach the dataset either way).",
)
def teacher_failure_rate(
    context: dg.AssetCheckExecutionContext, artifact_store: ArtifactStoreResource
) -> dg.AssetCheckResult:
    answers = read_answers(artifact_store.store(), context.partition_key)
    failed = [a for a in answers if a.status == "failed"]
    rate = len(failed) / len(answers) if answers else 1.0
    reasons = Counter((a.error or "").split(":", 1)[0] for a in failed)
    return dg.AssetCheckResult(
        passed=rate <= MAX_FAILURE_RATE,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{len(failed)} of {len(answers)} prompts failed ({rate:.1%})",
        metadata={
            "failure_rate": round(rate, 4),
            "reasons": dg.MetadataValue.json(dict(reasons.most_common())),
        },
    )
