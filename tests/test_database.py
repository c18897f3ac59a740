"""Choosing the database: the setting, the local server, the embedded fallback, clear errors."""

from __future__ import annotations

import socket
from pathlib import Path

import psycopg
import pytest

from fitsense_core.database import (
    connect,
    redact_url,
    resolve_app_database,
    resolve_database,
    stop_embedded_server,
    validate_url,
    with_database,
)
from fitsense_core.errors import ConfigurationError, DatabaseUnavailableError
from fitsense_core.migrations import migrate
from fitsense_core.settings import Settings


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://root@localhost/fitsense", "must be a PostgreSQL URL"),
        ("fitsense", "must be a PostgreSQL URL"),
        ("postgresql://localhost:99999/fitsense", "invalid port"),
        ("postgresql://localhost:5432/", "must name a database"),
        ("postgresql:///fitsense", "must name a host"),
    ],
)
def test_malformed_url_gets_one_clear_message(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        validate_url(url)


def test_unreachable_server_names_host_port_and_database(tmp_path: Path) -> None:
    port = _closed_port()
    settings = Settings.from_env(
        {
            "FITSENSE_DATABASE_URL": f"postgresql://fitsense:secret@127.0.0.1:{port}/appdb",
            "FITSENSE_HOME": str(tmp_path),
        }
    )
    with pytest.raises(DatabaseUnavailableError) as err:
        resolve_database(settings)
    message = str(err.value)
    assert f"127.0.0.1:{port}/appdb" in message
    assert "FITSENSE_DATABASE_URL" in message
    assert "secret" not in message


def test_missing_database_is_reported(admin_url: str) -> None:
    with pytest.raises(DatabaseUnavailableError, match="does not exist"):
        connect(with_database(admin_url, "fitsense_no_such_database_x"))


def test_redact_url_hides_password() -> None:
    assert redact_url("postgresql://u:pw@h:5432/d") == "postgresql://u:***@h:5432/d"
    assert redact_url("postgresql://u@h/d") == "postgresql://u@h/d"


def test_configured_url_is_used_and_dagster_database_created(
    database_factory, admin_url: str, tmp_path: Path
) -> None:
    url = database_factory("configured")
    target = resolve_database(
        Settings.from_env(
            {
                "FITSENSE_DATABASE_URL": url,
                "FITSENSE_HOME": str(tmp_path),
            }
        )
    )
    assert target.url == url
    assert target.origin == "configured"
    dagster_db = target.dagster_url.rsplit("/", 1)[1]
    assert dagster_db == url.rsplit("/", 1)[1] + "_dagster"
    try:
        psycopg.connect(target.dagster_url).close()
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dagster_db}" WITH (FORCE)')


def test_the_api_resolves_its_database_without_touching_dagsters(
    database_factory, admin_url: str, tmp_path: Path
) -> None:
    """resolve_app_database (the API's) neither creates nor opens <db>_dagster; the
    pipeline's resolve_database then adds it beside the same application database."""
    url = database_factory("apponly")
    settings = Settings.from_env({"FITSENSE_DATABASE_URL": url, "FITSENSE_HOME": str(tmp_path)})
    dagster_db = url.rsplit("/", 1)[1] + "_dagster"

    def dagster_db_exists() -> bool:
        with psycopg.connect(admin_url) as conn:
            return bool(
                conn.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", (dagster_db,)
                ).fetchone()
            )

    try:
        app = resolve_app_database(settings)
        assert (app.url, app.origin) == (url, "configured")
        assert not dagster_db_exists()
        target = resolve_database(settings)
        assert target.url == app.url and dagster_db_exists()
        assert resolve_app_database(settings) == app
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dagster_db}" WITH (FORCE)')


def test_api_settings_resolve_only_the_application_database(
    database_factory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from fitsense_api.app import default_settings

    url = database_factory("apisettings")
    monkeypatch.setenv("FITSENSE_DATABASE_URL", url)
    monkeypatch.setenv("FITSENSE_HOME", str(tmp_path))
    # A Dagster storage URL that cannot be reached: the API must not need it.
    monkeypatch.setenv("FITSENSE_DAGSTER_STORAGE_URL", "not a url")
    assert default_settings().database_url == url


def test_embedded_server_when_no_local_server_answers(tmp_path: Path) -> None:
    """No setting and nothing on the probe address: an embedded PostgreSQL is started."""
    settings = Settings.from_env(
        {
            "FITSENSE_HOME": str(tmp_path),
            "FITSENSE_LOCAL_SERVER_URL": f"postgresql://postgres@127.0.0.1:{_closed_port()}/postgres",
        }
    )
    try:
        target = resolve_database(settings)
        assert target.origin == "embedded"
        assert (tmp_path / "pgdata" / "PG_VERSION").exists()
        report = migrate(target.url)
        assert report.applied
        with psycopg.connect(target.url) as conn:
            assert conn.execute("SELECT count(*) FROM exercises").fetchone()[0] >= 120
        psycopg.connect(target.dagster_url).close()
    finally:
        assert stop_embedded_server(settings)
    assert not stop_embedded_server(settings)
