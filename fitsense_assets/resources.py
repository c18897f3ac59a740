"""Typed resources the assets receive as parameters."""

from __future__ import annotations

import os

import dagster as dg
from pydantic import Field

from fitsense_core.artifacts import ArtifactStore
from fitsense_core.database import resolve_app_database
from fitsense_core.errors import ConfigurationError
from fitsense_core.settings import Settings
from fitsense_core.teacher.base import Teacher
from fitsense_core.teacher.shards import resolve_shards


class ArtifactStoreResource(dg.ConfigurableResource):
    """Where datasets, reports and models are written: a directory or ``gs://bucket/prefix``."""

    root: str = Field(
        default="",
        description="Directory or gs://bucket/prefix. Empty: FITSENSE_ARTIFACTS_URI, "
        "else $FITSENSE_HOME/artifacts.",
    )

    def store(self) -> ArtifactStore:
        return ArtifactStore(self.root or Settings.from_env().artifact_root)


class AppDatabaseResource(dg.ConfigurableResource):
    """The application's PostgreSQL database (the tables the API serves)."""

    url: str = Field(
        default="",
        description="PostgreSQL URL. Empty: FITSENSE_DATABASE_URL, else the local server on "
        "127.0.0.1:5432, else the embedded server.",
    )

    def resolved_url(self) -> str:
        if self.url:
            return self.url
        return resolve_app_database(Settings.from_env()).url


class TeacherResource(dg.ConfigurableResource):
    """Who answers the prompts: the offline knowledge-based coach (default) or any
    OpenAI-compatible provider. Empty fields fall back to FITSENSE_TEACHER_* variables."""

    provider: str = Field(
        default="",
        description="'offline' or 'openai' (any OpenAI-compatible API). Empty: "
        "FITSENSE_TEACHER_PROVIDER, else 'offline'.",
    )
    base_url: str = Field(default="", description="API base URL. Empty: FITSENSE_TEACHER_BASE_URL.")
    model: str = Field(default="", description="Model name. Empty: FITSENSE_TEACHER_MODEL.")
    api_key_env: str = Field(
        default="FITSENSE_TEACHER_API_KEY",
        description="Name of the environment variable holding the API key (never logged).",
    )
    mode: str = Field(default="JSON", description="instructor mode: JSON, MD_JSON, TOOLS, ...")
    send_schema: bool = Field(
        default=False,
        description="Send the answer's JSON Schema as response_format.schema (llama.cpp "
        "servers decode with it as a grammar).",
    )
    concurrency: int = Field(default=4, description="Requests in flight at once.")
    tokens_per_minute: int = Field(default=0, description="Token budget per minute; 0: none.")
    max_attempts: int = Field(default=5, description="Tries per prompt for retryable errors.")
    timeout_s: float = Field(default=120.0, description="Per-request timeout in seconds.")
    base_delay_s: float = Field(default=1.0, description="First backoff delay (doubles).")
    max_delay_s: float = Field(default=60.0, description="Longest wait between tries.")
    fallback_to_offline: bool = Field(
        default=False,
        description="Answer prompts the provider failed on with the offline coach "
        "(marked as fallback) instead of leaving them failed.",
    )
    use_cache: bool = Field(
        default=True, description="Reuse answers cached by prompt hash and model."
    )
    shards: int = Field(
        default=0,
        description="Teacher steps that answer a run's prompts side by side (1-64), each "
        "with 1/N of concurrency and tokens_per_minute. 0: FITSENSE_TEACHER_SHARDS, else 1.",
    )

    def resolved_shards(self) -> int:
        return resolve_shards(self.shards, os.environ)

    def resolved_provider(self) -> str:
        return (self.provider or os.environ.get("FITSENSE_TEACHER_PROVIDER") or "offline").lower()

    def teacher(self) -> Teacher:
        from fitsense_core.teacher.offline import OfflineTeacher

        provider = self.resolved_provider()
        if provider == "offline":
            return OfflineTeacher()
        if provider != "openai":
            raise ConfigurationError(
                f"unknown teacher provider {provider!r}: use offline or openai"
            )
        from fitsense_core.teacher.openai_compatible import OpenAICompatibleTeacher

        base_url = self.base_url or os.environ.get("FITSENSE_TEACHER_BASE_URL", "")
        model = self.model or os.environ.get("FITSENSE_TEACHER_MODEL", "")
        if not base_url or not model:
            raise ConfigurationError(
                "the openai teacher needs a base URL and a model: set FITSENSE_TEACHER_BASE_URL "
                "and FITSENSE_TEACHER_MODEL (or the resource's base_url/model)"
            )
        return OpenAICompatibleTeacher(
            base_url=base_url,
            model=model,
            api_key=os.environ.get(self.api_key_env) or "not-needed",
            timeout_s=self.timeout_s,
            mode=self.mode,
            send_schema=self.send_schema,
        )
