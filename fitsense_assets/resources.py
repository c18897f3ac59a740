"""Typed resources the assets receive as parameters."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from fitsense_core.artifacts import ArtifactStore
from fitsense_core.database import resolve_database
from fitsense_core.settings import Settings


class ArtifactStoreResource(dg.ConfigurableResource):
    """Where datasets, reports and models are written: a directory or ``gs://bucket/prefix``."""

    root: str = Field(
        default="",
        description="Directory or gs://bucket/prefix. Empty: FITSENSE_ARTIFACT_ROOT, "
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
        return resolve_database(Settings.from_env()).url
