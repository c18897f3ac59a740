"""Versioned student models with lineage, and promotion to serving behind the gate."""

import json

import dagster as dg

from fitsense_assets.defs.evaluation.assets import read_report, student_evaluation
from fitsense_assets.defs.training.assets import student_export
from fitsense_assets.partitions import run_partitions
from fitsense_assets.resources import AppDatabaseResource, ArtifactStoreResource
from fitsense_assets.stages import current_student
from fitsense_core import layout
from fitsense_core.migrations import migrate


@dg.asset(
    partitions_def=run_partitions,
    group_name="registry",
    kinds={"postgres", "json"},
    deps=[student_export, student_evaluation],
    description="The run's student in the model registry (PostgreSQL model_versions) with its "
    "lineage manifest (URIs relative to the artifact store): dataset and training set with "
    "their hashes and what was dropped, git commit, training key, config and seeds, base model "
    "digest, SHA-256 of the GGUF, adapter, merged weights, codebook, QA and evaluation "
    "reports, the evaluation's sample size, metrics and the promotion gate's verdict per "
    "capability (plan creation, "
    "plan update, plan adaptation, coach reply): a version that passed none is registered "
    "rejected.",
)
def model_version(
    context: dg.AssetExecutionContext,
    artifact_store: ArtifactStoreResource,
    app_database: AppDatabaseResource,
) -> dg.MaterializeResult:
    from fitsense_core.student.registry import (
        ModelVersion,
        criteria_table,
        git_commit,
        register,
        version_manifest,
    )

    store = artifact_store.store()
    run_id = context.partition_key
    pointer = current_student(store, run_id)
    version = pointer["version"]
    prefix = layout.student_model(version)
    export = store.read_json(*prefix, layout.EXPORT)
    if not store.exists(*prefix, layout.EVAL_REPORT):
        raise dg.Failure(f"{store.uri(*prefix, layout.EVAL_REPORT)} is missing")
    report = read_report(store, run_id)
    if report["version"] != version:
        raise dg.Failure(f"the evaluation report is for {report['version']}, not {version}")
    base = store.read_json(*layout.base_model_of_run(run_id))
    manifest = version_manifest(store, run_id, version, commit=git_commit())
    if manifest["files"]["gguf"]["sha256"] != export["gguf_sha256"]:
        gguf = store.uri(*prefix, layout.STUDENT_GGUF)
        raise dg.Failure(f"{gguf} does not match the digest recorded at export")
    manifest_uri = store.write_json(manifest, *prefix, layout.VERSION_MANIFEST)
    url = app_database.resolved_url()
    migrate(url)
    registered = register(
        url,
        ModelVersion(
            version=version,
            status="candidate",  # register() decides from the gate: rejected if no capability
            run_id=run_id,
            base_model=base["source"],
            base_model_digest=base["digest"],
            dataset_run_id=run_id,
            dataset_sha256=pointer["dataset_sha256"],
            git_commit=manifest["git_commit"],
            training_config=pointer["training_config"],
            metrics=report["summary"],
            gate=report["gate"],
            manifest_uri=manifest_uri,
            # The registry's own columns are the URIs the API loads the files from.
            eval_report_uri=store.uri(*layout.evaluation_report(run_id)),
            gguf_uri=store.uri(*prefix, layout.STUDENT_GGUF),
            gguf_sha256=export["gguf_sha256"],
            adapter_uri=store.uri(*prefix, layout.ADAPTER),
            merged_uri=store.uri(*prefix, layout.MERGED),
            codebook_uri=store.uri(*prefix, layout.CODEBOOK),
        ),
    )
    context.log.info(
        f"registered {version} as {registered.status}, capabilities: "
        f"{', '.join(registered.capabilities) or 'none'}"
    )
    return dg.MaterializeResult(
        metadata={
            "version": version,
            "status": registered.status,
            "capabilities": ", ".join(registered.capabilities) or "none",
            "criteria": dg.MetadataValue.md(criteria_table(report["gate"])),
            "gate": dg.MetadataValue.json(report["gate"]),
            "lineage": dg.MetadataValue.json(
                {
                    k: manifest[k]
                    for k in ("dataset", "training_set", "base_model", "git_commit", "training_key")
                }
            ),
            "manifest": dg.MetadataValue.path(manifest_uri),
        },
        data_version=dg.DataVersion(version),
    )


@dg.asset_check(
    asset=model_version,
    blocking=True,
    description="Promotion gate, judged per capability (plan creation, plan update, plan "
    "adaptation, coach reply): passes when the version passed at least one, which it will "
    "then serve alone; the others stay with the knowledge-based coach.",
)
def promotion_gate(
    context: dg.AssetCheckExecutionContext, artifact_store: ArtifactStoreResource
) -> dg.AssetCheckResult:
    from fitsense_core.student.registry import criteria_table, gate_capabilities

    report = read_report(artifact_store.store(), context.partition_key)
    gate = report["gate"]
    capabilities = gate_capabilities(gate)
    failures = "; ".join(gate.get("failures") or [])
    passed = "passed: " + (", ".join(capabilities) or "no capability")
    return dg.AssetCheckResult(
        passed=bool(capabilities),
        description=f"{passed}; failed: {failures}" if failures else passed,
        metadata={
            "criteria": dg.MetadataValue.md(criteria_table(gate)),
            "gate": dg.MetadataValue.json(gate),
        },
    )


@dg.asset(
    partitions_def=run_partitions,
    group_name="registry",
    kinds={"postgres"},
    deps=[model_version],
    description="The run's student promoted to serving (atomic, recorded in "
    "model_promotions); runs only when the promotion gate passed at least one capability, "
    "and the version serves only the capabilities it passed.",
)
def serving_model(
    context: dg.AssetExecutionContext,
    artifact_store: ArtifactStoreResource,
    app_database: AppDatabaseResource,
) -> dg.MaterializeResult:
    from fitsense_core.student.registry import get, promote, serving

    version = current_student(artifact_store.store(), context.partition_key)["version"]
    url = app_database.resolved_url()
    candidate = get(url, version)
    capabilities = ", ".join(candidate.capabilities)
    dropped: tuple[str, ...] = ()
    if candidate.status == "serving":
        previous = None
        context.log.info(f"{version} is already serving")
    else:
        current = serving(url)
        if current is not None:
            dropped = tuple(c for c in current.capabilities if c not in candidate.capabilities)
        previous = promote(
            url,
            version,
            reason=f"pipeline run {context.partition_key}: gate passed for {capabilities}",
        )
        context.log.info(f"{version} now serves {capabilities} (replacing {previous or 'nothing'})")
        if dropped:
            context.log.warning(
                f"{previous} served {', '.join(dropped)}, which {version} did not pass: the "
                "knowledge-based coach answers those now"
            )
    return dg.MaterializeResult(
        metadata={
            "version": version,
            "capabilities": capabilities,
            "dropped_capabilities": ", ".join(dropped),
            "replaced": previous or "",
            "details": json.dumps({"run": context.partition_key}),
        }
    )
