"""Where every artifact lives: the artifact store's layout, and the local copies of model files.

Each function returns a path's parts, for ``store.uri(*parts)``, ``store.write_json(data,
*parts)`` and the like. A run id is a pipeline partition. The store holds:

- ``datasets/synthetic/<run_id>/<asset>/``: the tables of each synthetic asset.
- ``teacher_outputs/<run_id>/``: ``prompts/``, ``consented_interactions/``, ``shards/``
  (``plan.json`` and ``<n>/answers/``) and the merged ``answers/``;
  ``teacher_outputs/cache/<provider>-<model>/``: the teacher's answer cache, for all runs.
- ``reports/<run_id>/``: the ``validation/`` tables, one JSON file per QA report,
  ``evaluation.json`` and ``pipeline_runs/<dagster run id>.json``.
- ``reports/monitoring/<stamp>.json`` and ``.png``: the live monitoring reports.
- ``datasets/distillation/<run_id>/``: ``train.jsonl``, ``val.jsonl``, ``test.jsonl`` and
  ``manifest.json``; ``student/``: the compact training set the student trains on
  (``train.jsonl``, ``val.jsonl``, ``codebook.json``, ``manifest.json``).
- ``datasets/golden/<version>/``: the fixed evaluation set of one golden-set version
  (``records.jsonl`` and ``manifest.json``), shared by every run and model version.
- ``models/base/<digest>/``: a base model's weights, stored once per content digest;
  ``models/base/runs/<run_id>.json`` records which one a run used.
- ``models/student/training/<training key>/``: a training run's checkpoints.
- ``models/student/<version>/``: a student version (:data:`ADAPTER`, :data:`MERGED`,
  :data:`STUDENT_GGUF`, :data:`CODEBOOK`, :data:`TRAINING_CURVES`, ...);
  ``models/student/runs/<run_id>.json`` records which version a run trained.

With a local store model files are worked on in place; with a remote one (GCS) they are
built under ``$FITSENSE_HOME/work`` (:func:`working_dir`) and read from copies under
``$FITSENSE_HOME/cache`` (:func:`fetched_dir`).
"""

import hashlib
import json
import re
from pathlib import Path

from fitsense_core.artifacts import ArtifactStore
from fitsense_core.errors import DataValidationError
from fitsense_core.settings import Settings

Parts = tuple[str, ...]

# What a student version's directory holds.
ADAPTER = "adapter"
MERGED = "merged"
STUDENT_GGUF = "student-q8_0.gguf"
CODEBOOK = "codebook.json"
EXPORT = "export.json"
EVAL_REPORT = "eval_report.json"
VERSION_MANIFEST = "manifest.json"
# The training and validation loss by step (JSON), and its plot.
TRAINING_CURVES = "training_curves.json"
TRAINING_CURVES_PNG = "training_curves.png"

BASE_GGUF = "base-q8_0.gguf"


def synthetic_tables(run_id: str, asset: str) -> Parts:
    return ("datasets", "synthetic", run_id, asset)


def teacher_prompts(run_id: str) -> Parts:
    return ("teacher_outputs", run_id, "prompts")


def consented_prompts(run_id: str) -> Parts:
    return ("teacher_outputs", run_id, "consented_interactions")


def teacher_shards(run_id: str) -> Parts:
    return ("teacher_outputs", run_id, "shards")


def teacher_shard_plan(run_id: str) -> Parts:
    return (*teacher_shards(run_id), "plan.json")


def teacher_shard_answers(run_id: str, shard: int) -> Parts:
    return (*teacher_shards(run_id), str(shard), "answers")


def knowledge_snapshot(run_id: str) -> Parts:
    """The knowledge base a run's teacher answered from, with what its check found."""
    return ("teacher_outputs", run_id, "knowledge_base.json")


def teacher_answers(run_id: str) -> Parts:
    return ("teacher_outputs", run_id, "answers")


def teacher_answer_cache(provider_model: str) -> Parts:
    """The answer cache of one teacher (``<provider>-<model>``, made file-safe)."""
    return ("teacher_outputs", "cache", provider_model)


def run_reports(run_id: str) -> Parts:
    return ("reports", run_id)


def validation_tables(run_id: str) -> Parts:
    return (*run_reports(run_id), "validation")


def qa_report(run_id: str, name: str) -> Parts:
    """One QA report (``validation``, ``statistics``, ``anomalies``, ``bias``) as JSON."""
    return (*run_reports(run_id), f"{name}.json")


def evaluation_report(run_id: str) -> Parts:
    return (*run_reports(run_id), "evaluation.json")


def pipeline_run_report(run_id: str, dagster_run_id: str) -> Parts:
    return (*run_reports(run_id), "pipeline_runs", f"{dagster_run_id}.json")


def monitoring_report(stamp: str, suffix: str = ".json") -> Parts:
    """A live monitoring report (``.json``) or its plot (``.png``)."""
    return ("reports", "monitoring", f"{stamp}{suffix}")


def distillation_dataset(run_id: str) -> Parts:
    return ("datasets", "distillation", run_id)


def distillation_split(run_id: str, split: str) -> Parts:
    return (*distillation_dataset(run_id), f"{split}.jsonl")


def distillation_manifest(run_id: str) -> Parts:
    return (*distillation_dataset(run_id), "manifest.json")


def student_training_set(run_id: str) -> Parts:
    """The compact training set built from a run's distillation dataset
    (:mod:`fitsense_core.student.training_set`)."""
    return (*distillation_dataset(run_id), "student")


def student_training_split(run_id: str, split: str) -> Parts:
    return (*student_training_set(run_id), f"{split}.jsonl")


def student_training_manifest(run_id: str) -> Parts:
    return (*student_training_set(run_id), "manifest.json")


def student_training_codebook(run_id: str) -> Parts:
    return (*student_training_set(run_id), CODEBOOK)


def relative(*parts: str) -> str:
    """A location inside the artifact store, as recorded in manifests: relative to the
    store's root, so it names the same file on every machine that mounts the store."""
    return "/".join(parts)


def golden_set(version: str) -> Parts:
    """The golden evaluation set of one version: built once, not per run, so that every
    model version is scored on the same prompts."""
    return ("datasets", "golden", version)


def golden_set_records(version: str) -> Parts:
    return (*golden_set(version), "records.jsonl")


def golden_set_manifest(version: str) -> Parts:
    return (*golden_set(version), "manifest.json")


def base_model(digest: str) -> Parts:
    """A base model's weights, named by the first 16 hex digits of its content digest."""
    return ("models", "base", digest[:16])


def base_model_of_run(run_id: str) -> Parts:
    """The JSON record of the base model a run used (source, digest, uri)."""
    return ("models", "base", "runs", f"{run_id}.json")


def student_training(key: str) -> Parts:
    """A training run's checkpoints, named by :func:`training_key`."""
    return ("models", "student", "training", key)


def student_model(version: str) -> Parts:
    return ("models", "student", version)


def student_model_of_run(run_id: str) -> Parts:
    """The JSON record of the student version a run trained."""
    return ("models", "student", "runs", f"{run_id}.json")


def training_key(dataset_sha256: str, base_digest: str, config: dict, code_version: str) -> str:
    """Names a training run by everything it depends on: an interrupted run resumes in the
    same place, and a finished one is reused rather than repeated."""
    payload = json.dumps([dataset_sha256, base_digest, config, code_version], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def student_version(run_id: str, key: str, adapter_sha256: str) -> str:
    """The version names what was trained on and what came out: same name, same weights."""
    digest = hashlib.sha256(f"{key}/{adapter_sha256}".encode()).hexdigest()[:10]
    slug = re.sub(r"[^a-z0-9._-]+", "-", run_id.lower()).strip("-")[:60] or "run"
    return f"student-{slug}-{digest}"


def working_dir(store: ArtifactStore, *parts: str) -> Path:
    """A local directory to build ``parts`` in: the store's own with a local store, else
    one under ``$FITSENSE_HOME/work`` (upload it with ``store.upload_dir``)."""
    local = store.local_path(*parts)
    if local is None:
        local = Settings.from_env().home / "work" / Path(*parts)
    local.mkdir(parents=True, exist_ok=True)
    return local


def fetched_dir(store: ArtifactStore, *parts: str) -> Path:
    """A local directory holding ``parts``: the store's own with a local store, else a
    copy downloaded under ``$FITSENSE_HOME/cache``."""
    local = store.local_path(*parts)
    if local is not None:
        if not local.exists():
            raise DataValidationError(f"{store.uri(*parts)} does not exist")
        return local
    return store.download_dir(Settings.from_env().home / "cache" / Path(*parts), *parts)


def serving_cache(home: Path) -> Path:
    """Where ``fitsense serve`` keeps local copies of the versions it serves."""
    return home / "serving"


def base_model_cache(home: Path) -> Path:
    """Where base models are prepared (downloaded, converted to dense weights) locally."""
    return home / "models" / "base-cache"


def converted_base_gguf(home: Path, digest: str) -> Path:
    """The base model as a Q8_0 GGUF, converted once per digest for evaluation."""
    return home / "models" / "base-gguf" / digest[:16] / BASE_GGUF


def triage_model(corpus_sha256: str) -> Parts:
    """A triage model trained on the corpus with this sha256 (model.npz, report.json)."""
    return ("triage", "models", corpus_sha256[:16])


def triage_promoted() -> Parts:
    """The pointer to the triage model the API and the pipeline load (written only when the
    model passed its gate)."""
    return ("triage", "promoted.json")
