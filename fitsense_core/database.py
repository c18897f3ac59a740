"""Choosing, reaching and creating the PostgreSQL databases FitSense uses.

One setting, ``FITSENSE_DATABASE_URL``, chooses the application database. Without it
FitSense uses the server on 127.0.0.1:5432 when one answers, and otherwise starts an
embedded PostgreSQL (the ``pgserver`` wheel) in ``$FITSENSE_HOME/pgdata`` that keeps
running until ``fitsense db stop``. Dagster's own storage lives in a sibling database.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qs, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from fitsense_core.errors import ConfigurationError, DatabaseUnavailableError
from fitsense_core.settings import Settings

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5
Origin = Literal["configured", "local", "embedded"]


@dataclass(frozen=True)
class AppDatabase:
    """Where the application data lives."""

    url: str
    origin: Origin

    def describe(self) -> str:
        return f"{describe_url(self.url)} ({self.origin})"


@dataclass(frozen=True)
class DatabaseTarget:
    """Where the application data and the Dagster storage live."""

    url: str
    dagster_url: str
    origin: Origin

    def describe(self) -> str:
        return f"{describe_url(self.url)} ({self.origin})"


def validate_url(url: str, setting: str = "FITSENSE_DATABASE_URL") -> str:
    """Return ``url`` if it is a usable PostgreSQL URL, else raise a clear error."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise ConfigurationError(f"{setting} is not a valid URL: {exc}") from exc
    if parts.scheme not in ("postgresql", "postgres"):
        raise ConfigurationError(
            f"{setting} must be a PostgreSQL URL like postgresql://user:password@host:5432/dbname, "
            f"got scheme {parts.scheme or '(none)'!r}"
        )
    try:
        port = parts.port
    except ValueError as exc:
        raise ConfigurationError(f"{setting} has an invalid port: {exc}") from exc
    if port == 0:
        raise ConfigurationError(f"{setting} has an invalid port: 0")
    if not parts.path.strip("/"):
        raise ConfigurationError(f"{setting} must name a database, e.g. postgresql://host/fitsense")
    if not (parts.hostname or parse_qs(parts.query).get("host")):
        raise ConfigurationError(f"{setting} must name a host (or a socket directory via ?host=)")
    return url


def describe_url(url: str) -> str:
    """A URL for messages: host, port and database, never the password."""
    parts = urlsplit(url)
    host = parts.hostname or parse_qs(parts.query).get("host", ["localhost"])[0]
    port = f":{parts.port}" if parts.port else ""
    return f"{host}{port}/{parts.path.lstrip('/')}"


def redact_url(url: str) -> str:
    """The URL with any password replaced, safe to print."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def with_database(url: str, dbname: str) -> str:
    """The same server and credentials, another database."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, parts.fragment))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def connect(url: str, *, autocommit: bool = False, purpose: str = "") -> psycopg.Connection:
    """Open a connection, turning driver failures into one clear message."""
    try:
        return psycopg.connect(url, autocommit=autocommit, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.OperationalError as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        what = f" ({purpose})" if purpose else ""
        raise DatabaseUnavailableError(
            f"cannot connect to PostgreSQL at {describe_url(url)}{what}: {reason}"
        ) from exc
    except psycopg.ProgrammingError as exc:
        raise ConfigurationError(f"invalid PostgreSQL connection URL: {exc}") from exc


@contextmanager
def transaction(url: str) -> Iterator[psycopg.Connection]:
    """A connection inside one transaction: committed on success, rolled back on error."""
    conn = connect(url)
    try:
        with conn.transaction():
            yield conn
    finally:
        conn.close()


def ensure_database(server_url: str, dbname: str) -> None:
    """Create ``dbname`` on the server of ``server_url`` unless it exists."""
    try:
        psycopg.connect(
            with_database(server_url, dbname), connect_timeout=CONNECT_TIMEOUT_S
        ).close()
        return
    except psycopg.OperationalError as exc:
        if "does not exist" not in str(exc):
            connect(with_database(server_url, dbname))  # raises the clear message
    with connect(with_database(server_url, "postgres"), autocommit=True) as conn:
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
            log.info("created database %s", dbname)
        except psycopg.errors.DuplicateDatabase:
            pass  # created concurrently by another process
        except psycopg.Error as exc:
            raise DatabaseUnavailableError(
                f"cannot create database {dbname!r} on {describe_url(server_url)}: "
                f"{exc.diag.message_primary or exc}"
            ) from exc


def _server_answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=2):
            return True
    except psycopg.Error as exc:
        log.info("no usable PostgreSQL at %s: %s", describe_url(url), " ".join(str(exc).split()))
        return False


def embedded_server_url(settings: Settings) -> str:
    """Start (or reuse) the embedded PostgreSQL and return its maintenance URL."""
    import pgserver

    pgdata = settings.home / "pgdata"
    pgdata.mkdir(parents=True, exist_ok=True)
    try:
        server = pgserver.get_server(pgdata, cleanup_mode=None)
    except Exception as exc:  # pgserver raises plain subprocess/OS errors
        raise DatabaseUnavailableError(
            f"cannot start the embedded PostgreSQL in {pgdata}: {exc}. "
            "Set FITSENSE_DATABASE_URL to use another server."
        ) from exc
    return server.get_uri("postgres")


def stop_embedded_server(settings: Settings, timeout_s: float = 30) -> bool:
    """Stop the embedded server if it runs (fast shutdown); True when one was stopped."""
    pid_file = settings.home / "pgdata" / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split("\n", 1)[0])
    except (FileNotFoundError, ValueError):
        return False
    try:
        os.kill(pid, signal.SIGINT)  # PostgreSQL's "fast" shutdown
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    raise DatabaseUnavailableError(
        f"the embedded PostgreSQL (pid {pid}) did not stop within {timeout_s}s"
    )


_resolved: dict[Settings, DatabaseTarget] = {}
_resolved_app: dict[Settings, AppDatabase] = {}


def resolve_app_database(settings: Settings | None = None) -> AppDatabase:
    """Where the application data lives, creating the default database when needed, and
    nothing about Dagster's storage: what the API needs (on Cloud Run its database user
    never opens Dagster's database)."""
    settings = settings or Settings.from_env()
    if settings in _resolved_app:
        return _resolved_app[settings]

    if settings.database_url:
        url = validate_url(settings.database_url)
        origin: Origin = "configured"
        connect(url, purpose="FITSENSE_DATABASE_URL").close()
    else:
        local = validate_url(settings.local_server_url, "FITSENSE_LOCAL_SERVER_URL")
        if _server_answers(local):
            server_url, origin = local, "local"
        else:
            server_url, origin = embedded_server_url(settings), "embedded"
        ensure_database(server_url, settings.app_database)
        url = with_database(server_url, settings.app_database)
    found = AppDatabase(url, origin)
    _resolved_app[settings] = found
    return found


def resolve_database(settings: Settings | None = None) -> DatabaseTarget:
    """Decide where the data and Dagster's storage live, creating the default databases
    when needed (Dagster's beside the application's, on the same server)."""
    settings = settings or Settings.from_env()
    if settings in _resolved:
        return _resolved[settings]

    app = resolve_app_database(settings)
    if settings.dagster_storage_url:
        dagster_url = validate_url(settings.dagster_storage_url, "FITSENSE_DAGSTER_STORAGE_URL")
    else:
        dagster_db = f"{database_name(app.url)}_dagster"
        ensure_database(app.url, dagster_db)
        dagster_url = with_database(app.url, dagster_db)

    target = DatabaseTarget(url=app.url, dagster_url=dagster_url, origin=app.origin)
    _resolved[settings] = target
    return target


def export_environment(target: DatabaseTarget, dagster_home: str) -> dict[str, str]:
    """Put the resolved locations into this process's environment for child processes."""
    values = {
        "FITSENSE_DATABASE_URL": target.url,
        "FITSENSE_DAGSTER_STORAGE_URL": target.dagster_url,
        "DAGSTER_HOME": dagster_home,
    }
    os.environ.update(values)
    return values
