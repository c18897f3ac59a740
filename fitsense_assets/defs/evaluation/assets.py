"""Base model vs student vs teacher on the held-out test split, through the CPU server."""

import json
from pathlib import Path

import dagster as dg
from pydantic import Field

from fitsense_assets.defs.distill.assets import distillation_dataset
from fitsense_assets.defs.training.assets import (
    TRAINING_CODE_VERSION,
    base_model,
    student_export,
)
from fitsense_assets.partitions import run_partitions
from fitsense_assets.resources import ArtifactStoreResource
from fitsense_assets.stages import current_student
from fitsense_core import layout
from fitsense_core.distill import read_split
from fitsense_core.settings import Settings


class EvaluationConfig(dg.Config):
    max_prompts: int = Field(
        default=40, description="Test prompts per system (stratified by prompt type)."
    )
    max_tokens_plan: int = Field(default=360, description="Token limit for a compact plan.")
    max_tokens_reply: int = Field(default=160, description="Token limit for a reply.")
    seed: int = Field(default=7, description="Seed of the test-prompt sample.")


def _base_gguf(store, run_id: str) -> Path:
    """The base model in the same GGUF form (Q8_0) as the student, made once per digest."""
    from fitsense_core.student.export import convert_to_gguf, ensure_converter

    info = store.read_json(*layout.base_model_of_run(run_id))
    base_dir = layout.fetched_dir(store, *layout.base_model(info["digest"]))
    target = layout.converted_base_gguf(Settings.from_env().home, info["digest"])
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        convert_to_gguf(base_dir, target, ensure_converter(Settings.from_env().tools_dir))
    return target


@dg.asset(
    partitions_def=run_partitions,
    group_name="evaluation",
    kinds={"python", "json"},
    code_version=TRAINING_CODE_VERSION,
    deps=[student_export, base_model, distillation_dataset],
    description="The same test prompts for base model, student (with and without constrained "
    "decoding) and teacher: JSON, contract and semantic validity, update adherence, agreement "
    "with the teacher, reply ROUGE-L, safety compliance, latency, tokens/s, per-slice bias.",
)
def student_evaluation(
    context: dg.AssetExecutionContext,
    config: EvaluationConfig,
    artifact_store: ArtifactStoreResource,
) -> dg.MaterializeResult:
    from openai import OpenAI

    from fitsense_core.student.compact import Codebook
    from fitsense_core.student.evaluation import (
        EvalConfig,
        markdown_summary,
        promotion_gate,
        run_system,
        select_records,
        slice_report,
        summarize,
        timed_generation,
    )
    from fitsense_serving.llama_server import llama_server

    store = artifact_store.store()
    run_id = context.partition_key
    version = current_student(store, run_id)["version"]
    prefix = layout.student_model(version)
    codebook = Codebook.from_json(store.read_bytes(*prefix, layout.CODEBOOK).decode())
    eval_config = EvalConfig(
        max_prompts=config.max_prompts,
        max_tokens_plan=config.max_tokens_plan,
        max_tokens_reply=config.max_tokens_reply,
        seed=config.seed,
    )
    records = select_records(
        read_split(store, run_id, "test"), eval_config.max_prompts, eval_config.seed
    )
    if not records:
        raise dg.Failure("the test split is empty: nothing to evaluate")
    student_gguf = layout.fetched_dir(store, *prefix) / layout.STUDENT_GGUF
    logs = Settings.from_env().home / "logs"
    rows = []

    def generator(client, alias):
        def generate(messages, extra, max_tokens):
            return timed_generation(
                lambda: client.chat.completions.create(
                    model=alias,
                    messages=messages,
                    max_tokens=max_tokens,
                    temperature=eval_config.temperature,
                    extra_body=extra or None,
                )
            )

        return generate

    constrained = "llama-cpp"  # the local server takes the constraint as a GBNF grammar
    for label, gguf, systems in (
        ("student", student_gguf, (("student", constrained), ("student_unconstrained", None))),
        ("base", _base_gguf(store, run_id), (("base", constrained),)),
    ):
        context.log.info(f"starting the CPU server on the {label} model")
        with llama_server(
            gguf,
            model_alias=label,
            api_key="fitsense-eval",
            log_path=logs / f"eval-{run_id}-{label}.log",
        ) as server:
            client = OpenAI(
                base_url=server.base_url, api_key=server.api_key, timeout=120, max_retries=0
            )
            for name, backend in systems:
                rows += run_system(
                    name,
                    records,
                    codebook,
                    generator(client, label),
                    eval_config,
                    backend=backend,
                    progress=context.log.info,
                )
    rows += run_system("teacher", records, codebook, None, eval_config, backend=None)

    summary = {
        name: summarize([r for r in rows if r["system"] == name])
        for name in ("student", "student_unconstrained", "base", "teacher")
    }
    bias = slice_report([r for r in rows if r["system"] == "student"])
    gate = promotion_gate(summary, bias)
    report = {
        "run_id": run_id,
        "version": version,
        "prompts": len(records),
        "config": eval_config.__dict__,
        "summary": summary,
        "bias": bias,
        "gate": gate.as_dict(),
        "rows": rows,
        "measures": {
            "reply_quality": "ROUGE-L F1 against the teacher's answer",
            "safety_compliance": "served path: policy before the model",
            "constrained_decoding": "llama.cpp GBNF grammar equivalent to the "
            "per-request JSON Schema",
            "teacher": "the dataset's reference answers (offline coach, not served: no latency)",
        },
    }
    uri = store.write_json(report, *layout.evaluation_report(run_id))
    store.write_json(report, *prefix, layout.EVAL_REPORT)
    markdown = markdown_summary(summary, gate)
    context.log.info("\n" + markdown)
    return dg.MaterializeResult(
        metadata={
            "version": version,
            "prompts": len(records),
            "summary": dg.MetadataValue.md(markdown),
            "gate_passed": gate.passed,
            "gate_failures": dg.MetadataValue.json(gate.failures),
            "student": dg.MetadataValue.json(summary["student"]),
            "bias_flags": len(bias["flags"]),
            "report": dg.MetadataValue.path(uri),
        }
    )


def read_report(store, run_id: str) -> dict:
    return json.loads(store.read_bytes(*layout.evaluation_report(run_id)))
