"""The deployment configs under deploy/: the single-VM Dagster instance, the GKE Helm values
and run config for dagster-k8s, and the vLLM manifests.

What can be checked here is checked with the tools' own code: Dagster's instance and run
config validation, dagster-k8s's config schemas and its builder of step pods, the Kubernetes
client's API models (through dagster-k8s's strict parser), systemd's unit verifier. The VM
instance is also started against a local PostgreSQL and a GCS emulator. Helm itself is not
run (no chart here): the chart's templates are translated by hand in ``_render_instance``.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import dagster as dg
import kubernetes
import pytest
import yaml
from dagster._config import process_config
from dagster._core.execution.api import create_execution_plan
from dagster._core.instance.config import dagster_instance_config
from dagster._serdes.config_class import class_from_code_pointer
from dagster._utils.tags import TagConcurrencyLimitsCounter
from dagster_k8s import K8sRunLauncher, k8s_job_executor
from dagster_k8s.container_context import K8sContainerContext
from dagster_k8s.job import (
    DagsterK8sJobConfig,
    UserDefinedDagsterK8sConfig,
    construct_dagster_k8s_job,
    get_user_defined_k8s_config,
)
from dagster_k8s.models import k8s_model_from_dict, k8s_snake_case_dict

from fitsense_assets.definitions import defs
from fitsense_assets.defs.executor import EXECUTOR_ENV, K8S_EXECUTOR_DEFAULTS, merged_k8s_config
from fitsense_assets.defs.teacher.assets import TEACHER_POOL
from fitsense_assets.defs.training.assets import (
    GPU_STEP_IMAGE_ENV,
    GPU_STEP_K8S_CONFIG,
    GPU_STEP_SERVICE_ACCOUNT_ENV,
    gpu_step_k8s_config,
)
from fitsense_core.errors import ConfigurationError
from fitsense_core.teacher.shards import SHARDS_ENV, resolve_shards
from tests.test_artifacts import gcs_emulator  # noqa: F401  (fixture, used by name)

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
VM_DIR = DEPLOY / "dagster" / "vm"
VALUES = DEPLOY / "dagster" / "gke" / "values.yaml"
RUN_CONFIG = DEPLOY / "dagster" / "gke" / "run_config.yaml"
TRAINING_ACCOUNT = DEPLOY / "dagster" / "gke" / "training-serviceaccount.yaml"
VLLM = DEPLOY / "k8s" / "vllm.yaml"
VLLM_DOCKERFILE = REPO / "docker" / "vllm.Dockerfile"
# Helm's release and namespace in values.yaml's install command.
RELEASE, NAMESPACE = "fitsense-dagster", "fitsense-dagster"
PLACEHOLDER_PROJECT = "your-gcp-project-id"
GPU = "nvidia.com/gpu"

EXPECTED_TAG_LIMITS = [
    {"key": "fitsense/trigger", "value": "retraining_sensor", "limit": 1},
    {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1},
    {"key": "dagster/backfill", "limit": 1},
]
VM_ENV = {
    "FITSENSE_DAGSTER_STORAGE_URL": "postgresql://dagster:dummy@db.invalid:5432/fitsense_dagster",
    "FITSENSE_DAGSTER_LOGS_BUCKET": "fitsense-test",
}


def _processed(section: dict[str, Any]) -> dict[str, Any]:
    """A configurable-class section of dagster.yaml (module, class, config) processed against
    that class's own config schema, environment variables resolved: what the instance does
    before it constructs the class."""
    cls = class_from_code_pointer(section["module"], section["class"])
    result = process_config(cls.config_type(), section.get("config") or {})
    assert result.success, [e.message for e in result.errors]
    return result.value


def _validated_instance(home: Path) -> dict[str, Any]:
    config, custom_class = dagster_instance_config(str(home))
    assert custom_class is None
    return config


# ---------------------------------------------------------------- (a) a single VM


def test_vm_instance_config_passes_dagsters_validation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in VM_ENV.items():
        monkeypatch.setenv(key, value)
    shutil.copy(VM_DIR / "dagster.yaml", tmp_path / "dagster.yaml")
    config = _validated_instance(tmp_path)

    # Storage: PostgreSQL, the URL only from the environment.
    assert config["storage"] == {
        "postgres": {"postgres_url": {"env": "FITSENSE_DAGSTER_STORAGE_URL"}}
    }
    from dagster_postgres import DagsterPostgresStorage

    storage = process_config(DagsterPostgresStorage.config_type(), config["storage"]["postgres"])
    assert (
        storage.success and storage.value["postgres_url"] == VM_ENV["FITSENSE_DAGSTER_STORAGE_URL"]
    )

    coordinator = config["run_coordinator"]
    assert coordinator["class"] == "QueuedRunCoordinator"
    queue = _processed(coordinator)
    assert queue["max_concurrent_runs"] == 4
    assert queue["tag_concurrency_limits"] == EXPECTED_TAG_LIMITS
    assert config["run_launcher"]["class"] == "DefaultRunLauncher"
    _processed(config["run_launcher"])

    logs = config["compute_logs"]
    assert logs["class"] == "GCSComputeLogManager"
    assert logs["config"]["bucket"] == {"env": "FITSENSE_DAGSTER_LOGS_BUCKET"}
    assert _processed(logs)["bucket"] == "fitsense-test"
    assert config["run_retries"]["retry_on_asset_or_op_failure"] is False

    # The bucket really comes from the environment: without the variable the config fails.
    monkeypatch.delenv("FITSENSE_DAGSTER_LOGS_BUCKET")
    cls = class_from_code_pointer(logs["module"], logs["class"])
    failed = process_config(cls.config_type(), logs["config"])
    assert not failed.success and "FITSENSE_DAGSTER_LOGS_BUCKET" in failed.errors[0].message


def test_vm_instance_starts_on_postgres_with_gcs_compute_logs(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    database_factory,
    gcs_emulator: str,  # noqa: F811
) -> None:
    """The VM's dagster.yaml as the daemon would load it, with the database a local
    PostgreSQL and the bucket the emulator's (local_dir moved into tmp_path)."""
    from dagster_gcp.gcs.compute_log_manager import GCSComputeLogManager

    home = tmp_path / "dagster_home"
    home.mkdir()
    text = (VM_DIR / "dagster.yaml").read_text()
    assert text.count("/var/lib/fitsense/dagster-compute-logs") == 1
    (home / "dagster.yaml").write_text(
        text.replace("/var/lib/fitsense/dagster-compute-logs", str(tmp_path / "compute-logs"))
    )
    monkeypatch.setenv("FITSENSE_DAGSTER_STORAGE_URL", database_factory("dagster_vm"))
    monkeypatch.setenv("FITSENSE_DAGSTER_LOGS_BUCKET", "fitsense-test")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
        assert type(instance.run_launcher).__name__ == "DefaultRunLauncher"
        queue = instance.get_concurrency_config().run_queue_config
        assert queue.max_concurrent_runs == 4
        assert list(queue.tag_concurrency_limits) == EXPECTED_TAG_LIMITS

        # Dagster's own dequeue bookkeeping with these limits: while a retraining run for
        # one run_id is in progress, a second retraining waits, and so does any other run of
        # the same run_id; a CLI run of another run_id does not.
        def run(run_id: str, **tags: str) -> dg.DagsterRun:
            return dg.DagsterRun(job_name="pipeline", run_id=run_id, tags=tags)

        retraining = {"fitsense/trigger": "retraining_sensor"}
        counter = TagConcurrencyLimitsCounter(
            queue.tag_concurrency_limits,
            [run("a", **retraining, **{"dagster/partition": "retrain-1"})],
        )
        assert counter.is_blocked(run("b", **retraining, **{"dagster/partition": "retrain-2"}))
        assert counter.is_blocked(run("c", **{"dagster/partition": "retrain-1"}))
        assert not counter.is_blocked(
            run("d", **{"fitsense/trigger": "cli", "dagster/partition": "run-2"})
        )

        # The compute logs go to the bucket from the environment. (Capturing a step's output
        # runs `tail -F`, which timed out under CI's load; the upload path is dagster-gcp's.)
        manager = instance.compute_log_manager
        assert isinstance(manager, GCSComputeLogManager)
        assert manager.inst_data.config_dict["bucket"] == {"env": "FITSENSE_DAGSTER_LOGS_BUCKET"}


def test_vm_systemd_units_verify(tmp_path: Path) -> None:
    """systemd's own verifier, on copies whose /opt/fitsense paths point at this checkout
    (it checks that ExecStart is executable)."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    units = sorted(VM_DIR.glob("*.service"))
    assert [u.name for u in units] == [
        "fitsense-dagster-daemon.service",
        "fitsense-dagster-webserver.service",
    ]
    venv_bin = Path(REPO / ".venv" / "bin")
    if not (venv_bin / "dagster-daemon").exists():
        pytest.skip("the virtualenv's dagster-daemon is not where the unit copies point")
    copies = []
    for unit in units:
        text = unit.read_text()
        assert "EnvironmentFile=/etc/fitsense/dagster.env" in text
        assert "DAGSTER_HOME=/var/lib/fitsense/dagster_home" in text
        copy = tmp_path / unit.name
        copy.write_text(text.replace("/opt/fitsense", str(REPO)))
        copies.append(str(copy))
    done = subprocess.run(
        [analyze, "verify", *copies], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0 and not done.stdout.strip() and not done.stderr.strip(), (
        done.stdout + done.stderr
    )


# ---------------------------------------------------------------- (b) GKE with dagster-k8s


def _values() -> dict[str, Any]:
    return yaml.safe_load(VALUES.read_text())


# The value keys the chart's values schema allows in the sections these values set (its
# extra="forbid" models: K8sRunLauncherConfig, QueuedRunCoordinatorConfig,
# GCSComputeLogManager): a key outside them would be refused by `helm install`, and ignored
# by the translation below.
CHART_KEYS = {
    ("runLauncher", "config", "k8sRunLauncher"): {
        "image",
        "imagePullPolicy",
        "jobNamespace",
        "loadInclusterConfig",
        "kubeconfigFile",
        "envConfigMaps",
        "envSecrets",
        "envVars",
        "volumeMounts",
        "volumes",
        "labels",
        "failPodOnRunFailure",
        "resources",
        "schedulerName",
        "securityContext",
        "runK8sConfig",
    },
    ("dagsterDaemon", "runCoordinator", "config", "queuedRunCoordinator"): {
        "maxConcurrentRuns",
        "tagConcurrencyLimits",
        "dequeueIntervalSeconds",
        "dequeueNumWorkers",
        "dequeueUseThreads",
        "blockOpConcurrencyLimitedRuns",
    },
    ("computeLogManager", "config", "gcsComputeLogManager"): {
        "bucket",
        "localDir",
        "prefix",
        "jsonCredentialsEnvvar",
        "uploadInterval",
        "showUrlOnly",
    },
}


def _render_instance(values: dict[str, Any]) -> dict[str, Any]:
    """The dagster.yaml the Dagster chart's configmap-instance template writes for these
    values (the parts they set), translated by hand from the chart's templates."""
    pg = values["postgresql"]
    postgres = {
        "postgres_db": {
            "username": pg["postgresqlUsername"],
            "password": {"env": "DAGSTER_PG_PASSWORD"},
            "hostname": pg["postgresqlHost"],
            "db_name": pg["postgresqlDatabase"],
            "port": pg["service"]["port"],
            "params": pg["postgresqlParams"],
        }
    }
    k8s = values["runLauncher"]["config"]["k8sRunLauncher"]
    launcher: dict[str, Any] = {
        "load_incluster_config": k8s["loadInclusterConfig"],
        "job_namespace": k8s.get("jobNamespace") or NAMESPACE,
        "image_pull_policy": k8s["imagePullPolicy"],
        "service_account_name": values["global"]["serviceAccountName"],
        "dagster_home": "/opt/dagster/dagster_home",
        "instance_config_map": f"{RELEASE}-instance",
        "postgres_password_secret": values["global"]["postgresqlSecretName"],
    }
    if k8s.get("kubeconfigFile"):
        launcher["kubeconfig_file"] = k8s["kubeconfigFile"]
    if k8s.get("envConfigMaps"):
        launcher["env_config_maps"] = [c["name"] for c in k8s["envConfigMaps"]]
    if k8s.get("envSecrets"):
        launcher["env_secrets"] = [s["name"] for s in k8s["envSecrets"]]
    for value_key, config_key in (
        ("envVars", "env_vars"),
        ("volumeMounts", "volume_mounts"),
        ("volumes", "volumes"),
        ("labels", "labels"),
        ("resources", "resources"),
        ("securityContext", "security_context"),
        ("schedulerName", "scheduler_name"),
    ):
        if k8s.get(value_key):
            launcher[config_key] = k8s[value_key]
    if k8s.get("failPodOnRunFailure"):
        launcher["fail_pod_on_run_failure"] = True
    if k8s.get("runK8sConfig"):
        names = {
            "containerConfig": "container_config",
            "podSpecConfig": "pod_spec_config",
            "podTemplateSpecMetadata": "pod_template_spec_metadata",
            "jobSpecConfig": "job_spec_config",
            "jobMetadata": "job_metadata",
        }
        launcher["run_k8s_config"] = {names[k]: v for k, v in k8s["runK8sConfig"].items() if v}
    queued = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    gcs = values["computeLogManager"]["config"]["gcsComputeLogManager"]
    monitoring = values["dagsterDaemon"]["runMonitoring"]
    instance = {
        "scheduler": {"module": "dagster._core.scheduler", "class": "DagsterDaemonScheduler"},
        **{
            name: {"module": f"dagster_postgres.{module}", "class": cls, "config": postgres}
            for name, module, cls in (
                ("schedule_storage", "schedule_storage", "PostgresScheduleStorage"),
                ("run_storage", "run_storage", "PostgresRunStorage"),
                ("event_log_storage", "event_log", "PostgresEventLogStorage"),
            )
        },
        "run_launcher": {"module": "dagster_k8s", "class": "K8sRunLauncher", "config": launcher},
        "run_coordinator": {
            "module": "dagster._core.run_coordinator",
            "class": "QueuedRunCoordinator",
            "config": {
                "max_concurrent_runs": queued["maxConcurrentRuns"],
                "tag_concurrency_limits": queued["tagConcurrencyLimits"],
                "dequeue_interval_seconds": queued["dequeueIntervalSeconds"],
            },
        },
        "compute_logs": {
            "module": "dagster_gcp.gcs.compute_log_manager",
            "class": "GCSComputeLogManager",
            "config": {
                "bucket": gcs["bucket"],
                "prefix": gcs["prefix"],
                "upload_interval": gcs["uploadInterval"],
            },
        },
        "run_monitoring": {
            "enabled": monitoring["enabled"],
            "start_timeout_seconds": monitoring["startTimeoutSeconds"],
            "cancel_timeout_seconds": monitoring["cancelTimeoutSeconds"],
            "max_resume_run_attempts": monitoring["maxResumeRunAttempts"],
            "poll_interval_seconds": monitoring["pollIntervalSeconds"],
            "free_slots_after_run_end_seconds": monitoring["freeSlotsAfterRunEndSeconds"],
        },
        "telemetry": {"enabled": values["telemetry"]["enabled"]},
        "retention": {
            name: {"purge_after_days": values["retention"][name]["purgeAfterDays"]}
            for name in ("sensor", "schedule")
        },
    }
    assert not values["dagsterDaemon"]["runRetries"]["enabled"]  # else run_retries twice
    instance.update(values.get("additionalInstanceConfig") or {})
    return instance


def test_gke_helm_values_render_a_valid_instance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    values = _values()
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["dagsterDaemon"]["runCoordinator"]["type"] == "QueuedRunCoordinator"
    assert values["computeLogManager"]["type"] == "GCSComputeLogManager"
    # Cloud SQL, not the chart's PostgreSQL, and no password in the values.
    assert values["postgresql"]["enabled"] is False
    assert values["generatePostgresqlPasswordSecret"] is False
    assert values["postgresql"]["postgresqlPassword"] == ""
    assert not any(values[k]["enabled"] for k in ("rabbitmq", "redis", "flower"))

    for path, allowed in CHART_KEYS.items():
        section = values
        for key in path:
            section = section[key]
        assert set(section) <= allowed, (path, set(section) - allowed)

    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(_render_instance(values)))
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", "dummy")
    config = _validated_instance(tmp_path)
    # Every configurable class the instance names imports and accepts its config.
    for section in config.values():
        if isinstance(section, dict) and "module" in section:
            _processed(section)
    for name in ("run_storage", "event_log_storage", "schedule_storage"):
        assert _processed(config[name])["postgres_db"]["password"] == "dummy"
    launcher = _processed(config["run_launcher"])
    assert launcher["service_account_name"] == values["serviceAccount"]["name"]
    # dagster-k8s parses run_k8s_config into Kubernetes models (unknown keys raise).
    UserDefinedDagsterK8sConfig.from_dict(launcher["run_k8s_config"])
    queue = _processed(config["run_coordinator"])
    assert queue["tag_concurrency_limits"] == EXPECTED_TAG_LIMITS
    assert _processed(config["compute_logs"])["bucket"] == "fitsenseai-mlops-prod"
    assert config["run_retries"] == {
        "enabled": True,
        "max_retries": 1,
        "retry_on_asset_or_op_failure": False,
    }
    # The same class the chart names, with the schema this test used.
    assert class_from_code_pointer("dagster_k8s", "K8sRunLauncher") is K8sRunLauncher


def test_gke_user_deployment_is_the_fitsense_code_location() -> None:
    values = _values()
    user = values["dagster-user-deployments"]
    assert user["enabled"] and user["enableSubchart"]
    (deployment,) = user["deployments"]
    assert deployment["dagsterApiGrpcArgs"] == ["-m", "fitsense_assets.definitions", "-a", "defs"]
    workspace = yaml.safe_load((REPO / "workspace.yaml").read_text())["load_from"][0]
    assert workspace["python_module"]["module_name"] == "fitsense_assets.definitions"
    assert workspace["python_module"]["attribute"] == "defs"
    assert deployment["includeConfigInLaunchedRuns"] == {"enabled": True}
    env = {e["name"]: e["value"] for e in deployment["env"]}
    # Step pods share files only through the artifact store: it must be GCS.
    assert env["FITSENSE_ARTIFACTS_URI"].startswith("gs://fitsenseai-mlops-")
    # The code location (and so every run and step pod) uses the k8s job executor, and the
    # teacher's shard count is one the resource accepts.
    assert env[EXECUTOR_ENV] == "k8s"
    assert resolve_shards(0, {SHARDS_ENV: env[SHARDS_ENV]}) >= 1
    assert [s["name"] for s in deployment["envSecrets"]] == ["fitsense-pipeline"]
    images = {
        f"{c['image']['repository']}:{c['image']['tag']}"
        for c in (deployment, values["dagsterWebserver"], values["dagsterDaemon"])
    }
    assert len(images) == 1, images  # one image for every Dagster process
    webserver = values["dagsterWebserver"]
    assert webserver["service"]["type"] == "ClusterIP"
    assert webserver["readinessProbe"]["httpGet"]["port"] == webserver["service"]["port"]


def _k8s_job(monkeypatch: pytest.MonkeyPatch) -> dg.JobDefinition:
    """The pipeline job as the code location defines it on GKE (values.yaml sets
    FITSENSE_DAGSTER_EXECUTOR=k8s): the k8s job executor."""
    monkeypatch.setenv(EXECUTOR_ENV, "k8s")
    job = defs().resolve_job_def("pipeline")
    assert job.executor_def.name == "k8s"
    return job


def _step_op_names(job: dg.JobDefinition) -> dict[str, str | None]:
    """The op name of every step of the job (what per_step_k8s_config is keyed by, also
    inside graph-backed assets and for mapped steps) and its concurrency pool."""
    plan = create_execution_plan(job)
    return {s.node_handle.name: s.pool for s in plan.get_all_steps_in_topo_order()}


def test_code_location_uses_the_k8s_executor_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(EXECUTOR_ENV, raising=False)
    local = defs()
    assert local.resolve_job_def("pipeline").executor_def.name == "multi_or_in_process_executor"
    monkeypatch.setenv(EXECUTOR_ENV, "local")
    assert defs().resolve_job_def("pipeline").executor_def.name == "multi_or_in_process_executor"

    job = _k8s_job(monkeypatch)
    loaded = defs()
    for name in ("pipeline", "dataset", "synthetic_data"):
        assert loaded.resolve_job_def(name).executor_def.name == "k8s", name
    assert loaded.resolve_implicit_global_asset_job_def().executor_def.name == "k8s"
    # Without run config (a sensor's or the automation's run) a run gets the defaults.
    assert (
        dg.validate_run_config(job, {})["execution"]["k8s"]
        == dg.validate_run_config(job, {"execution": {"config": K8S_EXECUTOR_DEFAULTS}})[
            "execution"
        ]["k8s"]
    )

    # A wrong value stops the code location from loading, with the reason as the cause.
    monkeypatch.setenv(EXECUTOR_ENV, "kubernetes")
    with pytest.raises(Exception, match=r"executor\.py") as failed:
        defs()
    cause = failed.value
    while cause is not None and not isinstance(cause, ConfigurationError):
        cause = cause.__cause__ or cause.__context__
    assert cause is not None, failed.value
    assert str(cause) == "FITSENSE_DAGSTER_EXECUTOR must be one of local, k8s, got 'kubernetes'"


def test_k8s_executor_without_dagster_k8s_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fitsense_assets.defs.executor import k8s_executor

    monkeypatch.setitem(sys.modules, "dagster_k8s", None)  # the import fails
    with pytest.raises(ConfigurationError, match=r"needs dagster-k8s: install the deploy extra"):
        k8s_executor()


def test_gke_run_config_is_valid_for_the_pipeline_with_the_k8s_executor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run_config = yaml.safe_load(RUN_CONFIG.read_text())
    # The executor's own schema, alone, for the document's block and for the defaults...
    for block in (run_config["execution"]["config"], K8S_EXECUTOR_DEFAULTS):
        executor = process_config(k8s_job_executor.config_schema.config_type, block)
        assert executor.success, [e.message for e in executor.errors]
    # ...and the whole document against the pipeline job the code location defines with
    # FITSENSE_DAGSTER_EXECUTOR=k8s (ops config included).
    job = _k8s_job(monkeypatch)
    validated = dg.validate_run_config(job, run_config)
    config = validated["execution"]["k8s"]
    assert config["job_namespace"] == NAMESPACE
    # The document is merged over the defaults: its override and the defaults both hold.
    assert config["step_k8s_config"]["job_spec_config"] == {
        "ttl_seconds_after_finished": 86400,
        "active_deadline_seconds": 86400,
    }
    assert config["step_k8s_config"]["container_config"]["resources"]["requests"] == {
        "cpu": "1",
        "memory": "4Gi",
    }
    assert config["max_concurrent"] == K8S_EXECUTOR_DEFAULTS["max_concurrent"]
    assert merged_k8s_config(run_config["execution"]["config"])["job_namespace"] == NAMESPACE
    # An unknown key is refused, not ignored.
    with pytest.raises(dg.DagsterInvalidConfigError, match="max_concurent"):
        dg.validate_run_config(job, {"execution": {"config": {"max_concurent": 2}}})
    # per_step_k8s_config is keyed by op name; an unknown name would be ignored silently.
    # Every name in it is a real step's op, the teacher shards' mapped op included (inside
    # the graph-backed teacher_outputs), and that op is in the teacher_provider pool.
    steps = _step_op_names(job)
    assert set(config["per_step_k8s_config"]) <= set(steps)
    assert "answer_teacher_shard" in config["per_step_k8s_config"]
    assert steps["answer_teacher_shard"] == TEACHER_POOL
    # Without the k8s executor the same document does not validate (the block is its own).
    monkeypatch.setenv(EXECUTOR_ENV, "local")
    with pytest.raises(dg.DagsterInvalidConfigError):
        dg.validate_run_config(defs().resolve_job_def("pipeline"), run_config)


def test_gke_training_step_pod_gets_a_gpu_on_the_gpu_pool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Kubernetes Job the k8s job executor would create for student_model: the run
    launcher's config (from the Helm values), the executor's step_k8s_config (its defaults
    with run_config.yaml merged over them) and the step's own dagster-k8s/config tag, merged
    by dagster-k8s, built by construct_dagster_k8s_job. Other steps get no GPU."""
    run_config = yaml.safe_load(RUN_CONFIG.read_text())
    job = _k8s_job(monkeypatch)
    executor_config = dg.validate_run_config(job, run_config)["execution"]["k8s"]
    tags = {h.name: job.graph.get_node(h).tags for h in job.graph.iterate_node_handles()}
    assert json.loads(tags["student_model"]["dagster-k8s/config"]) == GPU_STEP_K8S_CONFIG
    assert gpu_step_k8s_config(os.environ) == GPU_STEP_K8S_CONFIG
    gpu_steps = {name for name, t in tags.items() if GPU in t.get("dagster-k8s/config", "")}
    assert gpu_steps == {"student_model"}
    # The tag as the code location computes it on GKE, from its environment in the values
    # (the module computes it at import, from the process's environment).
    (deployment,) = _values()["dagster-user-deployments"]["deployments"]
    location_env = {e["name"]: e["value"] for e in deployment["env"]}
    tags["student_model"] = {
        "dagster-k8s/config": json.dumps(gpu_step_k8s_config(location_env)),
    }

    # The run launcher from the rendered values; only how it finds the cluster is changed
    # (a kubeconfig that is parsed, never contacted).
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {"token": "not-a-token"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    section = _render_instance(_values())["run_launcher"]
    section["config"].update(load_incluster_config=False, kubeconfig_file=str(kubeconfig))
    launcher = K8sRunLauncher(**_processed(section))
    run = dg.DagsterRun(job_name="pipeline", run_id="0123456789abcdef")
    base = K8sContainerContext.create_for_run(run, launcher, include_run_tags=False)
    executor_context = K8sContainerContext(
        image_pull_policy=executor_config["image_pull_policy"],
        namespace=executor_config["job_namespace"],
        run_k8s_config=UserDefinedDagsterK8sConfig.from_dict(executor_config["step_k8s_config"]),
    )

    def step_job(step: str) -> kubernetes.client.V1Job:
        context = base.merge(executor_context).merge(
            K8sContainerContext(run_k8s_config=get_user_defined_k8s_config(tags[step]))
        )
        per_step = executor_config["per_step_k8s_config"].get(step, {})
        context = context.merge(
            K8sContainerContext(run_k8s_config=UserDefinedDagsterK8sConfig.from_dict(per_step))
        )
        job_config = context.get_k8s_job_config("registry.invalid/fitsense-dagster:t", launcher)
        assert isinstance(job_config, DagsterK8sJobConfig)
        return construct_dagster_k8s_job(
            job_config,
            ["dagster", "api", "execute_step"],
            f"dagster-step-{step.replace('_', '-')}",
            user_defined_k8s_config=context.run_k8s_config,
        )

    training = step_job("student_model")
    pod = training.spec.template.spec
    (container,) = pod.containers
    assert container.resources.requests[GPU] == "1" and container.resources.limits[GPU] == "1"
    assert container.resources.requests["memory"] == "16Gi"  # the tag's, over the default
    assert pod.node_selector == {"cloud.google.com/gke-accelerator": "nvidia-l4"}
    assert [(t.key, t.operator, t.effect) for t in pod.tolerations] == [
        (GPU, "Exists", "NoSchedule")
    ]
    # The training step runs the CUDA image as the training account's Kubernetes account.
    assert container.image == location_env[GPU_STEP_IMAGE_ENV]
    account = yaml.safe_load(TRAINING_ACCOUNT.read_text())["metadata"]
    assert pod.service_account_name == location_env[GPU_STEP_SERVICE_ACCOUNT_ENV]
    assert pod.service_account_name == account["name"] == "fitsense-training"
    assert account["namespace"] == executor_config["job_namespace"] == NAMESPACE
    assert training.spec.ttl_seconds_after_finished == 86400
    env = {e.name: e for e in container.env}
    assert env["DAGSTER_PG_PASSWORD"].value_from.secret_key_ref.name == (
        "fitsense-dagster-postgresql"
    )

    for step in ("synthetic_users", "student_export", "answer_teacher_shard"):
        other = step_job(step).spec.template.spec
        assert GPU not in (other.containers[0].resources.requests or {})
        assert not other.node_selector and not other.tolerations
        # Every other step runs the run's image as the pipeline's account.
        assert other.service_account_name == "fitsense-dagster"
        assert other.containers[0].image == "registry.invalid/fitsense-dagster:t"
    export = step_job("student_export").spec.template.spec.containers[0].resources
    assert export.requests["memory"] == "8Gi"  # per_step_k8s_config
    shard = step_job("answer_teacher_shard").spec.template.spec.containers[0].resources
    assert shard.requests == {"cpu": "500m", "memory": "2Gi"}  # a teacher shard: small
    assert step_job("synthetic_users").spec.template.spec.containers[0].resources.requests == {
        "cpu": "1",
        "memory": "4Gi",
    }


# ---------------------------------------------------------------- (d) vLLM replicas


def _manifests() -> dict[str, dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all(VLLM.read_text()) if d]
    return {d["kind"]: d for d in docs}


def test_gpu_step_config_follows_its_environment() -> None:
    bare = gpu_step_k8s_config({})
    assert "image" not in bare["container_config"]
    assert "service_account_name" not in bare["pod_spec_config"]
    set_ = gpu_step_k8s_config(
        {GPU_STEP_IMAGE_ENV: " img:1 ", GPU_STEP_SERVICE_ACCOUNT_ENV: "fitsense-training"}
    )
    assert set_["container_config"]["image"] == "img:1"
    assert set_["pod_spec_config"]["service_account_name"] == "fitsense-training"
    # The training account's manifest is a strict Kubernetes ServiceAccount.
    document = yaml.safe_load(TRAINING_ACCOUNT.read_text())
    assert document["kind"] == "ServiceAccount"
    k8s_model_from_dict(
        kubernetes.client.V1ServiceAccount,
        k8s_snake_case_dict(kubernetes.client.V1ServiceAccount, document),
    )


def test_vllm_manifests_parse_as_kubernetes_objects() -> None:
    """Every document through the Kubernetes client's API models, strictly: dagster-k8s's
    parser raises on a key the model does not have (a typo, a misplaced field)."""
    docs = _manifests()
    assert set(docs) == {"ServiceAccount", "Deployment", "Service", "PodDisruptionBudget"}
    models = {
        "ServiceAccount": kubernetes.client.V1ServiceAccount,
        "Deployment": kubernetes.client.V1Deployment,
        "Service": kubernetes.client.V1Service,
        "PodDisruptionBudget": kubernetes.client.V1PodDisruptionBudget,
    }
    for kind, doc in docs.items():
        model = k8s_model_from_dict(models[kind], k8s_snake_case_dict(models[kind], doc))
        assert model.metadata.namespace == "fitsense-serving", kind
    with pytest.raises(Exception, match="Unexpected keys"):
        bad = {**docs["Service"], "spec": {**docs["Service"]["spec"], "tpye": "ClusterIP"}}
        k8s_snake_case_dict(kubernetes.client.V1Service, bad)


def test_vllm_replicas_behind_an_internal_load_balancer() -> None:
    docs = _manifests()
    deployment, service = docs["Deployment"], docs["Service"]
    assert deployment["spec"]["replicas"] >= 2
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["resources"]["requests"][GPU] == "1"
    assert container["resources"]["limits"][GPU] == "1"
    assert pod["nodeSelector"]["cloud.google.com/gke-accelerator"]
    assert {"key": GPU, "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    # The image's entrypoint runs `fitsense serve --backend vllm`; the pod adds the port.
    assert "command" not in container
    entrypoint = re.search(r"^ENTRYPOINT (\[.*\])$", VLLM_DOCKERFILE.read_text(), re.MULTILINE)
    assert json.loads(entrypoint.group(1))[-5:] == [
        "serve",
        "--backend",
        "vllm",
        "--host",
        "0.0.0.0",
    ]
    port = container["ports"][0]
    assert container["args"] == ["--port", str(port["containerPort"])]
    assert container["readinessProbe"]["httpGet"] == {"path": "/health", "port": port["name"]}
    # The key from a Secret, never a literal value.
    env = {e["name"]: e for e in container["env"]}
    assert env["FITSENSE_MODEL_API_KEY"] == {
        "name": "FITSENSE_MODEL_API_KEY",
        "valueFrom": {"secretKeyRef": {"name": "fitsense-model-api-key", "key": "api-key"}},
    }
    assert "value" not in env["FITSENSE_DATABASE_URL"]
    # One address for the API: an internal (VPC-only) TCP load balancer over the replicas.
    assert service["spec"]["type"] == "LoadBalancer"
    assert service["metadata"]["annotations"]["networking.gke.io/load-balancer-type"] == "Internal"
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["targetPort"] == port["name"]
    assert docs["PodDisruptionBudget"]["spec"]["minAvailable"] >= 1


# ---------------------------------------------------------------- nothing real in any of it

DEPLOY_FILES = sorted(p for p in DEPLOY.rglob("*") if p.is_file())
SECRET_PATTERNS = {
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "service account key": re.compile(r'"private_key(_id)?"\s*:'),
    "Google API key": re.compile(r"AIza[0-9A-Za-z_\-]{35}"),
    "AWS key": re.compile(r"AKIA[0-9A-Z]{16}"),
    "GitHub token": re.compile(r"gh[pousr]_[0-9A-Za-z]{36}"),
    # scheme://user:password@ with a password that is not a <placeholder>.
    "URL with a password": re.compile(r"://[^\s/:@]+:(?!<)[^\s@/]+@"),
}
IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
PRIVATE_RANGE = re.compile(r"(?<![\d.])((?:\d{1,3}\.){3}\d{1,3}/\d{1,2})(?![\d.])")
PROJECT_REFERENCES = (
    re.compile(r"docker\.pkg\.dev/([^/\s]+)/"),
    re.compile(r"@([a-z0-9-]+)\.iam\.gserviceaccount\.com"),
    re.compile(r"projects/([^/\s\"']+)"),
)


def test_deploy_files_hold_no_credential_project_id_or_address() -> None:
    assert {p.relative_to(DEPLOY).as_posix() for p in DEPLOY_FILES} >= {
        "dagster/README.md",
        "dagster/vm/dagster.yaml",
        "dagster/gke/values.yaml",
        "dagster/gke/run_config.yaml",
        "k8s/vllm.yaml",
    }
    for path in DEPLOY_FILES:
        text = path.read_text()
        for what, pattern in SECRET_PATTERNS.items():
            assert not pattern.search(text), f"{path}: {what}"
        # No host address but the bind addresses, 127.0.0.1 (loopback) and 0.0.0.0 (all
        # interfaces in a pod); private network ranges (infra's tfvars' CIDRs, which
        # tests/test_infra.py matches) are not hosts.
        ranges = PRIVATE_RANGE.findall(text)
        for cidr in ranges:
            assert ipaddress.ip_network(cidr).is_private, f"{path}: {cidr}"
        hosts = set(IPV4.findall(PRIVATE_RANGE.sub("", text)))
        assert hosts <= {"127.0.0.1", "0.0.0.0"}, path
        for pattern in PROJECT_REFERENCES:
            assert set(pattern.findall(text)) <= {PLACEHOLDER_PROJECT}, path


def _walk(node: Any, path: str = ""):
    if isinstance(node, dict):
        for key, value in node.items():
            yield f"{path}.{key}", key, value
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}[{i}]")


def test_no_secret_value_is_written_inline() -> None:
    """Every password- or key-like field in the YAML is empty, an env reference or a Secret
    reference; no Kubernetes Secret carries data."""
    secretish = re.compile(r"(password|secret_?key|api_?key|token)$", re.IGNORECASE)
    for path in DEPLOY_FILES:
        if path.suffix != ".yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "Secret":
                assert not doc.get("data") and not doc.get("stringData"), path
            for where, key, value in _walk(doc):
                if isinstance(key, str) and secretish.search(key):
                    assert value in ("", None) or (
                        isinstance(value, dict) and set(value) <= {"env", "valueFrom"}
                    ), f"{path}{where}"
                if key == "env" and isinstance(value, list):
                    for var in value:
                        name = var.get("name", "")
                        if secretish.search(name) or name.endswith(("DATABASE_URL", "STORAGE_URL")):
                            assert "value" not in var, f"{path}{where}: {name}"
