"""How a run executes its steps: Dagster's default, or one Kubernetes Job per step on GKE.

``FITSENSE_DAGSTER_EXECUTOR``:
- ``local`` (default): no executor is set, so jobs keep Dagster's multiprocess/in-process
  executor (``fitsense pipeline run`` always executes in process);
- ``k8s``: every job of the code location runs with dagster-k8s's ``k8s_job_executor``
  (the ``deploy`` extra): the run pod orchestrates, each step is a Job of its own. Its
  config starts from :data:`K8S_EXECUTOR_DEFAULTS`; a run's ``execution.config`` (the
  launchpad, ``deploy/dagster/gke/run_config.yaml``) is merged over them key by key, so
  runs that carry no run config (the retraining sensor's, the freshness automation's) get
  the same step pods.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import dagster as dg

from fitsense_core.errors import ConfigurationError

EXECUTOR_ENV = "FITSENSE_DAGSTER_EXECUTOR"
EXECUTORS = ("local", "k8s")

# Every step pod asks for what a CPU stage needs; exporting and evaluating for more. The
# training step's GPU comes from its own dagster-k8s/config tag (GPU_STEP_K8S_CONFIG,
# fitsense_assets/defs/training/assets.py), merged over these by dagster-k8s. Teacher shard
# steps mostly wait on the provider: N of them run at once (the teacher_provider pool),
# each small.
K8S_EXECUTOR_DEFAULTS: dict[str, Any] = {
    "image_pull_policy": "IfNotPresent",
    # Step pods of one run at a time: the graph is mostly a chain; the QA reports and the
    # teacher shards run side by side (above 4 shards, raise it or shards wait their turn).
    "max_concurrent": 4,
    "step_k8s_config": {
        "container_config": {
            "resources": {"requests": {"cpu": "1", "memory": "4Gi"}, "limits": {"memory": "8Gi"}}
        },
        "job_spec_config": {"ttl_seconds_after_finished": 86400},
    },
    "per_step_k8s_config": {
        "answer_teacher_shard": {
            "container_config": {
                "resources": {
                    "requests": {"cpu": "500m", "memory": "2Gi"},
                    "limits": {"memory": "4Gi"},
                }
            }
        },
        "student_export": {
            "container_config": {
                "resources": {
                    "requests": {"cpu": "2", "memory": "8Gi"},
                    "limits": {"memory": "12Gi"},
                }
            }
        },
        "student_evaluation": {
            "container_config": {
                "resources": {
                    "requests": {"cpu": "4", "memory": "8Gi"},
                    "limits": {"memory": "12Gi"},
                }
            }
        },
    },
}


def executor_kind(env: Mapping[str, str]) -> str:
    """``FITSENSE_DAGSTER_EXECUTOR``: ``local`` when unset or empty, else ``local`` or ``k8s``."""
    value = (env.get(EXECUTOR_ENV) or "local").strip().lower()
    if value not in EXECUTORS:
        raise ConfigurationError(
            f"{EXECUTOR_ENV} must be one of {', '.join(EXECUTORS)}, got {env.get(EXECUTOR_ENV)!r}"
        )
    return value


def merged_k8s_config(given: Mapping[str, Any]) -> dict[str, Any]:
    """:data:`K8S_EXECUTOR_DEFAULTS` with ``given`` merged over them: mappings key by key,
    anything else replaced."""

    def merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
        merged = dict(base)
        for key, value in over.items():
            if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
                merged[key] = merge(merged[key], value)
            elif value is not None:
                merged[key] = value
        return merged

    return merge(K8S_EXECUTOR_DEFAULTS, given)


def k8s_executor() -> dg.ExecutorDefinition:
    """dagster-k8s's k8s job executor, named ``k8s``, with the project's defaults under
    whatever a run configures (the executor's own schema, so the launchpad checks it)."""
    try:
        from dagster_k8s import k8s_job_executor
    except ImportError as exc:
        raise ConfigurationError(
            f"{EXECUTOR_ENV}=k8s needs dagster-k8s: install the deploy extra "
            "(pip install -e '.[deploy]')"
        ) from exc
    return k8s_job_executor.configured(
        merged_k8s_config, name="k8s", config_schema=k8s_job_executor.config_schema
    )


@dg.definitions
def executor() -> dg.Definitions:
    if executor_kind(os.environ) == "k8s":
        return dg.Definitions(executor=k8s_executor())
    return dg.Definitions()
