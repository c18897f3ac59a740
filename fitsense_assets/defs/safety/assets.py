"""The learned triage layer as an asset: trained on the packaged corpus, its thresholds
chosen on the validation split, its report on the test split (see ``docs/triage.md``).

Not partitioned by run: one model per corpus; the data version is the corpus's sha256, so
Dagster shows the model stale when the corpus changes. The model is promoted (the pointer
the API and the pipeline load) only when it passes the gate; the blocking check
``triage_recall_target`` shows the gate in the UI.
"""

import dagster as dg
import pandas as pd

from fitsense_assets.metadata import markdown_table
from fitsense_assets.resources import ArtifactStoreResource
from fitsense_core import layout
from fitsense_core.safety import training
from fitsense_core.safety.corpus import corpus_bytes, corpus_hash, load_corpus

TRIAGE_RECIPE_VERSION = "t1"


def _rates_table(rates: dict[str, dict[str, float]]) -> str:
    frame = pd.DataFrame([{"slice": k, **v} for k, v in rates.items()])
    return markdown_table(frame, len(frame))


@dg.asset(
    group_name="safety",
    kinds={"python", "numpy"},
    code_version=TRIAGE_RECIPE_VERSION,
    description="The learned triage layer: logistic regression over multilingual sentence "
    "embeddings of the labelled triage corpus (train split), thresholds chosen on the "
    "validation split for emergency recall first, report on the held-out test split; "
    "promoted only when it passes the gate.",
)
def triage_model(
    context: dg.AssetExecutionContext, artifact_store: ArtifactStoreResource
) -> dg.MaterializeResult:
    store = artifact_store.store()
    data = corpus_bytes()
    sha = corpus_hash(data)
    model = training.build_model(load_corpus(data), sha)
    uri = training.save(store, model)
    problems = training.gate_problems(model.report)
    if problems:
        context.log.warning("triage model not promoted: " + "; ".join(problems))
    else:
        training.promote(store, model)
    test = model.report["test"]
    confusion = pd.DataFrame(test["confusion"]).T.reset_index(names="true \\ predicted")
    return dg.MaterializeResult(
        data_version=dg.DataVersion(sha),
        metadata={
            "corpus_sha256": sha,
            "promoted": not problems,
            "gate_problems": dg.MetadataValue.json(problems),
            "thresholds": dg.MetadataValue.json(model.report["thresholds"]),
            "test_emergency_recall": test["emergency_recall"],
            "test_emergency_recall_ci95": dg.MetadataValue.json(test["emergency_recall_ci95"]),
            "test_false_escalation": test["false_escalation"],
            "test_false_escalation_ci95": dg.MetadataValue.json(test["false_escalation_ci95"]),
            "test_self_harm_recall": test["self_harm_recall"],
            "rules_only_emergency_recall": test["rules_only_emergency_recall"],
            "confusion_matrix": dg.MetadataValue.md(markdown_table(confusion, 4)),
            "by_category": dg.MetadataValue.md(_rates_table(test["per_category"])),
            "by_language": dg.MetadataValue.md(_rates_table(test["per_language"])),
            "missed_emergencies": dg.MetadataValue.json(test["emergency_missed"]),
            "uri": dg.MetadataValue.path(uri),
        },
    )


@dg.asset_check(
    asset=triage_model,
    blocking=True,
    description="Emergency and self-harm recall on the test split at least 99 %, ordinary "
    "questions escalated at most 3 %: below that the model is not promoted.",
)
def triage_recall_target(artifact_store: ArtifactStoreResource) -> dg.AssetCheckResult:
    store = artifact_store.store()
    report = store.read_json(*layout.triage_model(corpus_hash()), "report.json")
    problems = training.gate_problems(report)
    return dg.AssetCheckResult(
        passed=not problems,
        metadata={
            "problems": dg.MetadataValue.json(problems),
            "emergency_recall": report["test"]["emergency_recall"],
            "false_escalation": report["test"]["false_escalation"],
        },
    )
