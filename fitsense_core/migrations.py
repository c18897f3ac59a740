"""Ordered SQL migrations from ``sql/``, applied all-or-nothing and recorded.

Files are named ``NNNN_description.sql`` and applied in number order. Every pending
migration, its record in ``schema_migrations`` and the reference-data seed run in one
transaction under an advisory lock: a failure anywhere leaves the database exactly as it
was. Every start of the API migrates, so the transaction waits at most
``FITSENSE_MIGRATION_LOCK_TIMEOUT_S`` for any lock (another session's on a table, another
migration's advisory lock) and runs each statement at most
``FITSENSE_MIGRATION_STATEMENT_TIMEOUT_S``: a start fails with what to look for rather
than hang. A database whose history disagrees with the files (a recorded migration edited or
missing, a gap, FitSense tables without a record) is refused rather than patched.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg

from fitsense_core.database import connect, describe_url
from fitsense_core.errors import MigrationError
from fitsense_core.settings import REPO_ROOT, env_float

MIGRATION_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# Any fixed 64-bit number; serialises concurrent `fitsense db migrate` runs.
ADVISORY_LOCK_KEY = 0x46495453454E5345 & 0x7FFFFFFFFFFFFFFF
SENTINEL_TABLE = "users"
LOCK_TIMEOUT_ENV = "FITSENSE_MIGRATION_LOCK_TIMEOUT_S"
STATEMENT_TIMEOUT_ENV = "FITSENSE_MIGRATION_STATEMENT_TIMEOUT_S"
DEFAULT_LOCK_TIMEOUT_S = 10.0
DEFAULT_STATEMENT_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    path: Path
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


@dataclass(frozen=True)
class MigrationReport:
    applied: list[str]
    already_applied: list[str]
    reference_rows: dict[str, int]


def sql_dir() -> Path:
    return Path(os.environ.get("FITSENSE_SQL_DIR") or REPO_ROOT / "sql")


def discover(directory: Path | None = None) -> list[Migration]:
    directory = directory or sql_dir()
    if not directory.is_dir():
        raise MigrationError(f"migration directory {directory} does not exist")
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = MIGRATION_FILE.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files must be named NNNN_description.sql")
        migrations.append(Migration(match[1], match[2], path, path.read_text()))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migration files share a version number in {directory}")
    return migrations


def _applied(conn: psycopg.Connection) -> dict[str, str]:
    rows = conn.execute("SELECT version, checksum FROM schema_migrations ORDER BY version")
    return dict(rows.fetchall())


def _check_history(conn: psycopg.Connection, migrations: list[Migration]) -> dict[str, str]:
    has_history = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()[0]
    if not has_history:
        has_tables = conn.execute(
            "SELECT to_regclass(%s) IS NOT NULL", (SENTINEL_TABLE,)
        ).fetchone()[0]
        if has_tables:
            raise MigrationError(
                f"the database already has a {SENTINEL_TABLE!r} table but no schema_migrations "
                "record: it was not created by `fitsense db migrate`. Use an empty database."
            )
        conn.execute(
            """CREATE TABLE schema_migrations (
                   version    TEXT PRIMARY KEY,
                   name       TEXT NOT NULL,
                   checksum   TEXT NOT NULL,
                   applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"""
        )
        return {}

    applied = _applied(conn)
    by_version = {m.version: m for m in migrations}
    for version, checksum in applied.items():
        known = by_version.get(version)
        if known is None:
            raise MigrationError(
                f"the database records migration {version}, which is not in {sql_dir()}: "
                "it was migrated by a newer FitSense or the file was removed"
            )
        if known.checksum != checksum:
            raise MigrationError(
                f"migration {known.path.name} changed after it was applied; "
                "write a new migration instead of editing an applied one"
            )
    expected_prefix = [m.version for m in migrations[: len(applied)]]
    if sorted(applied) != expected_prefix:
        missing = sorted(set(expected_prefix) - set(applied))
        raise MigrationError(
            f"half-applied schema: migrations {', '.join(missing)} are missing before "
            f"{max(applied)}; refusing to continue"
        )
    return applied


_MIGRATION_LOCK = "waiting for the migration lock"


@dataclass(frozen=True)
class _Timeouts:
    lock_s: float
    statement_s: float

    @classmethod
    def from_env(cls) -> _Timeouts:
        return cls(
            env_float(os.environ, LOCK_TIMEOUT_ENV, DEFAULT_LOCK_TIMEOUT_S, 0.1, 3600),
            env_float(os.environ, STATEMENT_TIMEOUT_ENV, DEFAULT_STATEMENT_TIMEOUT_S, 0.1, 86400),
        )

    def apply(self, conn: psycopg.Connection) -> None:
        """For this transaction only (``set_config(..., true)`` is ``SET LOCAL``)."""
        for name, seconds in (
            ("lock_timeout", self.lock_s),
            ("statement_timeout", self.statement_s),
        ):
            conn.execute("SELECT set_config(%s, %s, true)", (name, f"{round(seconds * 1000)}ms"))

    def error(self, exc: psycopg.Error, url: str, step: str) -> MigrationError | None:
        """The clear message for a timeout hit while ``step`` ran; None for other errors."""
        where = f"migrating {describe_url(url)}"
        unchanged = "No migration was applied; the database is unchanged."
        if isinstance(exc, psycopg.errors.LockNotAvailable):
            if step == _MIGRATION_LOCK:
                return MigrationError(
                    f"{where}: another migration held the migration lock for more than "
                    f"{self.lock_s:g} s ({LOCK_TIMEOUT_ENV}); start again once it has finished. "
                    f"{unchanged}"
                )
            return MigrationError(
                f"{where}: {step} waited more than {self.lock_s:g} s for a lock another session "
                f"holds ({LOCK_TIMEOUT_ENV}). Find it with SELECT pid, state, xact_start, query "
                "FROM pg_stat_activity WHERE cardinality(pg_blocking_pids(pid)) > 0 OR pid IN "
                f"(SELECT unnest(pg_blocking_pids(pid)) FROM pg_stat_activity). {unchanged}"
            )
        if isinstance(exc, psycopg.errors.QueryCanceled):
            return MigrationError(
                f"{where}: {step} ran longer than {self.statement_s:g} s "
                f"({STATEMENT_TIMEOUT_ENV}; raise it for a long migration). {unchanged}"
            )
        return None


def migrate(
    url: str,
    *,
    directory: Path | None = None,
    seed: Callable[[psycopg.Connection], dict[str, int]] | None = None,
    progress: Callable[[str], None] = lambda _msg: None,
) -> MigrationReport:
    """Apply every pending migration and the reference-data seed in one transaction."""
    migrations = discover(directory)
    if seed is None:
        from fitsense_core.reference import seed_reference_data

        seed = seed_reference_data

    timeouts = _Timeouts.from_env()
    conn = connect(url, purpose="migrations")
    step = _MIGRATION_LOCK
    try:
        with conn.transaction():
            timeouts.apply(conn)
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (ADVISORY_LOCK_KEY,))
            step = "reading the migration history"
            applied = _check_history(conn, migrations)
            pending = [m for m in migrations if m.version not in applied]
            for migration in pending:
                step = migration.path.name
                progress(f"applying {migration.path.name}")
                try:
                    with conn.transaction():
                        conn.execute(migration.sql)
                except psycopg.Error as exc:
                    if timeouts.error(exc, url, step) is not None:
                        raise
                    detail = exc.diag.message_primary or str(exc)
                    raise MigrationError(
                        f"{migration.path.name} failed on {describe_url(url)}: {detail}. "
                        "No migration was applied; the database is unchanged."
                    ) from exc
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                    (migration.version, migration.name, migration.checksum),
                )
            step = "seeding reference data"
            progress(step)
            reference_rows = seed(conn)
    except psycopg.Error as exc:
        error = timeouts.error(exc, url, step)
        if error is None:
            raise
        raise error from exc
    finally:
        conn.close()
    return MigrationReport(
        applied=[m.version for m in pending],
        already_applied=sorted(applied),
        reference_rows=reference_rows,
    )


def applied_versions(url: str) -> list[str]:
    with connect(url) as conn:
        if not conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()[0]:
            return []
        return sorted(_applied(conn))
