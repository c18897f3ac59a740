"""Loading a synthetic run into PostgreSQL with COPY, all-or-nothing and re-runnable.

Everything happens in one transaction: the run's previous rows (if any) are removed,
every table is streamed with ``COPY ... FROM STDIN (FORMAT csv)``, and on any error the
database is left exactly as it was. For large loads the foreign keys of the loaded
tables are dropped and re-created inside that transaction: PostgreSQL then checks each
constraint once with a set-based join instead of a trigger per row (the same trick
``pg_restore`` uses), which is several times faster. The tables are locked for the
duration of such a load; small loads keep the per-row triggers and lock nothing extra.
"""

from __future__ import annotations

import io
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import sql

from fitsense_core.database import connect
from fitsense_core.errors import DataValidationError
from fitsense_core.synthetic.tables import DB_COLUMNS, LOAD_ORDER, TableSet

log = logging.getLogger(__name__)

FkStrategy = Literal["auto", "row_triggers", "validate_after"]
# From about this many users (~1M rows), checking foreign keys once beats a trigger per row.
BULK_USERS_THRESHOLD = 1_000
CHUNK_ROWS = 200_000

# How each table's rows reach their owner in `users`: the tables joined on the way and
# the join condition (`x` is the table itself). Used to count and to delete a run.
_OWNERS: dict[str, tuple[str, str]] = {
    "plan_days": ("workout_plans p", "x.plan_id = p.id AND p.user_id = users.id"),
    "plan_exercises": (
        "plan_days d, workout_plans p",
        "x.plan_day_id = d.id AND d.plan_id = p.id AND p.user_id = users.id",
    ),
    "plan_sets": (
        "plan_exercises e, plan_days d, workout_plans p",
        "x.plan_exercise_id = e.id AND e.plan_day_id = d.id AND d.plan_id = p.id "
        "AND p.user_id = users.id",
    ),
    "workout_exercises": ("workouts w", "x.workout_id = w.id AND w.user_id = users.id"),
    "workout_sets": (
        "workout_exercises e, workouts w",
        "x.workout_exercise_id = e.id AND e.workout_id = w.id AND w.user_id = users.id",
    ),
}


def _owned(table: str) -> tuple[str, str]:
    joined, condition = _OWNERS.get(table, ("", "x.user_id = users.id"))
    return (f"{joined}, users" if joined else "users"), condition


@dataclass(frozen=True)
class LoadReport:
    rows: dict[str, int]
    deleted_users: int
    strategy: str
    seconds: float

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def _csv_chunks(frame: pd.DataFrame, columns: tuple[str, ...]) -> Iterable[bytes]:
    table = pa.Table.from_pandas(frame[list(columns)], preserve_index=False)
    options = pacsv.WriteOptions(include_header=False, batch_size=CHUNK_ROWS)
    for start in range(0, table.num_rows, CHUNK_ROWS):
        buffer = io.BytesIO()
        pacsv.write_csv(table.slice(start, CHUNK_ROWS), buffer, options)
        yield buffer.getvalue()


def _prefetch(chunks: Iterable[bytes], depth: int = 2) -> Iterable[bytes]:
    """Produce the next CSV chunk on a second thread while the server ingests this one."""
    q: queue.Queue[object] = queue.Queue(maxsize=depth)
    done = object()

    def produce() -> None:
        try:
            for chunk in chunks:
                q.put(chunk)
        except BaseException as exc:  # handed to the consumer, re-raised there
            q.put(exc)
            return
        q.put(done)

    threading.Thread(target=produce, daemon=True).start()
    while True:
        item = q.get()
        if item is done:
            return
        if isinstance(item, BaseException):
            raise item
        yield item  # type: ignore[misc]


def _foreign_keys(conn: psycopg.Connection, tables: list[str]) -> list[tuple[str, str, str]]:
    """(table, constraint, definition) of every foreign key declared on ``tables``."""
    return conn.execute(
        """SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
           FROM pg_constraint c
           WHERE c.contype = 'f' AND c.conrelid = ANY(%s::regclass[])
           ORDER BY c.conrelid::regclass::text, c.conname""",
        (tables,),
    ).fetchall()


def _check_frame(name: str, frame: pd.DataFrame) -> None:
    absent = [c for c in DB_COLUMNS[name] if c not in frame.columns]
    if absent:
        raise DataValidationError(f"table {name} lacks columns: {', '.join(absent)}")


def _in_background(items: Iterable[TableSet]) -> Iterable[TableSet]:
    """Build the next table set (e.g. generate it) while the current one is copied."""
    return _prefetch(items, depth=1)  # type: ignore[arg-type]


def _choose_strategy(requested: FkStrategy, n_users: int) -> str:
    if requested != "auto":
        return requested
    return "validate_after" if n_users >= BULK_USERS_THRESHOLD else "row_triggers"


def _check_run(users: pd.DataFrame, run_id: str) -> None:
    foreign = set(users["synthetic_run_id"].astype(str).unique()) - {run_id}
    if foreign:
        raise DataValidationError(
            f"users of run(s) {', '.join(sorted(foreign))} cannot be loaded as run {run_id}"
        )


def _drop_foreign_keys(conn: psycopg.Connection) -> list[tuple[str, str, str]]:
    dropped = _foreign_keys(conn, list(LOAD_ORDER))
    for table, name, _definition in dropped:
        conn.execute(
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                sql.Identifier(table), sql.Identifier(name)
            )
        )
    return dropped


def _copy(conn: psycopg.Connection, table: str, frame: pd.DataFrame) -> int:
    columns = DB_COLUMNS[table]
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    try:
        with conn.cursor() as cur, cur.copy(statement) as copy:
            for chunk in _prefetch(_csv_chunks(frame, columns)):
                copy.write(chunk)
    except psycopg.Error as exc:
        context = exc.diag.context.splitlines()[0] if exc.diag.context else ""
        raise DataValidationError(
            f"loading {table} failed: {exc.diag.message_primary or exc}"
            f"{f' ({context})' if context else ''}. Nothing was written."
        ) from exc
    return len(frame)


def delete_run(conn: psycopg.Connection, run_id: str) -> int:
    """Remove a synthetic run's rows, children first, with one set-based DELETE per table
    (no cascade needed); returns the number of users removed."""
    for table in reversed(LOAD_ORDER[1:]):
        joined, condition = _owned(table)
        statement = sql.SQL(
            "DELETE FROM {} x USING "
            + joined
            + " WHERE "
            + condition
            + " AND users.synthetic_run_id = %s"
        ).format(sql.Identifier(table))
        cur = conn.execute(statement, (run_id,))
        if cur.rowcount:
            log.info("deleted %d %s rows of run %s", cur.rowcount, table, run_id)
    return conn.execute("DELETE FROM users WHERE synthetic_run_id = %s", (run_id,)).rowcount


def load_run(
    url: str,
    run_id: str,
    tablesets: Iterable[TableSet],
    *,
    fk_strategy: FkStrategy = "auto",
    progress: Callable[[str], None] = lambda _msg: None,
) -> LoadReport:
    """Replace synthetic run ``run_id`` in the database with ``tablesets``, atomically."""
    strategy = fk_strategy
    started = time.perf_counter()
    rows: dict[str, int] = {}
    conn = connect(url, purpose="synthetic load")
    try:
        with conn.transaction():
            conn.execute("SET LOCAL synchronous_commit = off")
            deleted = 0
            dropped: list[tuple[str, str, str]] = []
            pending = list(LOAD_ORDER)
            for tableset in _in_background(tablesets):
                frames = {n: f for n, f in tableset.tables.items() if n in DB_COLUMNS}
                for table in [t for t in pending if t in frames]:
                    frame = frames[table]
                    if table != pending[0]:
                        raise DataValidationError(
                            f"table {table} arrived before {pending[0]}, which it depends on"
                        )
                    _check_frame(table, frame)
                    if table == "users":
                        strategy = _choose_strategy(fk_strategy, len(frame))
                        _check_run(frame, run_id)
                        deleted = delete_run(conn, run_id)
                        if deleted:
                            progress(
                                f"replacing {deleted} users previously loaded for run {run_id}"
                            )
                        if strategy == "validate_after":
                            dropped = _drop_foreign_keys(conn)
                    rows[table] = _copy(conn, table, frame)
                    pending.pop(0)
                    progress(f"{table}: {len(frame):,} rows")
            if pending:
                raise DataValidationError(
                    f"synthetic run {run_id} is missing tables: {', '.join(pending)}"
                )
            if dropped:
                t0 = time.perf_counter()
                for table, name, definition in dropped:
                    try:
                        conn.execute(
                            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
                                sql.Identifier(table), sql.Identifier(name), sql.SQL(definition)
                            )
                        )
                    except psycopg.Error as exc:
                        raise DataValidationError(
                            f"{table} breaks {name}: {exc.diag.message_detail or exc}. "
                            "Nothing was written."
                        ) from exc
                progress(f"checked {len(dropped)} foreign keys in {time.perf_counter() - t0:.1f}s")
            # Fresh statistics: a bulk load leaves the planner guessing (the API's workout
            # list ran 200x slower on a hash join over all sets until tables were analyzed).
            # A small sample is enough to fix row counts and per-user selectivity, and keeps
            # ANALYZE to a fraction of a second on a 10,000-user load.
            conn.execute("SET LOCAL default_statistics_target = 20")
            for table in rows:
                conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))
    finally:
        conn.close()
    return LoadReport(rows, deleted, strategy, time.perf_counter() - started)


def count_run_rows(conn: psycopg.Connection, run_id: str) -> dict[str, int]:
    """Rows per table that belong to synthetic run ``run_id``."""
    counts = {
        "users": conn.execute(
            "SELECT count(*) FROM users WHERE synthetic_run_id = %s", (run_id,)
        ).fetchone()[0]
    }
    for table in LOAD_ORDER[1:]:
        joined, condition = _owned(table)
        statement = sql.SQL(
            "SELECT count(*) FROM {} x, "
            + joined
            + " WHERE "
            + condition
            + " AND users.synthetic_run_id = %s"
        ).format(sql.Identifier(table))
        counts[table] = conn.execute(statement, (run_id,)).fetchone()[0]
    return counts
