"""The infrastructure as code (infra/, cloudbuild.yaml), checked without a cloud.

Nothing here talks to Google Cloud. What runs:

- with a ``terraform`` binary on PATH: ``terraform fmt -check``, the VM's startup script
  rendered by Terraform's own ``templatefile`` (no provider needed) and checked by bash,
  and ``terraform validate`` when the google provider can be installed from a local
  plugin mirror (or, with ``FITSENSE_TF_INIT_FROM_REGISTRY=1``, from the registry);
- always: every .tf and .tfvars file parsed with python-hcl2 and checked structurally
  against the seed's design (service accounts and their only roles, buckets, firewall,
  private VM and database, Cloud Run wiring, secrets without values), the layout by hand
  as ``terraform fmt`` lays it out, and the whole repository scanned for credentials, real
  project ids and public IPv4 addresses.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import subprocess
from pathlib import Path

import hcl2
import pytest
import yaml
from hcl2 import SerializationOptions

REPO = Path(__file__).resolve().parents[1]
INFRA = REPO / "infra"
DOCKER = REPO / "docker"
DEPLOY = REPO / "deploy"
ENVS = ("dev", "stage", "prod")
GOOGLE_PROVIDER = "registry.terraform.io/hashicorp/google"
# Where a filesystem mirror of providers may be (terraform's implied mirror directories
# and this image's); FITSENSE_TF_PLUGIN_DIR adds one.
PLUGIN_DIRS = (
    "/opt/tf-plugins",
    "~/.terraform.d/plugins",
    "~/.local/share/terraform/plugins",
    "/usr/local/share/terraform/plugins",
    "/usr/share/terraform/plugins",
)

HCL = SerializationOptions(strip_string_quotes=True, with_comments=False)


# --- parsing -------------------------------------------------------------------------


def _load(path: Path) -> dict:
    return hcl2.loads(path.read_text(), serialization_options=HCL)


def _tf_files() -> list[Path]:
    return sorted(INFRA.glob("*.tf"))


class Config:
    """The root module as python-hcl2 reads it: resources, variables, locals, outputs."""

    def __init__(self) -> None:
        self.resources: dict[tuple[str, str], dict] = {}
        self.variables: dict[str, dict] = {}
        self.locals: dict[str, object] = {}
        self.outputs: dict[str, dict] = {}
        self.terraform: list[dict] = []
        self.text = ""
        for path in _tf_files():
            self.text += path.read_text() + "\n"
            doc = _load(path)
            for block in doc.get("resource", []):
                for rtype, named in block.items():
                    for name, body in named.items():
                        assert (rtype, name) not in self.resources, f"{rtype}.{name} twice"
                        self.resources[(rtype, name)] = body
            for block in doc.get("variable", []):
                self.variables.update(block)
            for block in doc.get("locals", []):
                self.locals.update({k: v for k, v in block.items() if k != "__is_block__"})
            for block in doc.get("output", []):
                self.outputs.update(block)
            self.terraform += doc.get("terraform", [])

    def of_type(self, rtype: str) -> dict[str, dict]:
        return {name: body for (t, name), body in self.resources.items() if t == rtype}

    def one(self, rtype: str, name: str) -> dict:
        assert (rtype, name) in self.resources, f"infra/ has no {rtype}.{name}"
        return self.resources[(rtype, name)]

    def default(self, name: str) -> object:
        return self.variables[name].get("default")

    def resolve(self, value: str, env: str) -> str:
        """A string whose ${var.x} and ${local.x} are plain references, for one env's
        tfvars (others are left as they are)."""
        tfvars = _load(INFRA / "envs" / f"{env}.tfvars")

        def var(m: re.Match) -> str:
            name = m.group(1)
            return str(tfvars[name] if name in tfvars else self.default(name))

        def local(m: re.Match) -> str:
            return str(self.locals[m.group(1)])

        for _ in range(10):
            before = value
            value = re.sub(r"\$\{var\.([a-z0-9_]+)\}", var, value)
            value = re.sub(r"\$\{local\.([a-z0-9_]+)\}", local, value)
            if value == before:
                break
        return value


@pytest.fixture(scope="module")
def config() -> Config:
    return Config()


def _block(body: dict, name: str) -> dict:
    """The single nested block ``name`` of ``body``."""
    blocks = body.get(name)
    assert isinstance(blocks, list) and len(blocks) == 1, f"expected one {name} block"
    return blocks[0]


def _ref(value: object) -> str:
    """``${google_x.y.attr}`` -> ``google_x.y.attr``."""
    assert isinstance(value, str), value
    m = re.fullmatch(r"\$\{([^{}]+)\}", value)
    assert m, f"{value!r} is not a single reference"
    return m.group(1)


# --- (1) terraform itself ------------------------------------------------------------


def _terraform() -> str:
    path = shutil.which("terraform")
    if path is None:
        pytest.skip("no terraform binary on PATH (the structural checks below still run)")
    return path


def _run_tf(
    args: list[str], cwd: Path, env: dict, timeout: float = 120
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [_terraform(), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def _tf_env(tmp_path: Path, cli_config: str = "") -> dict:
    """An environment in which terraform reads only the CLI configuration given here
    (none: no provider installation at all) and never phones home."""
    rc = tmp_path / "terraformrc"
    rc.write_text(cli_config)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    env.update(
        TF_CLI_CONFIG_FILE=str(rc),
        TF_IN_AUTOMATION="1",
        TF_INPUT="0",
        CHECKPOINT_DISABLE="1",
        HOME=str(tmp_path),
    )
    return env


def test_terraform_fmt(tmp_path):
    terraform = _terraform()
    copy = tmp_path / "infra"
    shutil.copytree(INFRA, copy, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
    done = subprocess.run(
        [terraform, "fmt", "-check", "-recursive", "-diff", "-no-color"],
        cwd=copy,
        env=_tf_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"terraform fmt would change infra/:\n{done.stdout}{done.stderr}"


def _google_provider_mirror() -> Path | None:
    """A local filesystem mirror holding hashicorp/google 8.x, if there is one."""
    dirs = [os.environ.get("FITSENSE_TF_PLUGIN_DIR", ""), os.environ.get("TF_PLUGIN_CACHE_DIR", "")]
    for raw in [*dirs, *PLUGIN_DIRS]:
        if not raw:
            continue
        root = Path(raw).expanduser()
        provider = root / GOOGLE_PROVIDER
        if provider.is_dir() and any(
            p.name.startswith("8.") or p.name.startswith("terraform-provider-google_8.")
            for p in provider.iterdir()
        ):
            return root
    return None


def test_terraform_validate(tmp_path):
    _terraform()
    from_registry = os.environ.get("FITSENSE_TF_INIT_FROM_REGISTRY") == "1"
    mirror = _google_provider_mirror()
    if mirror is None and not from_registry:
        looked = [d for d in (os.environ.get("FITSENSE_TF_PLUGIN_DIR"), *PLUGIN_DIRS) if d]
        present = sorted(
            f"{p.parent.name}/{p.name}"
            for d in looked
            for p in Path(d).expanduser().glob("registry.terraform.io/*/*")
        )
        pytest.skip(
            "terraform validate needs the hashicorp/google provider (8.x), and no local "
            f"mirror has it (looked in {', '.join(looked)}; found only "
            f"{', '.join(present) or 'no providers'}). Set FITSENSE_TF_PLUGIN_DIR to a "
            "mirror that has it, or FITSENSE_TF_INIT_FROM_REGISTRY=1 where "
            "registry.terraform.io can be reached."
        )
    cli_config = (
        ""
        if from_registry
        else f'provider_installation {{\n  filesystem_mirror {{\n    path = "{mirror}"\n  }}\n}}\n'
    )
    env = _tf_env(tmp_path, cli_config)
    copy = tmp_path / "infra"
    shutil.copytree(INFRA, copy, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"))
    init = _run_tf(["init", "-backend=false", "-input=false", "-no-color"], copy, env, 600)
    assert init.returncode == 0, f"terraform init failed:\n{init.stdout}{init.stderr}"
    validate = _run_tf(["validate", "-no-color"], copy, env, 300)
    assert validate.returncode == 0, f"terraform validate:\n{validate.stdout}{validate.stderr}"


def _render_startup(tmp_path: Path, gpu_count: int) -> str:
    """The vLLM VM's startup script as Terraform renders it (templatefile needs no
    provider: an outputs-only configuration applies offline)."""
    work = tmp_path / f"render{gpu_count}"
    work.mkdir()
    shutil.copy(INFRA / "templates" / "vllm-startup.sh.tftpl", work)
    values = {
        "project_id": "your-gcp-project-id",
        "env": "dev",
        "registry_host": "us-east4-docker.pkg.dev",
        "image": "us-east4-docker.pkg.dev/your-gcp-project-id/fitsense-dev/vllm:dev",
        "cloud_sdk_image": "gcr.io/google.com/cloudsdktool/google-cloud-cli:stable",
        "port": 8090,
        "gpu_count": gpu_count,
        "artifacts_uri": "gs://fitsenseai-mlops-dev",
        "database_url_name": "fitsense-dev-database-url",
        "model_key_name": "fitsense-dev-model-api-key",
    }
    args = ", ".join(
        f"{k} = {v}" if isinstance(v, int) else f'{k} = "{v}"' for k, v in values.items()
    )
    (work / "main.tf").write_text(
        f'output "script" {{\n  value = templatefile("vllm-startup.sh.tftpl", {{ {args} }})\n}}\n'
    )
    env = _tf_env(tmp_path)
    for step in (["init", "-input=false", "-no-color"], ["apply", "-auto-approve", "-no-color"]):
        done = _run_tf(step, work, env)
        assert done.returncode == 0, f"terraform {step[0]}:\n{done.stdout}{done.stderr}"
    out = _run_tf(["output", "-raw", "script"], work, env)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.parametrize("gpu_count", [1, 2])
def test_startup_script_renders_and_is_bash(tmp_path, gpu_count):
    script = _render_startup(tmp_path, gpu_count)
    path = tmp_path / "startup.sh"
    path.write_text(script)
    done = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    if shutil.which("shellcheck"):
        lint = subprocess.run(["shellcheck", str(path)], capture_output=True, text=True)
        assert lint.returncode == 0, lint.stdout
    # One --device per GPU, the image run with the port, no template syntax left.
    for i in range(gpu_count):
        assert f"--device /dev/nvidia{i}:/dev/nvidia{i}" in script
    assert f"/dev/nvidia{gpu_count}:" not in script
    assert '"$IMAGE" --port "$PORT"' in script
    assert 'PORT="8090"' in script
    assert "printf 'FITSENSE_ENV=%s\\n' \"dev\"" in script
    assert "%{" not in script
    assert "set -x" not in script, "the script must not trace (it handles secrets)"


# --- (2) structure -------------------------------------------------------------------


def test_every_file_parses():
    names = {p.name for p in _tf_files()}
    assert {"versions.tf", "variables.tf", "outputs.tf", "main.tf"} <= names
    for path in [*_tf_files(), *sorted((INFRA / "envs").glob("*.tfvars"))]:
        assert isinstance(_load(path), dict), path
    assert sorted(p.stem for p in (INFRA / "envs").glob("*.tfvars")) == sorted(ENVS)


def test_versions_are_pinned(config):
    (terraform,) = config.terraform
    assert re.fullmatch(r">= 1\.\d+\.\d+, < 2\.0\.0", terraform["required_version"])
    (providers,) = terraform["required_providers"]
    assert providers["google"]["source"] == "hashicorp/google"
    # A pessimistic constraint: minor upgrades of one major version only.
    assert re.fullmatch(r"~> \d+\.\d+", providers["google"]["version"])
    assert set(providers) - {"__is_block__"} == {"google"}
    assert "gcs" in _block(terraform, "backend")


def test_variables_and_env_files(config):
    required = {"project_id", "region", "env", "vllm_machine_type", "gpu_type", "vllm_spot"}
    assert required <= set(config.variables)
    env_var = config.variables["env"]
    (validation,) = env_var["validation"]
    quoted = re.findall(r'"([a-z]+)"', validation["condition"].replace('\\"', '"'))
    assert sorted(quoted) == sorted(ENVS)
    assert "var.env" in validation["condition"]
    assert config.default("gpu_type") == "nvidia-l4"
    assert config.default("vllm_spot") is False
    assert config.variables["vllm_spot"]["type"] == "bool"
    for env in ENVS:
        tfvars = _load(INFRA / "envs" / f"{env}.tfvars")
        assert tfvars["env"] == env
        assert tfvars["project_id"] == "your-gcp-project-id"
        unknown = set(tfvars) - set(config.variables)
        assert not unknown, f"{env}.tfvars sets undeclared variables {unknown}"
        # Variables without a default must be set by every environment.
        for name, var in config.variables.items():
            if "default" not in var:
                assert name in tfvars, f"{env}.tfvars does not set {name}"


def test_references_resolve(config):
    """A cheap stand-in for part of terraform validate: every var., local. and resource
    reference names something declared, and every variable is used."""
    text = re.sub(r"(?m)^\s*#.*$", "", config.text)
    for name in set(re.findall(r"\bvar\.([a-z0-9_]+)", text)):
        assert name in config.variables, f"var.{name} is not declared"
    for name in set(re.findall(r"\blocal\.([a-z0-9_]+)", text)):
        assert name in config.locals, f"local.{name} is not defined"
    for rtype, name in set(re.findall(r"\b(google_[a-z0-9_]+)\.([a-z_][a-z0-9_]*)\b", text)):
        assert (rtype, name) in config.resources, f"{rtype}.{name} is not declared"
    used = set(re.findall(r"\bvar\.([a-z0-9_]+)", text))
    assert set(config.variables) <= used, f"unused variables: {set(config.variables) - used}"
    template = (INFRA / "templates" / "vllm-startup.sh.tftpl").read_text()
    placeholders = set(re.findall(r"\$\{([a-z_]+)\}", template))
    vm = config.one("google_compute_instance", "vllm")
    startup = vm["metadata"]["startup-script"]
    passed = set(re.findall(r"\b([a-z_]+)\s*=", startup.split("tftpl", 1)[1]))
    assert placeholders - {"i"} <= passed, f"template values not passed: {placeholders - passed}"


# Every service account and the only roles it holds, as (scope, role, condition
# prefixes). Scope: project, bucket, secret:<name>, repository, run-service,
# service-account:<name>. Prefixes: the object prefixes a bucket condition admits
# ("<bucket>" when it admits listing the bucket itself); None: unconditional.
SERVICE_ACCOUNTS = {
    "backend": {
        ("bucket", "roles/storage.objectViewer", frozenset({"models/student/"})),
        ("secret:database_url", "roles/secretmanager.secretAccessor", None),
        ("secret:model_api_key", "roles/secretmanager.secretAccessor", None),
    },
    "pipeline": {
        ("bucket", "roles/storage.objectUser", None),
        ("secret:database_url", "roles/secretmanager.secretAccessor", None),
        ("secret:dagster_storage_url", "roles/secretmanager.secretAccessor", None),
        ("secret:teacher_api_key", "roles/secretmanager.secretAccessor", None),
        ("secret:model_api_key", "roles/secretmanager.secretAccessor", None),
        ("repository", "roles/artifactregistry.reader", None),
        ("project", "roles/logging.logWriter", None),
    },
    "training": {
        (
            "bucket",
            "roles/storage.objectViewer",
            frozenset({"<bucket>", "datasets/distillation/", "models/"}),
        ),
        ("bucket", "roles/storage.objectUser", frozenset({"models/student/", "logs/dagster/"})),
        ("secret:database_url", "roles/secretmanager.secretAccessor", None),
        ("repository", "roles/artifactregistry.reader", None),
        ("project", "roles/logging.logWriter", None),
    },
    "inference": {
        ("bucket", "roles/storage.objectViewer", frozenset({"<bucket>", "models/"})),
        ("secret:database_url", "roles/secretmanager.secretAccessor", None),
        ("secret:model_api_key", "roles/secretmanager.secretAccessor", None),
        ("repository", "roles/artifactregistry.reader", None),
        ("project", "roles/logging.logWriter", None),
    },
    "build": {
        ("repository", "roles/artifactregistry.writer", None),
        ("run-service", "roles/run.developer", None),
        ("service-account:backend", "roles/iam.serviceAccountUser", None),
        ("project", "roles/logging.logWriter", None),
    },
}

# The seed's three (§8) and the two more this layout needs: the VM that serves vLLM, and
# Cloud Build, which a user-chosen account runs (no default Cloud Build account).
assert {"backend", "pipeline", "training"} <= set(SERVICE_ACCOUNTS)


def _scope(config: Config, rtype: str, body: dict) -> str:
    if rtype == "google_project_iam_member":
        assert body["project"] == "${var.project_id}"
        return "project"
    if rtype == "google_storage_bucket_iam_member":
        assert _ref(body["bucket"]) == "google_storage_bucket.mlops.name"
        return "bucket"
    if rtype == "google_secret_manager_secret_iam_member":
        m = re.fullmatch(r"google_secret_manager_secret\.([a-z_]+)\.id", _ref(body["secret_id"]))
        assert m, body["secret_id"]
        return f"secret:{m.group(1)}"
    if rtype == "google_artifact_registry_repository_iam_member":
        assert _ref(body["repository"]) == "google_artifact_registry_repository.images.name"
        return "repository"
    if rtype == "google_cloud_run_v2_service_iam_member":
        assert _ref(body["name"]) == "google_cloud_run_v2_service.api.name"
        return "run-service"
    if rtype == "google_service_account_iam_member":
        m = re.fullmatch(
            r"google_service_account\.([a-z_]+)\.name", _ref(body["service_account_id"])
        )
        assert m, body["service_account_id"]
        return f"service-account:{m.group(1)}"
    raise AssertionError(f"unexpected IAM resource type {rtype}")


def _prefixes(config: Config, body: dict) -> frozenset[str] | None:
    if "condition" not in body:
        return None
    expression = _block(body, "condition")["expression"]
    for name, value in config.locals.items():
        expression = expression.replace("${local." + name + "}", str(value))
    expression = expression.replace('\\"', '"')
    bucket_objects = "projects/_/buckets/${var.bucket_prefix}-${var.env}/objects/"
    expression = expression.replace("${local.bucket_name}", "${var.bucket_prefix}-${var.env}")
    found = set(
        re.findall(r'startsWith\("' + re.escape(bucket_objects) + r'([^"]*)"\)', expression)
    )
    assert found or "storage.googleapis.com/Bucket" in expression, expression
    # Nothing but startsWith on this bucket's objects, or the bucket itself, joined by ||.
    rest = re.sub(r'resource\.name\.startsWith\("[^"]*"\)', "", expression)
    rest = rest.replace('resource.type == "storage.googleapis.com/Bucket"', "")
    assert set(rest.replace("||", "").strip()) == set(), f"unexpected condition: {expression}"
    if 'resource.type == "storage.googleapis.com/Bucket"' in expression:
        found.add("<bucket>")
    return frozenset(found)


def test_service_accounts_hold_only_their_roles(config):
    accounts = config.of_type("google_service_account")
    assert set(accounts) == set(SERVICE_ACCOUNTS)
    for name, body in accounts.items():
        assert body["account_id"] == f"fitsense-{name}-${{var.env}}"
        for env in ENVS:  # 6-30 characters, the rule for account ids
            assert 6 <= len(body["account_id"].replace("${var.env}", env)) <= 30
    held: dict[str, set] = {name: set() for name in SERVICE_ACCOUNTS}
    acting: dict[str, set] = {}  # Google account -> Kubernetes accounts that act as it
    for (rtype, rname), body in config.resources.items():
        if not rtype.endswith("_iam_member"):
            continue
        member = body["member"]
        if body["role"] == "roles/iam.workloadIdentityUser":
            # Workload Identity: a Kubernetes service account of the GKE deploy configs may
            # act as one of ours, and only when there is a cluster to have one.
            assert rtype == "google_service_account_iam_member", rname
            assert body["count"] == "${var.gke_workload_identity ? 1 : 0}", rname
            m = re.fullmatch(
                r"serviceAccount:\$\{var\.project_id\}\.svc\.id\.goog\[\$\{local\.([a-z_]+)\}\]",
                member,
            )
            assert m, f"{rname}: member {member!r}"
            target = re.fullmatch(
                r"google_service_account\.([a-z]+)\.name", _ref(body["service_account_id"])
            )
            assert target, body["service_account_id"]
            acting.setdefault(target.group(1), set()).add(config.locals[m.group(1)])
            continue
        if member == "allUsers":
            # Only the API's invoker role is public (the API is the front door).
            assert (rtype, rname) == ("google_cloud_run_v2_service_iam_member", "public_invoker")
            assert body["role"] == "roles/run.invoker"
            continue
        m = re.fullmatch(r"google_service_account\.([a-z]+)\.member", _ref(member))
        assert m, f"{rtype}.{rname}: member {member!r} is not one of our service accounts"
        held[m.group(1)].add((_scope(config, rtype, body), body["role"], _prefixes(config, body)))
    for name, expected in SERVICE_ACCOUNTS.items():
        assert held[name] == expected, f"{name}: holds {held[name]}, expected {expected}"
    assert acting == {
        "pipeline": {"fitsense-dagster/fitsense-dagster"},
        "training": {"fitsense-dagster/fitsense-training"},
        "inference": {"fitsense-serving/fitsense-vllm"},
    }
    # Additive bindings only: nothing that would replace a resource's whole policy.
    authoritative = [t for t, _ in config.resources if t.endswith(("_iam_binding", "_iam_policy"))]
    assert not authoritative
    roles = {role for granted in held.values() for _, role, _ in granted}
    assert not roles & {
        "roles/owner",
        "roles/editor",
        "roles/storage.admin",
        "roles/secretmanager.admin",
        "roles/iam.serviceAccountAdmin",
        "roles/run.admin",
    }


def test_bucket_per_environment_with_the_seed_layout(config):
    buckets = config.of_type("google_storage_bucket")
    assert set(buckets) == {"mlops"}
    bucket = buckets["mlops"]
    assert _ref(bucket["name"]) == "local.bucket_name"
    for env in ENVS:
        assert config.resolve(bucket["name"], env) == f"fitsenseai-mlops-{env}"
    assert bucket["uniform_bucket_level_access"] is True
    assert bucket["public_access_prevention"] == "enforced"
    assert _block(bucket, "versioning")["enabled"] is True
    rules = [(_block(r, "condition"), _block(r, "action")) for r in bucket["lifecycle_rule"]]
    actions = {a["type"] for _, a in rules}
    assert {"Delete", "SetStorageClass", "AbortIncompleteMultipartUpload"} <= actions
    assert any("days_since_noncurrent_time" in c for c, a in rules if a["type"] == "Delete")
    for condition, action in rules:
        if action["type"] != "Delete" or condition.get("with_state") == "ARCHIVED":
            continue
        # A rule that deletes live objects names its prefixes, and never models/.
        prefixes = condition.get("matches_prefix")
        assert prefixes, f"a Delete rule on live objects without a prefix: {condition}"
        assert not any(p.startswith("models") for p in prefixes)
    seed = [
        "datasets/distillation/<run_id>/",
        "teacher_outputs/",
        "reports/",
        "models/student/<model_version>/",
    ]
    for doc in (INFRA / "storage.tf", INFRA / "README.md"):
        text = doc.read_text()
        for prefix in seed:
            assert prefix in text, f"{doc.name} does not document {prefix}"


def test_firewall_admits_only_the_connector_and_the_pipeline_to_vllm(config):
    """Two ingress rules reach the vLLM VM, both on its port only: the connector's range
    (the API) and pipeline_source_ranges (live monitoring's probes from Dagster), the
    second only when that list is not empty. Nothing else has a rule."""
    connector = config.one("google_vpc_access_connector", "api")
    assert connector["ip_cidr_range"] == "${var.connector_cidr}"
    rules = config.of_type("google_compute_firewall")
    assert set(rules) == {"vllm_from_connector", "vllm_from_pipeline"}
    sources = {
        "vllm_from_connector": ["${var.connector_cidr}"],
        "vllm_from_pipeline": "${var.pipeline_source_ranges}",
    }
    for name, rule in rules.items():
        assert rule["direction"] == "INGRESS"
        assert rule["source_ranges"] == sources[name], name
        assert "source_tags" not in rule and "source_service_accounts" not in rule
        assert rule["target_tags"] == ["${local.vllm_tag}"]
        (allow,) = rule["allow"]
        assert allow["protocol"] == "tcp"
        assert allow["ports"] == ["${tostring(var.vllm_port)}"]
        assert "deny" not in rule
    assert "count" not in rules["vllm_from_connector"]
    assert rules["vllm_from_pipeline"]["count"] == (
        "${length(var.pipeline_source_ranges) > 0 ? 1 : 0}"
    )
    vm = config.one("google_compute_instance", "vllm")
    assert vm["tags"] == ["${local.vllm_tag}"]
    assert "0.0.0.0/0" not in config.text
    # The variable accepts private ranges only.
    (validation,) = config.variables["pipeline_source_ranges"]["validation"]
    assert "cidrnetmask" in validation["condition"] and "192\\\\.168" in validation["condition"]
    assert config.default("pipeline_source_ranges") == []
    # Every environment's connector is a private /28 outside its subnet; the pipeline's
    # ranges are private and do not take in the connector's.
    for env in ENVS:
        tfvars = _load(INFRA / "envs" / f"{env}.tfvars")
        cidr = ipaddress.ip_network(tfvars.get("connector_cidr", config.default("connector_cidr")))
        subnet = ipaddress.ip_network(tfvars.get("subnet_cidr", config.default("subnet_cidr")))
        assert cidr.prefixlen == 28 and cidr.is_private and subnet.is_private
        assert not cidr.overlaps(subnet)
        pipeline = [ipaddress.ip_network(r) for r in tfvars["pipeline_source_ranges"]]
        assert pipeline, f"{env}: live monitoring cannot reach the model server"
        for network in pipeline:
            assert network.is_private and network.prefixlen >= 16, (env, network)
            assert not network.overlaps(cidr), (env, network)


def test_gpu_vm_is_private(config):
    vm = config.one("google_compute_instance", "vllm")
    (nic,) = vm["network_interface"]
    assert "access_config" not in nic and "ipv6_access_config" not in nic
    assert _ref(nic["subnetwork"]) == "google_compute_subnetwork.private.id"
    assert _block(config.one("google_compute_subnetwork", "private"), "log_config")
    assert config.one("google_compute_subnetwork", "private")["private_ip_google_access"] is True
    accelerator = _block(vm, "guest_accelerator")
    assert accelerator["type"] == "${var.gpu_type}"
    scheduling = _block(vm, "scheduling")
    assert scheduling["on_host_maintenance"] == "TERMINATE"
    assert "var.vllm_spot" in scheduling["provisioning_model"]
    assert "SPOT" in scheduling["provisioning_model"]
    assert _ref(_block(vm, "service_account")["email"]) == "google_service_account.inference.email"
    assert vm["metadata"]["block-project-ssh-keys"] == "TRUE"
    assert "templates/vllm-startup.sh.tftpl" in vm["metadata"]["startup-script"]
    assert "local.vllm_image" in vm["metadata"]["startup-script"]
    assert "registry" in config.locals["vllm_image"]
    assert not config.of_type("google_compute_router_nat"), "the VM needs no internet egress"


def test_cloud_sql_is_private_with_backups(config):
    instance = config.one("google_sql_database_instance", "main")
    settings = _block(instance, "settings")
    ip = _block(settings, "ip_configuration")
    assert ip["ipv4_enabled"] is False
    assert _ref(ip["private_network"]) == "google_compute_network.main.id"
    assert "authorized_networks" not in ip
    assert ip["ssl_mode"] == "ENCRYPTED_ONLY"
    backups = _block(settings, "backup_configuration")
    assert backups["enabled"] is True and backups["point_in_time_recovery_enabled"] is True
    assert "${google_service_networking_connection.private_services}" in instance["depends_on"]
    # No user or password in Terraform (it would sit in the state).
    assert not config.of_type("google_sql_user")
    assert "root_password" not in instance
    assert {"app", "dagster"} == set(config.of_type("google_sql_database"))


def test_cloud_run_uses_the_connector_and_the_backend_account(config):
    service = config.one("google_cloud_run_v2_service", "api")
    template = _block(service, "template")
    assert _ref(template["service_account"]) == "google_service_account.backend.email"
    vpc = _block(template, "vpc_access")
    assert _ref(vpc["connector"]) == "google_vpc_access_connector.api.id"
    assert vpc["egress"] == "PRIVATE_RANGES_ONLY"
    container = _block(template, "containers")
    assert _ref(container["image"]) == "local.api_image"
    assert "${local.registry}/api:" in config.locals["api_image"]
    assert "-docker.pkg.dev" in config.locals["registry_host"]
    env = {e["name"]: e for e in container["env"]}
    secrets = {
        name: _ref(_block(_block(e, "value_source"), "secret_key_ref")["secret"])
        for name, e in env.items()
        if "value_source" in e
    }
    assert secrets == {
        "FITSENSE_DATABASE_URL": "google_secret_manager_secret.database_url.secret_id",
        "FITSENSE_MODEL_API_KEY": "google_secret_manager_secret.model_api_key.secret_id",
    }
    assert _ref(env["FITSENSE_MODEL_URL"]["value"]) == "local.model_url"
    assert "google_compute_address.vllm.address" in config.locals["model_url"]
    assert env["FITSENSE_ENV"]["value"] == "${var.env}"
    # Log lines link to their request's trace only when the project is named.
    assert env["GOOGLE_CLOUD_PROJECT"]["value"] == "${var.project_id}"
    assert env["FITSENSE_INFERENCE_USD_PER_1K_TOKENS"]["value"] == (
        "${tostring(var.inference_usd_per_1k_tokens)}"
    )
    for name, e in env.items():
        if "value" in e:
            # (..._TOKENS counts tokens; it holds none.)
            assert not re.search(r"KEY|PASSWORD|TOKEN(?!S$)|SECRET|DATABASE_URL", name), name
    # cloudbuild.yaml deploys new images; Terraform must not roll them back.
    (lifecycle,) = service["lifecycle"]
    assert "${template[0].containers[0].image}" in lifecycle["ignore_changes"]


def test_secrets_are_containers_without_values(config):
    secrets = config.of_type("google_secret_manager_secret")
    assert set(secrets) == {
        "database_url",
        "dagster_storage_url",
        "model_api_key",
        "teacher_api_key",
    }
    for name, body in secrets.items():
        assert body["secret_id"] == "${local.name}-" + name.replace("_", "-")
        assert "auto" in _block(body, "replication")
    assert not config.of_type("google_secret_manager_secret_version")
    assert "secret_data" not in config.text
    for name in config.variables:
        # (inference_usd_per_1k_tokens counts tokens; it holds none.)
        assert not re.search(r"password|secret|api_key|token(?!s$)|credential", name), name


def test_registry_and_trigger_match_cloudbuild(config):
    repo = config.one("google_artifact_registry_repository", "images")
    assert repo["format"] == "DOCKER"
    trigger = config.one("google_cloudbuild_trigger", "deploy")
    assert trigger["filename"] == "cloudbuild.yaml"
    assert _ref(trigger["service_account"]) == "google_service_account.build.id"
    build = yaml.safe_load((REPO / "cloudbuild.yaml").read_text())
    declared = set(build["substitutions"])
    assert set(trigger["substitutions"]) <= declared
    assert {"_ENV", "_REGION"} <= set(trigger["substitutions"])
    assert _ref(trigger["substitutions"]["_SERVICE"]) == "google_cloud_run_v2_service.api.name"


def test_cloudbuild_builds_tests_pushes_and_deploys():
    text = (REPO / "cloudbuild.yaml").read_text()
    build = yaml.safe_load(text)
    steps = {s["id"]: s for s in build["steps"]}
    # Every user substitution used is declared (and the images go to Artifact Registry).
    used = set(re.findall(r"\$\{(_[A-Z_]+)\}", text))
    assert used <= set(build["substitutions"]), used - set(build["substitutions"])
    assert re.fullmatch(
        r"\$\{_REGION\}-docker\.pkg\.dev/\$\{PROJECT_ID\}/\$\{_REPOSITORY\}",
        build["substitutions"]["_IMAGES"],
    )
    assert build["options"]["dynamicSubstitutions"] is True
    assert build["options"]["logging"] == "CLOUD_LOGGING_ONLY"
    # Every Dockerfile is built (with its commit), smoke-tested, pushed and listed.
    dockerfiles = sorted(p.name.removesuffix(".Dockerfile") for p in DOCKER.glob("*.Dockerfile"))
    assert {"api", "dagster", "training-gpu", "inference-cpu", "vllm"} <= set(dockerfiles)
    assert build["substitutions"]["_GIT_COMMIT"] == "${COMMIT_SHA}"
    builds = sorted(s.removeprefix("build-") for s in steps if s.startswith("build-"))
    assert builds == dockerfiles
    smoke, push = steps["smoke"]["args"][-1], steps["push"]["args"][-1]
    assert sorted(steps["smoke"]["waitFor"]) == sorted(f"build-{i}" for i in dockerfiles)
    for image in dockerfiles:
        step = steps[f"build-{image}"]
        assert step["waitFor"] == ["-"]
        assert f"--file=docker/{image}.Dockerfile" in step["args"]
        assert "--build-arg=GIT_COMMIT=${_GIT_COMMIT}" in step["args"]
        assert f"--tag=${{_IMAGES}}/{image}:${{_TAG}}" in step["args"]
        assert f"--tag=${{_IMAGES}}/{image}:${{_ENV}}" in step["args"]
        assert f"${{_IMAGES}}/{image}:${{_TAG}}" in build["images"]
        assert f"${{_IMAGES}}/{image}:${{_TAG}}" in smoke
    loops = re.findall(r"for image in ([a-z -]+); do", smoke + push)
    assert [sorted(loop.split()) for loop in loops] == [dockerfiles, dockerfiles]
    assert "org.opencontainers.image.revision" in smoke and '= "${_GIT_COMMIT}"' in smoke
    # training-gpu's torch is a CUDA build (import only: there is no GPU in Cloud Build).
    assert "torch.version.cuda" in smoke
    assert "make lint" in steps["test"]["args"][-1]
    assert "make test" in steps["test"]["args"][-1]
    assert set(steps["push"]["waitFor"]) == {"test", "smoke"}
    assert steps["deploy-api"]["waitFor"] == ["push"]
    deploy = steps["deploy-api"]["args"]
    assert deploy[:3] == ["run", "services", "update"] and "${_SERVICE}" in deploy
    assert "--image=${_IMAGES}/api:${_TAG}" in deploy
    # No secret in the build: none referenced, none inline.
    assert "secretEnv" not in text and "availableSecrets" not in text
    env = [e for s in build["steps"] for e in s.get("env", [])]
    assert not [e for e in env if re.search(r"KEY|PASSWORD|TOKEN|SECRET", e.split("=")[0])]


def test_cloudbuild_dockerfiles_exist():
    build = yaml.safe_load((REPO / "cloudbuild.yaml").read_text())
    for step in build["steps"]:
        for arg in step.get("args", []):
            if isinstance(arg, str) and arg.startswith("--file="):
                path = REPO / arg.removeprefix("--file=")
                assert path.is_file(), f"cloudbuild.yaml builds {path}, which does not exist"


# --- terraform fmt by hand -----------------------------------------------------------


def _code_brackets(line: str) -> tuple[str, int]:
    """The brackets of ``line`` outside strings, interpolations and comments, in order,
    and how many of them lead the line."""
    out = []
    stack = ["code"]
    i = 0
    while i < len(line):
        c, mode = line[i], stack[-1]
        if mode == "str":
            if c == "\\":
                i += 1
            elif line.startswith(("${", "%{"), i):
                stack.append("interp")
                i += 1
            elif c == '"':
                stack.pop()
        else:  # code or interpolation
            if c == '"':
                stack.append("str")
            elif mode == "code" and (c == "#" or line.startswith("//", i)):
                break
            elif mode == "code" and c in "{[()]}":
                out.append(c)
            elif mode != "code" and c == "{":
                stack.append("interp")
            elif mode != "code" and c == "}":
                stack.pop()
        i += 1
    brackets = "".join(out)
    stripped = line.strip()
    leading = len(stripped) - len(stripped.lstrip("}])"))
    return brackets, leading


def fmt_problems(text: str) -> list[str]:
    """What ``terraform fmt`` would change: tabs, two-space indentation (one level per
    line that leaves brackets open, however many; comments too), ``=`` one space after
    the longest name in a run of one-line attributes (a multi-line value, a blank or a
    comment line ends a run), the final newline; and, stricter than fmt, no trailing
    spaces anywhere. Compared with ``terraform fmt -check`` on single-line edits of
    every file here (extra or missing spaces around ``=``, shifted lines, comments in
    blank lines), the two agreed on every edit but trailing spaces in comments."""
    problems = []
    if text and not text.endswith("\n"):
        problems.append("no newline at the end")
    levels: list[int] = []  # open brackets per indentation level
    run: list[tuple[int, int, int]] = []  # (line, column of "=", end of the name)
    run_indent = -1

    def close_run() -> None:
        # Every "=" one space after the run's longest name.
        column = max((key_end for _, _, key_end in run), default=0) + 1
        if any(col != column for _, col, _ in run):
            problems.append(f"lines {run[0][0]}-{run[-1][0]}: '=' not aligned")
        run.clear()

    def close(count: int, stack: list[int]) -> None:
        while count and stack:
            taken = min(count, stack[-1])
            stack[-1] -= taken
            count -= taken
            if stack[-1] == 0:
                stack.pop()

    heredoc = None
    for number, line in enumerate(text.split("\n"), 1):
        if heredoc:
            if line.strip() == heredoc:
                heredoc = None
            continue
        if "\t" in line:
            problems.append(f"line {number}: tab")
        if line != line.rstrip():
            problems.append(f"line {number}: trailing whitespace")
        stripped = line.strip()
        brackets, leading = _code_brackets(line)
        after_leading = list(levels)
        close(leading, after_leading)
        expected = len(after_leading) * 2
        indent = len(line) - len(line.lstrip(" "))
        if stripped and indent != expected:
            problems.append(f"line {number}: indented {indent}, expected {expected}")
        opens = sum(brackets.count(c) for c in "{[(")
        net = opens - (len(brackets) - opens)
        m = re.match(r'([A-Za-z0-9_"-]+)(\s*)=(?!=)', stripped)
        one_line = bool(m) and net == 0
        if m and not one_line and m.group(2) != " ":
            problems.append(f"line {number}: not one space before '='")
        if not (one_line and indent == run_indent):
            close_run()
            run_indent = indent if one_line else -1
        if one_line:
            key_end = indent + len(m.group(1))
            run.append((number, key_end + len(m.group(2)), key_end))
        if net > 0:
            levels.append(net)
        elif net < 0:
            close(-net, levels)
        h = re.search(r"<<-?([A-Z]+)\s*$", stripped)
        if h:
            heredoc = h.group(1)
    close_run()
    return problems


def test_layout_as_terraform_fmt_lays_it_out():
    paths = [*_tf_files(), *sorted((INFRA / "envs").glob("*.tfvars"))]
    problems = {p.name: fmt_problems(p.read_text()) for p in paths}
    assert not {k: v for k, v in problems.items() if v}


def test_fmt_check_by_hand_finds_what_fmt_would_change():
    good = 'resource "a" "b" {\n  name  = "x"\n  count = 1\n\n  block {\n    x = 1\n  }\n}\n'
    assert fmt_problems(good) == []
    assert fmt_problems(good.replace("name  =", "name =")), "misaligned '='"
    assert fmt_problems(good.replace("    x = 1", "   x = 1")), "bad indentation"
    assert fmt_problems(good.replace("  count", "\tcount")), "tab"
    assert fmt_problems(good.rstrip("\n")), "no final newline"


# --- (3) the repository holds no credential, project id or public address --------------

PRIVATE_KEY = re.compile(r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----")
GOOGLE_API_KEY = re.compile(r"AIza[0-9A-Za-z_\-]{35}")
OAUTH_TOKEN = re.compile(r"\bya29\.[0-9A-Za-z_\-]{20,}")
SA_KEY_JSON = re.compile(r'"private_key_id"\s*:\s*"[0-9a-f]{16,}"')
OTHER_TOKENS = re.compile(
    r"\b(?:AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{36}|xox[baprs]-[0-9A-Za-z-]{10,})\b"
)
IPV4 = re.compile(r"(?<![\w.=/-])(\d{1,3}(?:\.\d{1,3}){3})(?![\w.])")
# Places a project id or number goes, and what may stand there instead of a real one.
PROJECT_SLOTS = (
    re.compile(r"\bprojects/([^/\s\"'`]+)/"),
    re.compile(r"@([a-z][a-z0-9-]{4,28}[a-z0-9])\.iam\.gserviceaccount\.com"),
    re.compile(r"-docker\.pkg\.dev/([^/\s\"'`]+)/"),
    re.compile(r"\bgcr\.io/([^/\s\"'`]+)/"),
    re.compile(
        r"""(?ix)\b(?:project|project_id|project-id|projectid|google_cloud_project|
        cloudsdk_core_project|gcp_project|gcloud_project)\b["']?\s*[:=]\s*["']?([a-z][a-z0-9:._-]*)"""
    ),
)
PROJECT_NUMBER_SLOTS = re.compile(
    r"\b\d{6,}-compute@developer\.gserviceaccount\.com|service-\d{6,}@|projects/\d{6,}\b"
)
# A project id: 6-30 lowercase letters, digits and hyphens (a domain-scoped one has a
# "domain:" in front).
PROJECT_ID = re.compile(r"(?:[a-z0-9.-]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]")
# Google's own public image projects.
PUBLIC_PROJECTS = {"cloud-builders", "cloudrun", "google.com", "google-containers", "_"}


def _placeholder(value: str) -> bool:
    return (
        value in PUBLIC_PROJECTS
        or any(word in value for word in ("your-", "example", "placeholder"))
        or value.startswith(("$", "{", "<", "var.", "local.", "each."))
    )


def scan(text: str) -> list[str]:
    """What in ``text`` looks like a credential, a real project id or a public IPv4
    address (outside the documentation ranges, RFC 5737)."""
    found = []
    for name, pattern in (
        ("private key", PRIVATE_KEY),
        ("Google API key", GOOGLE_API_KEY),
        ("OAuth token", OAUTH_TOKEN),
        ("service account key", SA_KEY_JSON),
        ("access token", OTHER_TOKENS),
        ("project number", PROJECT_NUMBER_SLOTS),
    ):
        found += [f"{name}: {m.group(0)[:12]}…" for m in pattern.finditer(text)]
    for m in IPV4.finditer(text):
        try:
            address = ipaddress.ip_address(m.group(1))
        except ValueError:
            continue
        if address.is_global:
            found.append(f"public IPv4 address {address}")
    for pattern in PROJECT_SLOTS:
        for m in pattern.finditer(text):
            value = m.group(1)
            if PROJECT_ID.fullmatch(value) and not _placeholder(value):
                found.append(f"project id {value!r} in {m.group(0)!r}")
    return found


def _repository_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [REPO / name for name in listed.split("\0") if name]


def test_repository_has_no_credentials_project_ids_or_public_addresses():
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout: the files to scan are the ones git lists")
    problems = {}
    for path in _repository_files():
        if not path.is_file() or path.stat().st_size > 5_000_000:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary
        if path.name == "requirements.lock":
            text = re.sub(r"==\S+", "", text)  # four-part versions look like addresses
        found = scan(text)
        if found:
            problems[str(path.relative_to(REPO))] = found
    assert not problems


def test_scan_finds_what_it_looks_for():
    # Built at run time, so that this file holds none of them.
    public = ".".join(["8", "8", "4", "4"])
    key = "AI" + "za" + "x" * 35
    pem = "-----BEGIN " + "RSA PRIVATE KEY-----"
    assert scan(f"server = {public}") and scan(f'key: "{key}"') and scan(pem)
    project = "-".join(["acme", "prod", "4821"])
    assert scan(f'project_id = "{project}"')
    assert scan(f"us-east4-docker.pkg.dev/{project}/fitsense/api:1")
    assert scan(f"runner@{project}.iam.gserviceaccount.com")
    assert scan("9" * 12 + "-compute@developer.gserviceaccount.com")
    # Placeholders, private and documentation addresses, and references are fine.
    assert not scan('project_id = "your-gcp-project-id"')
    assert not scan("connector 10.8.0.0/28, docs 192.0.2.10 and 203.0.113.7, 127.0.0.1")
    assert not scan("${_REGION}-docker.pkg.dev/${PROJECT_ID}/${_REPOSITORY}/api")
    assert not scan('project = var.project_id\nexpression = "projects/_/buckets/b"')
    assert not scan("gcr.io/cloud-builders/docker gcr.io/google.com/cloudsdktool/cloud-sdk")


# --- (4) infra/ against docker/, deploy/, cloudbuild.yaml and the code ------------------
#
# The deploy configs (deploy/) are written for one environment, prod: their secret ids,
# accounts, repository and bucket carry it. Each workload below runs as one service
# account and names the secrets it reads; infra/ must agree on every name, and on who
# may read what.

DEPLOY_ENV = "prod"
VALUES = DEPLOY / "dagster" / "gke" / "values.yaml"
VLLM_K8S = DEPLOY / "k8s" / "vllm.yaml"
VM_ENV_FILE = DEPLOY / "dagster" / "vm" / "dagster.env"
TRAINING_ACCOUNT = DEPLOY / "dagster" / "gke" / "training-serviceaccount.yaml"
VM_UNITS = sorted((DEPLOY / "dagster" / "vm").glob("*.service"))
# Which workload each deploy config belongs to (a new config must be placed here).
DEPLOY_WORKLOADS = {
    "dagster/vm/": "dagster-vm",
    "dagster/gke/training-serviceaccount.yaml": "training-gke",
    "dagster/gke/values.yaml": "dagster-gke",
    "dagster/gke/run_config.yaml": "dagster-gke",
    "k8s/vllm.yaml": "vllm-gke",
}
# A secret named on a command line (gcloud … --secret=ID) or as a Secret Manager
# reference (sm://ID, sm://ID/versions/V, sm://projects/P/secrets/ID/versions/V).
SECRET_REFERENCE = re.compile(
    r"(?:--secret=|\bsm://(?:projects/[^/\s]+/secrets/)?)([A-Za-z0-9_-]+)"
)
# Granted, and named by no deploy config: the training account may read the database URL
# itself (a training workload resolving sm:// references). On GKE the training step runs
# as it (deploy/dagster/gke/training-serviceaccount.yaml) but gets its settings, as every
# step does, from the fitsense-pipeline Kubernetes Secret.
UNWIRED_GRANTS = {"training": {"database_url"}}
# An image in Artifact Registry, with or without its tag (Helm values split them).
REGISTRY_IMAGE = re.compile(
    r"\b([a-z0-9-]+)-docker\.pkg\.dev/your-gcp-project-id/([a-z0-9-]+)/([a-z0-9-]+)\b"
)


def _values() -> dict:
    return yaml.safe_load(VALUES.read_text())


def _vllm_k8s() -> dict[str, dict]:
    return {d["kind"]: d for d in yaml.safe_load_all(VLLM_K8S.read_text()) if d}


def _env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as systemd's EnvironmentFile reads them (no quoting used here)."""
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep and re.fullmatch(r"[A-Z_][A-Z0-9_]*", key), f"{path.name}: {line!r}"
            assert key not in values, f"{path.name}: {key} twice"
            values[key] = value
    return values


def _user_deployment_env() -> dict[str, str]:
    (deployment,) = _values()["dagster-user-deployments"]["deployments"]
    return {e["name"]: e["value"] for e in deployment["env"]}


def _vllm_container() -> dict:
    (container,) = _vllm_k8s()["Deployment"]["spec"]["template"]["spec"]["containers"]
    return container


def _account_named(config: Config, email: str) -> str:
    """The infra account (backend, pipeline, …) a deploy config's email names."""
    m = re.fullmatch(r"([a-z0-9-]+)@your-gcp-project-id\.iam\.gserviceaccount\.com", email)
    assert m, f"{email!r} is not a service account of the placeholder project"
    ids = {
        config.resolve(body["account_id"], DEPLOY_ENV): name
        for name, body in config.of_type("google_service_account").items()
    }
    assert m.group(1) in ids, f"{email}: infra/iam.tf has no account {m.group(1)}"
    return ids[m.group(1)]


def _secret_names(config: Config, env: str) -> dict[str, str]:
    """Secret id in ``env`` -> the google_secret_manager_secret that creates it."""
    return {
        config.resolve(body["secret_id"], env): name
        for name, body in config.of_type("google_secret_manager_secret").items()
    }


def _deploy_config_files() -> list[Path]:
    """The deploy configs (the README is prose about them, not one of them)."""
    return sorted(
        p
        for p in DEPLOY.rglob("*")
        if p.is_file() and p.suffix != ".md" and "__pycache__" not in p.parts
    )


def _workloads(config: Config) -> dict[str, tuple[str, set[str]]]:
    """Every workload: (the account it runs as, the secrets it reads, by resource name)."""
    # The API on Cloud Run: its secret_key_ref env.
    template = _block(config.one("google_cloud_run_v2_service", "api"), "template")
    api_account = re.fullmatch(
        r"google_service_account\.([a-z]+)\.email", _ref(template["service_account"])
    ).group(1)
    api_secrets = {
        re.fullmatch(
            r"google_secret_manager_secret\.([a-z_]+)\.secret_id",
            _ref(_block(_block(e, "value_source"), "secret_key_ref")["secret"]),
        ).group(1)
        for e in _block(template, "containers")["env"]
        if "value_source" in e
    }
    # The vLLM VM: the secrets its startup script reads.
    vm = config.one("google_compute_instance", "vllm")
    vm_account = re.fullmatch(
        r"google_service_account\.([a-z]+)\.email", _ref(_block(vm, "service_account")["email"])
    ).group(1)
    vm_secrets = set(
        re.findall(
            r"google_secret_manager_secret\.([a-z_]+)\.secret_id", vm["metadata"]["startup-script"]
        )
    )
    workloads = {
        "api": (api_account, api_secrets),
        "vllm-vm": (vm_account, vm_secrets),
    }
    # The deploy configs: the account from the config itself, the secrets every file of
    # the workload names.
    vm_env = VM_ENV_FILE.read_text()
    (vm_sa,) = re.findall(r"--service-account=(\S+)", vm_env)
    training_ksa = yaml.safe_load(TRAINING_ACCOUNT.read_text())
    accounts = {
        "dagster-vm": _account_named(config, vm_sa),
        "dagster-gke": _account_named(
            config, _values()["serviceAccount"]["annotations"]["iam.gke.io/gcp-service-account"]
        ),
        "training-gke": _account_named(
            config, training_ksa["metadata"]["annotations"]["iam.gke.io/gcp-service-account"]
        ),
        "vllm-gke": _account_named(
            config,
            _vllm_k8s()["ServiceAccount"]["metadata"]["annotations"][
                "iam.gke.io/gcp-service-account"
            ],
        ),
    }
    ids = _secret_names(config, DEPLOY_ENV)
    named: dict[str, set[str]] = {name: set() for name in accounts}
    for path in _deploy_config_files():
        relative = path.relative_to(DEPLOY).as_posix()
        owners = [w for prefix, w in DEPLOY_WORKLOADS.items() if relative.startswith(prefix)]
        assert len(owners) == 1, f"deploy/{relative} belongs to no workload in DEPLOY_WORKLOADS"
        for secret_id in SECRET_REFERENCE.findall(path.read_text()):
            assert secret_id in ids, (
                f"deploy/{relative} names the secret {secret_id!r}, which infra/secrets.tf "
                f"does not create (its {DEPLOY_ENV} ids: {sorted(ids)})"
            )
            named[owners[0]].add(ids[secret_id])
    for name, account in accounts.items():
        workloads[name] = (account, named[name])
    return workloads


def _secret_readers(config: Config) -> dict[str, set[str]]:
    readers: dict[str, set[str]] = {
        name: set() for name in config.of_type("google_secret_manager_secret")
    }
    for body in config.of_type("google_secret_manager_secret_iam_member").values():
        assert body["role"] == "roles/secretmanager.secretAccessor"
        secret = re.fullmatch(
            r"google_secret_manager_secret\.([a-z_]+)\.id", _ref(body["secret_id"])
        ).group(1)
        account = re.fullmatch(r"google_service_account\.([a-z]+)\.member", _ref(body["member"]))
        readers[secret].add(account.group(1))
    return readers


def test_every_secret_a_workload_names_exists_and_only_its_workloads_read_it(config):
    workloads = _workloads(config)
    # What each workload reads, as the configs name it.
    expected = {
        "api": ("backend", {"database_url", "model_api_key"}),
        "vllm-vm": ("inference", {"database_url", "model_api_key"}),
        "vllm-gke": ("inference", {"database_url", "model_api_key"}),
        "dagster-vm": (
            "pipeline",
            {"dagster_storage_url", "database_url", "teacher_api_key", "model_api_key"},
        ),
        "dagster-gke": (
            "pipeline",
            {"dagster_storage_url", "database_url", "teacher_api_key", "model_api_key"},
        ),
        "training-gke": ("training", set()),
    }
    assert workloads == expected
    # Each secret is readable by exactly the accounts of the workloads that name it.
    needed: dict[str, set[str]] = {}
    for account, secrets in workloads.values():
        for secret in secrets:
            needed.setdefault(secret, set()).add(account)
    for account, secrets in UNWIRED_GRANTS.items():
        for secret in secrets:
            needed.setdefault(secret, set()).add(account)
    readers = _secret_readers(config)
    assert set(needed) == set(readers), "a secret that no workload reads"
    for secret, accounts in readers.items():
        assert accounts == needed[secret], (
            f"{secret}: readable by {accounts}, needed by {needed[secret]}"
        )
    assert readers["dagster_storage_url"] == {"pipeline"}
    # infra/README.md says how to add a value to every secret, and only to these.
    added = set(re.findall(r"gcloud secrets versions add (\S+)", (INFRA / "README.md").read_text()))
    assert added == set(_secret_names(config, "dev")), added
    # Secrets on the Dagster VM are references, never values, and every secret setting
    # the code knows is one of them.
    from fitsense_core.secrets import SECRET_SETTINGS

    vm_env = _env_file(VM_ENV_FILE)
    for setting in SECRET_SETTINGS:
        assert vm_env[setting].startswith("sm://"), (
            f"dagster.env: {setting} is not an sm:// reference"
        )
    # On GKE the pipeline's secrets reach the pods from the Kubernetes Secret the values
    # name, which holds the keys the header's command puts in it.
    (deployment,) = _values()["dagster-user-deployments"]["deployments"]
    header = VALUES.read_text().split("\nglobal:", 1)[0]
    for setting in ("FITSENSE_DATABASE_URL", "FITSENSE_TEACHER_API_KEY", "FITSENSE_MODEL_API_KEY"):
        assert f"--from-file={setting}=" in header, setting
        assert setting not in _user_deployment_env()
    assert [s["name"] for s in deployment["envSecrets"]] == ["fitsense-pipeline"]


def test_the_model_port_is_one_port_everywhere(config):
    """vLLM listens where the API's FITSENSE_MODEL_URL points, on the GPU VM and on GKE:
    the code's default port (fitsense_core.inference.endpoint.DEFAULT_MODEL_URL, fitsense serve's
    --port default), the images' EXPOSE and health checks, Terraform's vllm_port (model
    URL, firewall rules, the startup script), deploy/k8s/vllm.yaml, and the Dagster
    workloads' FITSENSE_MODEL_URL (live monitoring)."""
    import inspect
    from urllib.parse import urlsplit

    from fitsense_core.inference.endpoint import DEFAULT_MODEL_URL
    from fitsense_serving.vllm import vllm_command

    port = urlsplit(DEFAULT_MODEL_URL).port
    assert port == inspect.signature(vllm_command).parameters["port"].default
    # Terraform: the variable, the URL Cloud Run gets, the firewall rules, the VM.
    assert config.default("vllm_port") == port
    for env in ENVS:
        assert "vllm_port" not in _load(INFRA / "envs" / f"{env}.tfvars"), env
    assert config.locals["model_url"] == (
        "http://${google_compute_address.vllm.address}:${var.vllm_port}/v1"
    )
    for rule in config.of_type("google_compute_firewall").values():
        assert rule["allow"][0]["ports"] == ["${tostring(var.vllm_port)}"]
    startup = config.one("google_compute_instance", "vllm")["metadata"]["startup-script"]
    assert re.search(r"\bport\s*=\s*var\.vllm_port\b", startup)
    template = (INFRA / "templates" / "vllm-startup.sh.tftpl").read_text()
    assert 'PORT="${port}"' in template
    for use in ('--publish "$PORT:$PORT"', '"$IMAGE" --port "$PORT"', "http://127.0.0.1:%s/v1"):
        assert use in template, use
    # The images.
    for name in ("vllm", "inference-cpu"):
        text = (DOCKER / f"{name}.Dockerfile").read_text()
        assert re.findall(r"(?m)^EXPOSE (.+)$", text) == [str(port)], name
        assert f"'http://127.0.0.1:{port}/v1')).port or {port};" in text, name
    # GKE: the container's --port, its containerPort and the Service's port.
    container = _vllm_container()
    assert container["args"] == ["--port", str(port)]
    assert [p["containerPort"] for p in container["ports"]] == [port]
    assert [p["port"] for p in _vllm_k8s()["Service"]["spec"]["ports"]] == [port]
    # The Dagster workloads' probes.
    for where, url in (
        ("dagster.env", _env_file(VM_ENV_FILE)["FITSENSE_MODEL_URL"]),
        ("values.yaml", _user_deployment_env()["FITSENSE_MODEL_URL"]),
    ):
        assert urlsplit(url).port == port and url.endswith("/v1"), where
    # What the docs say, where they give the port.
    assert f":{port} /v1" in (INFRA / "README.md").read_text()
    for path in (VLLM_K8S, DOCKER / "README.md", INFRA / "README.md", INFRA / "variables.tf"):
        assert not re.search(r":8000\b|\b8000/v1|port.{0,20}\b8000\b", path.read_text()), path


def test_every_workload_names_its_environment(config):
    """FITSENSE_ENV is set on every workload to the environment its names carry; the
    images set none (the code defaults to local); the inference cost estimate reaches the
    API and the Dagster workloads from the environment's tfvars."""
    service = config.one("google_cloud_run_v2_service", "api")
    env = {e["name"]: e for e in _block(_block(service, "template"), "containers")["env"]}
    assert env["FITSENSE_ENV"]["value"] == "${var.env}"
    startup = config.one("google_compute_instance", "vllm")["metadata"]["startup-script"]
    assert re.search(r"\benv\s*=\s*var\.env\b", startup)
    template = (INFRA / "templates" / "vllm-startup.sh.tftpl").read_text()
    assert "printf 'FITSENSE_ENV=%s\\n' \"${env}\"" in template
    deploy_envs = {
        "dagster VM (dagster.env)": _env_file(VM_ENV_FILE),
        "dagster GKE (values.yaml)": _user_deployment_env(),
        "vLLM GKE (vllm.yaml)": {e["name"]: e.get("value") for e in _vllm_container()["env"]},
    }
    for where, values in deploy_envs.items():
        assert values.get("FITSENSE_ENV") == DEPLOY_ENV, where
    # The Dagster VM's units read that file.
    for unit in VM_UNITS:
        assert "EnvironmentFile=/etc/fitsense/dagster.env" in unit.read_text(), unit.name
    assert "install as /etc/fitsense/dagster.env" in VM_ENV_FILE.read_text()
    # Every name in the deploy configs carries that same environment.
    for path in _deploy_config_files():
        text = path.read_text()
        for pattern in (
            r"fitsenseai-mlops-([a-z]+)",
            r"pkg\.dev/your-gcp-project-id/fitsense-([a-z]+)/",
            r"fitsense-[a-z]+-([a-z]+)@",
            r"\bfitsense-(dev|stage|prod)-",
        ):
            assert set(re.findall(pattern, text)) <= {DEPLOY_ENV}, (path, pattern)
    # The images say nothing about it.
    for dockerfile in DOCKER.glob("*.Dockerfile"):
        assert "FITSENSE_ENV" not in dockerfile.read_text(), dockerfile.name
    # The cost estimate: a variable, one value per environment, the same in the configs.
    variable = config.variables["inference_usd_per_1k_tokens"]
    assert variable["type"] == "number" and "hourly price" in variable["description"]
    assert env["FITSENSE_INFERENCE_USD_PER_1K_TOKENS"]["value"] == (
        "${tostring(var.inference_usd_per_1k_tokens)}"
    )
    for tfvars_env in ENVS:
        value = _load(INFRA / "envs" / f"{tfvars_env}.tfvars")["inference_usd_per_1k_tokens"]
        assert 0 < value < 1, tfvars_env
    prod = _load(INFRA / "envs" / f"{DEPLOY_ENV}.tfvars")["inference_usd_per_1k_tokens"]
    for where in ("dagster VM (dagster.env)", "dagster GKE (values.yaml)"):
        assert float(deploy_envs[where]["FITSENSE_INFERENCE_USD_PER_1K_TOKENS"]) == prod, where


def test_deploy_configs_name_infras_accounts_images_and_kubernetes_accounts(config):
    values, vllm = _values(), _vllm_k8s()
    # The Kubernetes accounts Terraform lets act as Google ones are the configs' own.
    install = re.search(r"--namespace (\S+)", VALUES.read_text()).group(1)
    assert values["serviceAccount"]["name"] == values["global"]["serviceAccountName"]
    assert config.locals["gke_dagster_ksa"] == f"{install}/{values['serviceAccount']['name']}"
    account = vllm["ServiceAccount"]["metadata"]
    assert config.locals["gke_vllm_ksa"] == f"{account['namespace']}/{account['name']}"
    training = yaml.safe_load(TRAINING_ACCOUNT.read_text())["metadata"]
    assert config.locals["gke_training_ksa"] == f"{training['namespace']}/{training['name']}"
    assert training["namespace"] == install
    assert _user_deployment_env()["FITSENSE_GPU_STEP_SERVICE_ACCOUNT"] == training["name"]
    pod = vllm["Deployment"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account["name"]
    # The replicas' internal load balancer admits exactly whom the GPU VM's firewall
    # admits in that environment: the connector, then the pipeline's ranges.
    tfvars = _load(INFRA / "envs" / f"{DEPLOY_ENV}.tfvars")
    assert vllm["Service"]["spec"]["loadBalancerSourceRanges"] == [
        tfvars["connector_cidr"],
        *tfvars["pipeline_source_ranges"],
    ]
    # Every image a deploy config runs is one cloudbuild.yaml builds into infra's
    # repository, in infra's region.
    built = {p.name.removesuffix(".Dockerfile") for p in DOCKER.glob("*.Dockerfile")}
    repository = config.resolve(
        config.one("google_artifact_registry_repository", "images")["repository_id"], DEPLOY_ENV
    )
    found = []
    for path in _deploy_config_files():
        for region, repo, image in REGISTRY_IMAGE.findall(path.read_text()):
            found.append(image)
            assert (region, repo) == (config.default("region"), repository), path
            assert image in built, f"{path}: no Dockerfile builds {image}"
    assert {"dagster", "vllm", "training-gpu"} <= set(found)
    # The GPU step's image is training-gpu of the same build as the code location's.
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    gpu_image = _user_deployment_env()["FITSENSE_GPU_STEP_IMAGE"]
    code = deployment["image"]
    assert gpu_image == code["repository"].rsplit("/", 1)[0] + "/training-gpu:" + code["tag"]


def test_dagster_vm_resolves_its_secret_references_before_dagster_starts(tmp_path):
    """The units run Dagster through with_secrets.py, which resolves the sm:// and _FILE
    settings (Dagster itself reads FITSENSE_DAGSTER_STORAGE_URL from the environment) and
    execs the command with the values, printing where each came from but never a value."""
    import json
    import sys

    wrapper = "/opt/fitsense/deploy/dagster/vm/with_secrets.py"
    for unit in VM_UNITS:
        (start,) = re.findall(r"(?m)^ExecStart=(.+)$", unit.read_text())
        argv = start.split()
        assert argv[:2] == ["/opt/fitsense/.venv/bin/python", wrapper], unit.name
        assert argv[2].startswith("/opt/fitsense/.venv/bin/dagster-"), unit.name
        assert (REPO / wrapper.removeprefix("/opt/fitsense/")).is_file()
    url = "postgresql://dagster:" + "s3cr3t-" + "value" + "@db.invalid:5432/fitsense_dagster"
    secret_file = tmp_path / "storage-url"
    secret_file.write_text(url + "\n")
    show = "import json, os; print(json.dumps({k: v for k, v in os.environ.items() if k.startswith('FITSENSE_')}))"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("FITSENSE_", "GOOGLE_"))}
    script = str(DEPLOY / "dagster" / "vm" / "with_secrets.py")
    done = subprocess.run(
        [sys.executable, script, sys.executable, "-c", show],
        env={**base, "FITSENSE_DAGSTER_STORAGE_URL_FILE": str(secret_file)},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen == {"FITSENSE_DAGSTER_STORAGE_URL": url}
    assert f"from file {secret_file}" in done.stderr and "s3cr3t" not in done.stderr
    # A reference that cannot be resolved stops the unit before Dagster starts.
    failed = subprocess.run(
        [sys.executable, script, sys.executable, "-c", "print('started')"],
        env={**base, "FITSENSE_DATABASE_URL": "sm://fitsense-prod-database-url"},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert failed.returncode == 78 and "started" not in failed.stdout
    assert "GOOGLE_CLOUD_PROJECT" in failed.stderr


def test_readme_layout_lists_the_deployment_folders():
    readme = (REPO / "README.md").read_text()
    layout = readme.split("## Layout", 1)[1]
    for folder in ("docker/", "infra/", "deploy/"):
        assert re.search(rf"(?m)^\| `{folder}`", layout), f"README.md's layout has no {folder} row"


# Host addresses in infra/, docker/ and cloudbuild.yaml: none. Private network blocks
# (the subnets, the connector's /28) and bind addresses are not addresses of anything.
ADDRESS = re.compile(r"(?<![\w.])(\d{1,3}(?:\.\d{1,3}){3})(/\d{1,2})?(?![\w.])")


def addresses(text: str) -> list[str]:
    """Every IPv4 address in ``text`` that names a host: not 127.0.0.1 or 0.0.0.0 alone,
    not a private network block of /28 or wider."""
    found = []
    for m in ADDRESS.finditer(text):
        ip, prefix = m.group(1), m.group(2)
        if not prefix and ip in ("127.0.0.1", "0.0.0.0"):
            continue
        try:
            network = ipaddress.ip_network(ip + (prefix or "/32"))
        except ValueError:
            found.append(m.group(0))  # host bits set, or not an address at all
            continue
        if not (network.is_private and network.prefixlen <= 28):
            found.append(m.group(0))
    return found


def test_infra_docker_and_cloudbuild_name_no_host_address():
    paths = [REPO / "cloudbuild.yaml", REPO / ".dockerignore", REPO / ".hadolint.yaml"]
    for folder in (INFRA, DOCKER):
        paths += [
            p
            for p in folder.rglob("*")
            if p.is_file() and ".terraform" not in p.parts and "__pycache__" not in p.parts
        ]
    problems = {str(p.relative_to(REPO)): addresses(p.read_text()) for p in paths}
    assert not {k: v for k, v in problems.items() if v}
    # The check itself.
    host = ".".join(["10", "10", "0", "7"])
    assert addresses(f"network_ip = {host}") == [host]
    assert addresses(f"{host}/32") and addresses("10.10.0.1/24")
    assert not addresses("10.8.0.16/28 10.10.0.0/24 127.0.0.1 0.0.0.0")
