"""Settings read from the environment, with defaults that work on a fresh machine."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path

from fitsense_core.errors import ConfigurationError

REPO_ROOT = Path(__file__).resolve().parent.parent

DEFAULT_LOCAL_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_APP_DATABASE = "fitsense"


def env_int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """A whole-number setting: ``default`` when unset or empty, else it must lie in
    ``[low, high]`` (a clear ConfigurationError otherwise)."""
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be an integer, got {raw!r}") from exc
    if not low <= value <= high:
        raise ConfigurationError(f"{name} must be between {low} and {high}, got {value}")
    return value


def env_float(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    """A numeric setting, as ``env_int``."""
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be a number, got {raw!r}") from exc
    if not low <= value <= high:
        raise ConfigurationError(f"{name} must be between {low} and {high}, got {raw}")
    return value


@dataclass(frozen=True)
class Settings:
    """Everything FitSense reads from the environment.

    - ``FITSENSE_DATABASE_URL``: the application database. Unset: the PostgreSQL server on
      127.0.0.1:5432 if one answers, else an embedded server under ``FITSENSE_HOME``.
    - ``FITSENSE_DAGSTER_STORAGE_URL``: Dagster's run/event/schedule storage. Unset: a
      database named ``<app database>_dagster`` on the same server, created when missing.
    - ``FITSENSE_HOME``: local state (embedded database, artifacts); default ``./.fitsense``.
    - ``FITSENSE_ARTIFACTS_URI``: artifact store root, a directory or ``gs://bucket/prefix``;
      default ``$FITSENSE_HOME/artifacts``.
    - ``FITSENSE_LOCAL_SERVER_URL``: where to look for a local server before falling back
      to the embedded one.
    - ``FITSENSE_TOOLS_DIR``: third-party tools fetched once (llama.cpp's GGUF converter);
      default ``<repository>/.fitsense/tools``, shared by every FITSENSE_HOME.
    - ``FITSENSE_ENV``: ``local`` (default), ``dev``, ``stage`` or ``prod``. Outside
      ``local`` there is no fallback: ``FITSENSE_DATABASE_URL`` must be set, and the
      artifact store defaults to the environment's bucket ``gs://fitsenseai-mlops-<env>``
      (``FITSENSE_ARTIFACTS_BUCKET_PREFIX`` changes ``fitsenseai-mlops``); in ``stage``
      and ``prod`` it must be a ``gs://`` URI.

    Secret settings (the database URLs, model and teacher keys) may also come from
    ``NAME_FILE`` or ``sm://`` Secret Manager references: ``from_env`` resolves them first
    (``fitsense_core.secrets``).
    """

    # Not in repr: the URLs may carry passwords.
    database_url: str | None = field(repr=False)
    dagster_storage_url: str | None = field(repr=False)
    home: Path
    artifact_root: str
    local_server_url: str
    tools_dir: Path = REPO_ROOT / ".fitsense" / "tools"
    app_database: str = DEFAULT_APP_DATABASE
    environment: str = "local"

    @classmethod
    def from_env(cls, environ: MutableMapping[str, str] | None = None) -> Settings:
        from fitsense_core.secrets import load_secrets

        env = os.environ if environ is None else environ
        load_secrets(env)
        environment = deployment_environment(env)
        home = Path(env.get("FITSENSE_HOME") or Path.cwd() / ".fitsense").absolute()
        database_url = env.get("FITSENSE_DATABASE_URL") or None
        artifact_root = env.get("FITSENSE_ARTIFACTS_URI") or None
        if environment != "local":
            if not database_url:
                raise ConfigurationError(
                    f"FITSENSE_ENV={environment} needs FITSENSE_DATABASE_URL (or "
                    "FITSENSE_DATABASE_URL_FILE, or an sm:// reference): outside local there "
                    "is no fallback to a local or embedded PostgreSQL"
                )
            artifact_root = artifact_root or environment_bucket(environment, env)
            if environment in ("stage", "prod") and not artifact_root.startswith("gs://"):
                raise ConfigurationError(
                    f"FITSENSE_ENV={environment} keeps artifacts in GCS: FITSENSE_ARTIFACTS_URI "
                    f"must be a gs:// URI, got {artifact_root!r}"
                )
        return cls(
            database_url=database_url,
            dagster_storage_url=env.get("FITSENSE_DAGSTER_STORAGE_URL") or None,
            home=home,
            artifact_root=artifact_root or str(home / "artifacts"),
            local_server_url=env.get("FITSENSE_LOCAL_SERVER_URL") or DEFAULT_LOCAL_SERVER_URL,
            tools_dir=Path(env.get("FITSENSE_TOOLS_DIR") or REPO_ROOT / ".fitsense" / "tools"),
            environment=environment,
        )


ENVIRONMENTS = ("local", "dev", "stage", "prod")
DEFAULT_BUCKET_PREFIX = "fitsenseai-mlops"
_BUCKET_PREFIX = re.compile(r"^[a-z0-9][a-z0-9_-]{1,40}$")


SYNTHETIC_TO_APP_DB_ENV = "FITSENSE_SYNTHETIC_TO_APP_DB"


def synthetic_to_app_db(env: Mapping[str, str]) -> bool:
    """Whether a pipeline run loads its synthetic people into the application's tables
    (``FITSENSE_SYNTHETIC_TO_APP_DB``: true or false). By default only in ``local``
    development: in dev, stage and prod the tables hold real people, and a retraining run
    must not add two hundred fake accounts beside them."""
    raw = (env.get(SYNTHETIC_TO_APP_DB_ENV) or "").strip().lower()
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    if raw:
        raise ConfigurationError(f"{SYNTHETIC_TO_APP_DB_ENV} must be true or false, got {raw!r}")
    return deployment_environment(env) == "local"


def deployment_environment(env: Mapping[str, str]) -> str:
    """``FITSENSE_ENV``: ``local`` unless set to one of ``dev``, ``stage``, ``prod``."""
    value = (env.get("FITSENSE_ENV") or "local").strip().lower()
    if value not in ENVIRONMENTS:
        raise ConfigurationError(
            f"FITSENSE_ENV must be one of {', '.join(ENVIRONMENTS)}, got {value!r}"
        )
    return value


def environment_bucket(environment: str, env: Mapping[str, str]) -> str:
    """The environment's artifact bucket, ``gs://fitsenseai-mlops-<env>`` (seed §5.2)."""
    prefix = env.get("FITSENSE_ARTIFACTS_BUCKET_PREFIX") or DEFAULT_BUCKET_PREFIX
    if not _BUCKET_PREFIX.match(prefix):
        raise ConfigurationError(
            "FITSENSE_ARTIFACTS_BUCKET_PREFIX must be lowercase letters, digits, - or _ "
            f"(a bucket name's start), got {prefix!r}"
        )
    return f"gs://{prefix}-{environment}"
