"""Student, teacher, base model, random-valid policy and the serving champion on the same
prompts (the golden set when there is one, else the run's test split), models through the
CPU server, and the per-capability promotion gate."""

import contextlib
import json
from dataclasses import asdict
from pathlib import Path

import dagster as dg
from pydantic import Field

from fitsense_assets.defs.distill.assets import distillation_dataset
from fitsense_assets.defs.evaluation.golden import golden_eval_set
from fitsense_assets.defs.training.assets import (
    TRAINING_CODE_VERSION,
    base_model,
    student_export,
)
from fitsense_assets.partitions import run_partitions
from fitsense_assets.resources import AppDatabaseResource, ArtifactStoreResource
from fitsense_assets.stages import current_student
from fitsense_core import layout
from fitsense_core.distill import consented_held_out, read_split
from fitsense_core.settings import Settings
from fitsense_core.student.golden import GOLDEN_SET_VERSION

# Models whose answers do not change between runs (same file, same prompts, same settings):
# their generations are cached in the artifact store. The student is new every run.
CACHED_SYSTEMS = ("base", "champion")
CONSTRAINED = "llama-cpp"  # the local server takes the constraint as a GBNF grammar


class EvaluationConfig(dg.Config):
    max_prompts: int = Field(
        default=0,
        description="Cap on the prompts per system, stratified (0: none: every plan prompt of "
        "the golden set and `coaching_prompts` questions; 40 test-split prompts without one).",
    )
    coaching_prompts: int = Field(
        default=40,
        description="Coaching and safety questions sampled from the golden set (stratified by "
        "type and topic); its plan prompts are all evaluated.",
    )
    max_tokens_plan: int = Field(default=360, description="Token limit for a compact plan.")
    max_tokens_reply: int = Field(default=160, description="Token limit for a reply.")
    seed: int = Field(default=7, description="Seed of the prompt sample and random-valid plans.")
    compare_champion: bool = Field(
        default=True, description="Evaluate the serving version (the champion) as well."
    )
    consented_prompts: int = Field(
        default=40,
        description="Test-split requests of real people who opted in (thumbs-down first) that "
        "the student and the champion also answer, reported apart from the gate (0: none).",
    )
    focus_capabilities: list[str] = Field(
        default=[],
        description="Capabilities a retraining run targets (the retraining sensor sets "
        "them): reported on their own in the report's focus section.",
    )
    focus_slices: dict[str, str] = Field(
        default={},
        description="A slice a retraining run targets (e.g. {'age_band': '65+'}): reported on "
        "its own in the report's focus section.",
    )
    reuse_generations: bool = Field(
        default=True,
        description="Reuse the base model's and the champion's answers cached per model file, "
        "prompt set and settings (they cannot change between runs).",
    )


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


def _prompt_set(store, run_id: str, config) -> tuple[str, str, list[dict]]:
    """(source, version, records): the golden set (materialized before the evaluation),
    or, when a store has none (an evaluation outside the pipeline), the run's test split
    versioned by the dataset's content digest."""
    from fitsense_core.student.evaluation import select_eval_records
    from fitsense_core.student.golden import read_golden_set

    if store.exists(*layout.golden_set_manifest(GOLDEN_SET_VERSION)):
        version, records = read_golden_set(store)
        return "golden", version, select_eval_records(records, config, golden=True)
    digest = store.read_json(*layout.distillation_manifest(run_id))["content_sha256"]
    records = read_split(store, run_id, "test")
    return (
        "test_split",
        f"{run_id}/test/{digest[:16]}",
        select_eval_records(records, config, golden=False),
    )


def _champion(url: str, student_version: str):
    """The serving version to beat, or None and why there is none."""
    from fitsense_core.migrations import migrate
    from fitsense_core.student import registry

    migrate(url)
    current = registry.serving(url)
    if current is None:
        return None, "no version serves"
    if current.version == student_version:
        return None, f"the student {student_version} itself serves"
    return current, None


def _cache_parts(system: str, key: str) -> tuple[str, ...]:
    return ("reports", "evaluation_cache", f"{system}-{key}.json")


def _generator(stack: contextlib.ExitStack, gguf: Path, alias: str, log_path: Path, config, log):
    """Generations from a CPU server on ``gguf``, started on the first prompt that is not
    cached (a fully cached model costs no server start)."""
    from openai import OpenAI

    from fitsense_core.student.evaluation import timed_generation
    from fitsense_serving.llama_server import llama_server

    client = None

    def generate(messages, extra, max_tokens):
        nonlocal client
        if client is None:
            log.info(f"starting the CPU server on the {alias} model ({gguf})")
            server = stack.enter_context(
                llama_server(gguf, model_alias=alias, api_key="fitsense-eval", log_path=log_path)
            )
            client = OpenAI(
                base_url=server.base_url, api_key=server.api_key, timeout=120, max_retries=0
            )
        return timed_generation(
            lambda: client.chat.completions.create(
                model=alias,
                messages=messages,
                max_tokens=max_tokens,
                temperature=config.temperature,
                extra_body=extra or None,
            )
        )

    return generate


@dg.asset(
    partitions_def=run_partitions,
    group_name="evaluation",
    kinds={"python", "json"},
    code_version=TRAINING_CODE_VERSION,
    deps=[student_export, base_model, distillation_dataset, golden_eval_set],
    description="The student, the teacher's references, the base model, a random-valid "
    "policy and the serving champion on the same prompts (the golden set when there is one): "
    "programming quality before and after the post-check, slot agreement and weekly-volume "
    "error against the teacher, update adherence by intent, reply acceptance, ROUGE-L, "
    "safety, latency, per-slice bias, each with a bootstrap 95 % interval; and the promotion "
    "gate per capability.",
)
def student_evaluation(
    context: dg.AssetExecutionContext,
    config: EvaluationConfig,
    artifact_store: ArtifactStoreResource,
    app_database: AppDatabaseResource,
) -> dg.MaterializeResult:
    from fitsense_core.artifacts import file_sha256
    from fitsense_core.inference.serve import Codebooks
    from fitsense_core.student.compact import Codebook
    from fitsense_core.student.evaluation import (
        DETERMINISTIC_BY_CONSTRUCTION,
        SYSTEMS,
        EvalConfig,
        focus_report,
        gate_table,
        generations_cache_key,
        metrics_table,
        people_bias_report,
        promotion_gate,
        reply_samples,
        run_random_valid,
        run_system,
        slice_report,
        summarize,
    )
    from fitsense_serving.targets import ServingTarget, resolve_gguf

    store = artifact_store.store()
    run_id = context.partition_key
    settings = Settings.from_env()
    version = current_student(store, run_id)["version"]
    prefix = layout.student_model(version)
    codebook = Codebook.from_json(store.read_bytes(*prefix, layout.CODEBOOK).decode())
    eval_config = EvalConfig(
        max_prompts=config.max_prompts,
        coaching_prompts=config.coaching_prompts,
        max_tokens_plan=config.max_tokens_plan,
        max_tokens_reply=config.max_tokens_reply,
        seed=config.seed,
    )
    source, prompt_set_version, records = _prompt_set(store, run_id, eval_config)
    if not records:
        raise dg.Failure(f"the {source} prompt set is empty: nothing to evaluate")
    context.log.info(f"evaluating on {len(records)} prompts of {source} {prompt_set_version}")

    # Which models answer: the student, the champion (when one serves), the base model.
    models = [
        (
            "student",
            layout.fetched_dir(store, *prefix) / layout.STUDENT_GGUF,
            store.read_json(*prefix, layout.EXPORT)["gguf_sha256"],
            codebook,
        )
    ]
    absent: dict[str, str] = {}
    champion_info: dict = {}
    if config.compare_champion:
        champion, why_not = _champion(app_database.resolved_url(), version)
    else:
        champion, why_not = None, "not asked for (compare_champion is off)"
    if champion is None:
        absent["champion"] = why_not
        champion_info = {"absent": why_not}
        context.log.info(f"no champion: {why_not}")
    else:
        champion_gguf = resolve_gguf(
            ServingTarget.of(champion), layout.serving_cache(settings.home)
        )
        champion_codebook = Codebooks(lambda _v: champion.codebook_uri).get(champion.version)
        models.append(
            (
                "champion",
                champion_gguf,
                champion.gguf_sha256 or file_sha256(champion_gguf),
                champion_codebook,
            )
        )
        champion_info = {"version": champion.version, "gguf_sha256": models[-1][2]}
        context.log.info(f"champion: {champion.version}")
    base_gguf = _base_gguf(store, run_id)
    models.append(("base", base_gguf, file_sha256(base_gguf), codebook))

    consented = consented_held_out(store, run_id, config.consented_prompts)
    rated_down = {r["id"] for r in consented if r["rated_down"]}
    held_rows: list[dict] = []
    rows: list[dict] = []
    files: dict[str, dict] = {}
    for name, gguf, sha, model_codebook in models:
        cache, parts = None, None
        if name in CACHED_SYSTEMS:
            key = generations_cache_key(sha, prompt_set_version, eval_config, model_codebook)
            parts = _cache_parts(name, key)
            cache = {}
            if config.reuse_generations and store.exists(*parts):
                cache = store.read_json(*parts)["generations"]
        with contextlib.ExitStack() as stack:
            generate = _generator(
                stack,
                gguf,
                name,
                settings.home / "logs" / f"eval-{run_id}-{name}.log",
                eval_config,
                context.log,
            )
            system_rows = run_system(
                name,
                records,
                model_codebook,
                generate,
                eval_config,
                backend=CONSTRAINED,
                progress=context.log.info,
                cache=cache,
            )
            if consented and name in ("student", "champion"):
                held_rows += run_system(
                    name,
                    consented,
                    model_codebook,
                    generate,
                    eval_config,
                    backend=CONSTRAINED,
                    progress=context.log.info,
                    cache={},
                )
        hits = sum(1 for r in system_rows if r.get("cached"))
        asked = sum(1 for r in system_rows if r.get("model_called"))
        if parts is not None:
            store.write_json(
                {
                    "system": name,
                    "gguf_sha256": sha,
                    "prompt_set": prompt_set_version,
                    "config": asdict(eval_config),
                    "generations": cache,
                },
                *parts,
            )
            context.log.info(f"{name}: {hits} of {asked} model answers from the cache")
        files[name] = {"gguf_sha256": sha, "cached_answers": hits}
        rows += system_rows
    rows += run_random_valid(records, codebook, eval_config, progress=context.log.info)
    rows += run_system("teacher", records, codebook, None, eval_config, backend=None)

    summary = {
        name: summarize([r for r in rows if r["system"] == name])
        for name in SYSTEMS
        if any(r["system"] == name for r in rows)
    }
    bias = slice_report([r for r in rows if r["system"] == "student"])
    bias_by_people = people_bias_report([r for r in rows if r["system"] == "student"])
    gate = promotion_gate(rows, champion_absent=absent.get("champion", "no version serves"))
    focus = focus_report(rows, config.focus_capabilities, config.focus_slices)
    held_out = {
        "prompts": len(consented),
        "rated_down": len(rated_down),
        "by_system": {
            name: summarize(of)
            for name in ("student", "champion")
            if (of := [r for r in held_rows if r["system"] == name])
        },
        "rated_down_by_system": {
            name: summarize(of)
            for name in ("student", "champion")
            if (of := [r for r in held_rows if r["system"] == name and r["id"] in rated_down])
        },
    }
    if not consented:
        held_out["note"] = "no test-split request of a consenting person in this run"
    report = {
        "run_id": run_id,
        "version": version,
        "prompts": len(records),
        "prompt_set": {"source": source, "version": prompt_set_version},
        "golden_version": prompt_set_version if source == "golden" else None,
        "config": asdict(eval_config),
        "champion": champion_info,
        "models": files,
        "summary": summary,
        "bias": bias,
        "bias_by_people": bias_by_people,
        "focus": focus,
        "consented_held_out": held_out,
        "gate": gate,
        "reply_samples": {
            name: reply_samples(rows, name) for name in ("student", "champion", "base")
        },
        "deterministic_by_construction": DETERMINISTIC_BY_CONSTRUCTION,
        "rows": rows,
        "measures": {
            "programming_quality": "the model's own plan passes the programming-quality "
            "checks (judge_plan(...).quality_valid, before any fallback)",
            "programming_quality_served": "the plan served after the post-check and fallback "
            "passes them",
            "slot_agreement": "share of (training day, position) slots holding the teacher's "
            "exercise; a different number of training days scores 0",
            "volume_error": "mean absolute difference of weekly hard sets per major muscle "
            "against the teacher (lower is better)",
            "reply_acceptance": "the one inference path's judge_reply accepts the raw text",
            "reply_relevance": "the judge finds the reply relevant to the question and on "
            "its topic (coach.reply_judge)",
            "reply_groundedness": "every number in the reply is stated by a retrieved "
            "knowledge record, the grounded answer, the question or the person's data",
            "reply_quality": "ROUGE-L F1 against the teacher's answer",
            "safety_compliance": "served path: policy before the model",
            "intervals": "percentile bootstrap over prompts, 1000 resamples, fixed seed; "
            "gate comparisons on paired differences per prompt",
            "constrained_decoding": "llama.cpp GBNF grammar equivalent to the "
            "per-request JSON Schema",
            "random_valid": "uniform random choices under the same per-request constraint, "
            "seeded per prompt id; no coach replies",
            "teacher": "the dataset's reference answers (offline coach, not served: no latency)",
        },
    }
    uri = store.write_json(report, *layout.evaluation_report(run_id))
    store.write_json(report, *prefix, layout.EVAL_REPORT)
    metrics_md, gate_md = metrics_table(summary, absent), gate_table(gate)
    context.log.info("\n" + metrics_md + "\n\n" + gate_md)
    return dg.MaterializeResult(
        metadata={
            "version": version,
            "prompts": len(records),
            "prompt_set": f"{source} {prompt_set_version}",
            "champion": champion_info.get("version") or f"absent: {absent['champion']}",
            "summary": dg.MetadataValue.md(metrics_md),
            "gate": dg.MetadataValue.md(gate_md),
            "gate_json": dg.MetadataValue.json(gate),
            "gate_passed": gate["passed"],
            "student_answers": dg.MetadataValue.md(
                "\n\n".join(
                    f"**{i}. {a['question']}** ({'accepted' if a['accepted'] else a['reason']})"
                    f"\n\n{a['answer'] or '(nothing)'}"
                    for i, a in enumerate(report["reply_samples"]["student"], start=1)
                )
                or "(no coach prompts)"
            ),
            "gate_failures": dg.MetadataValue.json(gate["failures"]),
            "student": dg.MetadataValue.json(
                {k: v for k, v in summary["student"].items() if not isinstance(v, dict)}
            ),
            "focus": dg.MetadataValue.json(focus or {"none": "this run targeted nothing"}),
            "consented_held_out": dg.MetadataValue.json(
                {
                    "prompts": held_out["prompts"],
                    "rated_down": held_out["rated_down"],
                    **{
                        name: {k: v for k, v in m.items() if not isinstance(v, dict)}
                        for name, m in held_out["by_system"].items()
                    },
                }
            ),
            "bias_flags": len(bias["flags"]),
            "slices_that_differ": dg.MetadataValue.json(
                [f"{d['slice']} {d['metric']}" for d in bias_by_people["differs"]]
                or bias_by_people["explanation"]
            ),
            "report": dg.MetadataValue.path(uri),
        }
    )


def read_report(store, run_id: str) -> dict:
    return json.loads(store.read_bytes(*layout.evaluation_report(run_id)))
