"""Settings read from the environment, with defaults that work on a fresh machine."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
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
    """

    database_url: str | None
    dagster_storage_url: str | None
    home: Path
    artifact_root: str
    local_server_url: str
    tools_dir: Path = REPO_ROOT / ".fitsense" / "tools"
    app_database: str = DEFAULT_APP_DATABASE

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        home = Path(env.get("FITSENSE_HOME") or Path.cwd() / ".fitsense").absolute()
        return cls(
            database_url=env.get("FITSENSE_DATABASE_URL") or None,
            dagster_storage_url=env.get("FITSENSE_DAGSTER_STORAGE_URL") or None,
            home=home,
            artifact_root=env.get("FITSENSE_ARTIFACTS_URI") or str(home / "artifacts"),
            local_server_url=env.get("FITSENSE_LOCAL_SERVER_URL") or DEFAULT_LOCAL_SERVER_URL,
            tools_dir=Path(env.get("FITSENSE_TOOLS_DIR") or REPO_ROOT / ".fitsense" / "tools"),
        )
