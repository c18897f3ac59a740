"""Deployment environments and secret settings: FITSENSE_ENV rules, per-environment
buckets, secrets from the environment, mounted files and Secret Manager, never printed.

Secret Manager is reached through Google's real client over gRPC; the server on the other
end is a fake (named as such: ``FakeSecretManager``), since the service cannot run here.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest

from fitsense_core.errors import ConfigurationError
from fitsense_core.secrets import (
    load_secrets,
    redact,
    remember_secret,
    resolve_secret,
    secret_manager_accessor,
    secret_version_name,
)
from fitsense_core.settings import Settings, deployment_environment, environment_bucket

DB_URL = "postgresql://fitsense:pa55-w0rd-xyz@db.internal:5432/fitsense"


class FakeSecretManager:
    """A stand-in for Secret Manager's AccessSecretVersion RPC (a fake: the real service
    cannot run here). Google's client talks to it over a real gRPC channel."""

    SERVICE = "google.cloud.secretmanager.v1.SecretManagerService"

    def __init__(self, secrets: dict[str, bytes]) -> None:
        from google.cloud.secretmanager_v1.types import (
            AccessSecretVersionRequest,
            AccessSecretVersionResponse,
        )

        self.secrets = secrets
        self.requests: list[str] = []
        self._response = AccessSecretVersionResponse
        handler = grpc.method_handlers_generic_handler(
            self.SERVICE,
            {
                "AccessSecretVersion": grpc.unary_unary_rpc_method_handler(
                    self._access,
                    request_deserializer=AccessSecretVersionRequest.deserialize,
                    response_serializer=AccessSecretVersionResponse.serialize,
                )
            },
        )
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        self.server.add_generic_rpc_handlers((handler,))
        self.port = self.server.add_insecure_port("127.0.0.1:0")

    def _access(self, request, context):
        self.requests.append(request.name)
        if request.name not in self.secrets:
            context.abort(grpc.StatusCode.NOT_FOUND, f"Secret [{request.name}] not found")
        return self._response(name=request.name, payload={"data": self.secrets[request.name]})

    def client(self):
        from google.cloud import secretmanager
        from google.cloud.secretmanager_v1.services.secret_manager_service.transports import (
            SecretManagerServiceGrpcTransport,
        )

        channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        return secretmanager.SecretManagerServiceClient(
            transport=SecretManagerServiceGrpcTransport(channel=channel)
        )


@pytest.fixture
def secret_manager() -> Iterator[FakeSecretManager]:
    fake = FakeSecretManager(
        {
            "projects/your-gcp-project-id/secrets/fitsense-prod-database-url/versions/latest": (
                DB_URL.encode()
            ),
            "projects/your-gcp-project-id/secrets/fitsense-prod-model-api-key/versions/3": b"key-v3-abc",
        }
    )
    fake.server.start()
    yield fake
    fake.server.stop(grace=None)


def test_environment_defaults_to_local_and_rejects_unknown_names(tmp_path: Path) -> None:
    assert deployment_environment({}) == "local"
    assert deployment_environment({"FITSENSE_ENV": " Prod "}) == "prod"
    with pytest.raises(ConfigurationError, match="FITSENSE_ENV must be one of"):
        deployment_environment({"FITSENSE_ENV": "production"})
    local = Settings.from_env({"FITSENSE_HOME": str(tmp_path)})
    assert local.environment == "local" and local.artifact_root == str(tmp_path / "artifacts")


@pytest.mark.parametrize("env", ["dev", "stage", "prod"])
def test_each_environment_has_its_bucket_and_no_local_fallback(env: str, tmp_path: Path) -> None:
    base = {"FITSENSE_ENV": env, "FITSENSE_HOME": str(tmp_path)}
    with pytest.raises(ConfigurationError, match="needs FITSENSE_DATABASE_URL"):
        Settings.from_env(dict(base))
    settings = Settings.from_env({**base, "FITSENSE_DATABASE_URL": DB_URL})
    assert settings.environment == env
    assert settings.artifact_root == f"gs://fitsenseai-mlops-{env}"
    # The seed's layout under that bucket is what the artifact store writes.
    from fitsense_core.artifacts import ArtifactStore

    store = ArtifactStore(settings.artifact_root)
    assert store.uri("datasets", "distillation", "r1", "train.jsonl") == (
        f"gs://fitsenseai-mlops-{env}/datasets/distillation/r1/train.jsonl"
    )
    assert store.uri("models", "student", "v1").startswith(
        f"gs://fitsenseai-mlops-{env}/models/student/"
    )


def test_stage_and_prod_keep_artifacts_in_gcs(tmp_path: Path) -> None:
    base = {"FITSENSE_DATABASE_URL": DB_URL, "FITSENSE_ARTIFACTS_URI": str(tmp_path)}
    assert Settings.from_env({**base, "FITSENSE_ENV": "dev"}).artifact_root == str(tmp_path)
    for env in ("stage", "prod"):
        with pytest.raises(ConfigurationError, match="must be a gs:// URI"):
            Settings.from_env({**base, "FITSENSE_ENV": env})
    assert environment_bucket("prod", {"FITSENSE_ARTIFACTS_BUCKET_PREFIX": "acme-ml"}) == (
        "gs://acme-ml-prod"
    )
    with pytest.raises(ConfigurationError, match="BUCKET_PREFIX"):
        environment_bucket("prod", {"FITSENSE_ARTIFACTS_BUCKET_PREFIX": "Bad/Name"})


def test_api_refuses_test_password_hashing_in_stage_and_prod() -> None:
    from fitsense_api.settings import ApiSettings

    fast = {"FITSENSE_API_PASSWORD_HASH": "argon2-fast"}
    assert ApiSettings.from_env(DB_URL, {**fast, "FITSENSE_ENV": "dev"}).password_hash == (
        "argon2-fast"
    )
    with pytest.raises(ConfigurationError, match="argon2-fast is for tests"):
        ApiSettings.from_env(DB_URL, {**fast, "FITSENSE_ENV": "prod"})
    settings = ApiSettings.from_env(
        DB_URL, {"FITSENSE_ENV": "prod", "FITSENSE_INFERENCE_USD_PER_1K_TOKENS": "0.0002"}
    )
    assert settings.environment == "prod" and settings.inference_usd_per_1k_tokens == 0.0002
    with pytest.raises(ConfigurationError, match="FITSENSE_INFERENCE_USD_PER_1K_TOKENS"):
        ApiSettings.from_env(DB_URL, {"FITSENSE_INFERENCE_USD_PER_1K_TOKENS": "cheap"})


def test_settings_reprs_never_show_a_password() -> None:
    from fitsense_api.settings import ApiSettings

    settings = Settings.from_env({"FITSENSE_DATABASE_URL": DB_URL})
    assert settings.database_url == DB_URL
    assert "pa55" not in repr(settings)
    assert "pa55" not in repr(ApiSettings.from_env(DB_URL, {}))


def test_secret_from_a_mounted_file_replaces_the_file_setting(tmp_path: Path) -> None:
    secret_file = tmp_path / "database-url"
    secret_file.write_text(DB_URL + "\n")
    env = {"FITSENSE_DATABASE_URL_FILE": str(secret_file), "FITSENSE_ENV": "prod"}
    sources = load_secrets(env)
    assert sources == {"FITSENSE_DATABASE_URL": f"file {secret_file}"}
    assert env["FITSENSE_DATABASE_URL"] == DB_URL and "FITSENSE_DATABASE_URL_FILE" not in env
    assert load_secrets(env) == {"FITSENSE_DATABASE_URL": "env"}  # idempotent
    # Settings resolve files themselves (prod needs the database URL from somewhere).
    env2 = {
        "FITSENSE_DATABASE_URL_FILE": str(secret_file),
        "FITSENSE_ENV": "prod",
        "FITSENSE_ARTIFACTS_URI": "gs://fitsenseai-mlops-prod",
    }
    assert Settings.from_env(env2).database_url == DB_URL


def test_bad_secret_sources_fail_clearly_without_the_value(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read the secret file"):
        load_secrets({"FITSENSE_MODEL_API_KEY_FILE": str(tmp_path / "missing")})
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(ConfigurationError, match="FITSENSE_MODEL_API_KEY is empty"):
        load_secrets({"FITSENSE_MODEL_API_KEY_FILE": str(empty)})
    with pytest.raises(ConfigurationError, match="not both"):
        load_secrets({"FITSENSE_MODEL_API_KEY": "k", "FITSENSE_MODEL_API_KEY_FILE": str(empty)})
    with pytest.raises(ConfigurationError, match="names no project"):
        secret_version_name("sm://fitsense-prod-model-api-key", {})
    with pytest.raises(ConfigurationError, match="not a Secret Manager reference"):
        secret_version_name("sm://has spaces", {"GOOGLE_CLOUD_PROJECT": "p"})
    assert secret_version_name("sm://s/versions/7", {"GOOGLE_CLOUD_PROJECT": "p"}) == (
        "projects/p/secrets/s/versions/7"
    )
    assert secret_version_name("sm://projects/q/secrets/s", {}) == (
        "projects/q/secrets/s/versions/latest"
    )


def test_secret_manager_references_are_read_through_googles_client(
    secret_manager: FakeSecretManager,
) -> None:
    accessor = secret_manager_accessor(secret_manager.client())
    env = {
        "GOOGLE_CLOUD_PROJECT": "your-gcp-project-id",
        "FITSENSE_DATABASE_URL": "sm://fitsense-prod-database-url",
        "FITSENSE_MODEL_API_KEY": "sm://projects/your-gcp-project-id/secrets/"
        "fitsense-prod-model-api-key/versions/3",
        "FITSENSE_TEACHER_API_KEY": "plain-teacher-key",
    }
    sources = load_secrets(env, accessor)
    assert env["FITSENSE_DATABASE_URL"] == DB_URL
    assert env["FITSENSE_MODEL_API_KEY"] == "key-v3-abc"
    assert sources == {
        "FITSENSE_DATABASE_URL": "secret-manager projects/your-gcp-project-id/secrets/"
        "fitsense-prod-database-url/versions/latest",
        "FITSENSE_MODEL_API_KEY": "secret-manager projects/your-gcp-project-id/secrets/"
        "fitsense-prod-model-api-key/versions/3",
        "FITSENSE_TEACHER_API_KEY": "env",
    }
    assert len(secret_manager.requests) == 2
    # Resolved once: a second pass reads nothing more.
    load_secrets(env, accessor)
    assert len(secret_manager.requests) == 2

    missing = {"FITSENSE_TEACHER_API_KEY": "sm://projects/your-gcp-project-id/secrets/nope"}
    with pytest.raises(ConfigurationError, match="cannot read Secret Manager secret") as info:
        resolve_secret(missing, "FITSENSE_TEACHER_API_KEY", accessor)
    assert "NOT_FOUND" in str(info.value) or "not found" in str(info.value)


def test_loaded_secrets_are_masked_in_json_logs(tmp_path: Path) -> None:
    from fitsense_api.observability import JsonFormatter

    key_file = tmp_path / "key"
    key_file.write_text("model-key-9f8e7d")
    load_secrets({"FITSENSE_MODEL_API_KEY_FILE": str(key_file), "FITSENSE_DATABASE_URL": DB_URL})
    assert redact(f"calling with model-key-9f8e7d on {DB_URL}") == (
        "calling with *** on postgresql://fitsense:***@db.internal:5432/fitsense"
    )
    remember_secret("postgresql://postgres@127.0.0.1:5432/fitsense")  # no password: nothing
    assert redact("postgresql://postgres@127.0.0.1:5432/fitsense").startswith("postgresql://")
    record = logging.LogRecord(
        "fitsense_api.test", logging.ERROR, __file__, 1, "key %s", ("model-key-9f8e7d",), None
    )
    try:
        raise RuntimeError(f"connect failed for {DB_URL}")
    except RuntimeError:
        import sys

        record.exc_info = sys.exc_info()
    line = JsonFormatter().format(record)
    assert "model-key-9f8e7d" not in line and "pa55-w0rd-xyz" not in line
    entry = json.loads(line)
    assert entry["message"] == "key ***" and "***" in entry["exception"]
