"""The knowledge base a run's coaching answers are grounded in, as an asset with a
blocking check: a record without a known source, a number its text states but does not
declare, or two records that would tell one person different things stop the run before
any teacher prompt is written (``prompts`` depends on it)."""

from collections import Counter

import dagster as dg
import pandas as pd

from fitsense_assets.metadata import markdown_table
from fitsense_assets.partitions import run_partitions
from fitsense_assets.resources import ArtifactStoreResource
from fitsense_core import layout
from fitsense_core.coach.knowledge_base import knowledge_dir, read_knowledge, validate

KNOWLEDGE_RECIPE_VERSION = "k1"


@dg.asset(
    partitions_def=run_partitions,
    group_name="teacher",
    kinds={"python", "toml"},
    code_version=KNOWLEDGE_RECIPE_VERSION,
    description="Snapshot of the vetted coaching knowledge base this run answers from "
    "(records with their sources and who they apply to; FITSENSE_KNOWLEDGE_DIR or the "
    "packaged copy), with the problems validation found. Data version: the files' sha256.",
)
def knowledge_base(
    context: dg.AssetExecutionContext, artifact_store: ArtifactStoreResource
) -> dg.MaterializeResult:
    directory = knowledge_dir()
    kb = read_knowledge(directory)
    problems = validate(kb)
    snapshot = {
        "sha256": kb.sha256,
        "problems": problems,
        "sources": {k: s.__dict__ for k, s in kb.sources.items()},
        "records": [
            {
                "id": r.id,
                "topic": r.topic,
                "title": r.title,
                "text": r.text,
                "source": r.source,
                "quantities": {k: list(v) for k, v in r.quantities.items()},
            }
            for r in kb.records
        ],
    }
    store = artifact_store.store()
    uri = store.write_json(snapshot, *layout.knowledge_snapshot(context.partition_key))
    if problems:
        context.log.error(f"knowledge base: {len(problems)} problem(s): {problems[:3]}")
    by_topic = Counter(r.topic for r in kb.records)
    table = pd.DataFrame(
        [{"topic": t, "records": n} for t, n in sorted(by_topic.items())],
        columns=["topic", "records"],
    )
    return dg.MaterializeResult(
        data_version=dg.DataVersion(kb.sha256),
        metadata={
            "records": len(kb.records),
            "sources": len(kb.sources),
            "problems": len(problems),
            "sha256": kb.sha256,
            "by_topic": dg.MetadataValue.md(markdown_table(table, len(table))),
            "directory": dg.MetadataValue.path(str(directory)),
            "uri": dg.MetadataValue.path(uri),
        },
    )


@dg.asset_check(
    asset=knowledge_base,
    blocking=True,
    description="Every record sourced and complete, every number it states declared, "
    "known topics and conditions, unique ids, and no two records that apply to the same "
    "person disagreeing on a quantity.",
)
def knowledge_base_valid(
    context: dg.AssetCheckExecutionContext, artifact_store: ArtifactStoreResource
) -> dg.AssetCheckResult:
    snapshot = artifact_store.store().read_json(*layout.knowledge_snapshot(context.partition_key))
    problems = snapshot["problems"]
    return dg.AssetCheckResult(
        passed=not problems,
        description=(
            f"{len(snapshot['records'])} records, all valid"
            if not problems
            else f"{len(problems)} problem(s), first: {problems[0]}"
        ),
        metadata={
            "records": len(snapshot["records"]),
            "problems": dg.MetadataValue.json(problems[:50]),
            "sha256": snapshot["sha256"],
        },
    )
