"""Table containers, deterministic ids and the column layout of every synthetic table."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# Column order of every table the generator writes, as loaded into PostgreSQL.
# Tables not listed here (per-user traits) stay in the artifact store only.
DB_COLUMNS: dict[str, tuple[str, ...]] = {
    "users": ("id", "name", "email", "password_hash", "synthetic_run_id", "created_at"),
    "user_profiles": ("user_id", "date_of_birth", "sex", "height_cm", "activity_level"),
    "user_preferences": ("user_id", "days_per_week", "experience", "session_length_min"),
    "user_equipment": ("user_id", "equipment_id"),
    "user_goals": ("user_id", "goal_id", "priority"),
    "user_conditions": ("user_id", "condition_id", "severity", "diagnosed_on"),
    "user_medical_profiles": (
        "id",
        "user_id",
        "kind",
        "body_region",
        "status",
        "description",
        "occurred_on",
    ),
    "user_medications": ("id", "user_id", "name", "dosage"),
    "user_allergies": ("id", "user_id", "allergen", "severity"),
    "workout_plans": (
        "id",
        "user_id",
        "name",
        "version",
        "parent_plan_id",
        "source",
        "is_active",
        "created_at",
    ),
    "plan_days": ("id", "plan_id", "name", "day_order", "notes"),
    "plan_exercises": ("id", "plan_day_id", "exercise_id", "position", "notes"),
    "plan_sets": (
        "id",
        "plan_exercise_id",
        "set_number",
        "target_reps",
        "target_rir",
        "rest_seconds",
    ),
    "workouts": ("id", "user_id", "plan_id", "plan_day_id", "started_at", "ended_at", "created_at"),
    "workout_exercises": ("id", "workout_id", "exercise_id", "position"),
    "workout_sets": (
        "id",
        "workout_exercise_id",
        "set_number",
        "reps",
        "weight_kg",
        "rir",
        "duration_seconds",
        "is_warmup",
    ),
    "calorie_targets": ("id", "user_id", "kcal", "starts_on", "ends_on", "is_active"),
    "sleep_targets": ("id", "user_id", "hours", "starts_on", "ends_on", "is_active"),
    "calorie_logs": ("id", "user_id", "log_date", "kcal"),
    "sleep_logs": ("id", "user_id", "log_date", "hours"),
    "body_metrics": ("id", "user_id", "log_date", "weight_kg", "body_fat_pct"),
    "readiness_logs": (
        "id",
        "user_id",
        "log_date",
        "soreness",
        "energy",
        "mood",
        "resting_hr",
        "steps",
    ),
}
# Parents before children: the order rows are loaded in (and deleted in reverse).
LOAD_ORDER: tuple[str, ...] = tuple(DB_COLUMNS)


@dataclass
class TableSet:
    """Named data frames plus the facts they were generated from."""

    tables: dict[str, pd.DataFrame]
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for frame in self.tables.values():
            _arrow_object_columns(frame)

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]

    def row_counts(self) -> dict[str, int]:
        return {name: len(df) for name, df in self.tables.items()}


def _arrow_object_columns(frame: pd.DataFrame) -> None:
    """Hold Python-object columns (strings, dates) as Arrow arrays: compact and fast to
    write to Parquet and CSV."""
    for column in frame.columns:
        if frame[column].dtype != object:
            continue
        sample = frame[column].dropna()
        first = sample.iloc[0] if len(sample) else ""
        if isinstance(first, date):
            frame[column] = arrow_dates(frame[column].to_numpy())
        elif isinstance(first, str):
            frame[column] = arrow_strings(frame[column].where(frame[column].notna(), None))


class IdFactory:
    """Deterministic, time-ordered-like UUIDs: a per-(run, table) prefix and a counter.

    Ids of one table are sequential, so B-tree inserts append instead of splitting
    pages at random (a large part of bulk-load time); they are valid RFC 9562
    version-8 (custom) UUIDs and never collide across runs or tables.
    """

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id

    def prefix(self, table: str) -> str:
        h = hashlib.sha256(f"fitsense/{self.run_id}/{table}".encode()).hexdigest()
        return f"{h[:8]}-{h[8:12]}-8{h[13:16]}-8{h[17:20]}-"

    def ids(self, table: str, index: np.ndarray) -> pd.Series:
        """UUID strings for row numbers ``index`` of ``table`` (decimal digits are hex)."""
        digits = pc.utf8_lpad(
            pc.cast(pa.array(np.asarray(index, dtype=np.int64)), pa.string()), 12, "0"
        )
        joined = pc.binary_join_element_wise(self.prefix(table), digits, "")
        return pd.Series(pd.arrays.ArrowExtensionArray(joined))

    def sequence(self, table: str, n: int) -> pd.Series:
        return self.ids(table, np.arange(n, dtype=np.int64))


def arrow_strings(values: Any) -> pd.Series:
    """Strings held by Arrow (no per-row Python objects)."""
    return pd.Series(pd.arrays.ArrowExtensionArray(pa.array(values, type=pa.string())))


def arrow_dates(values: Any) -> pd.Series:
    """Calendar dates held by Arrow (date32), from dates or numpy datetime64 values."""
    array = np.asarray(values)
    if array.dtype == object:
        return pd.Series(pd.arrays.ArrowExtensionArray(pa.array(list(array), type=pa.date32())))
    days = array.astype("datetime64[D]").astype(np.int64).astype(np.int32)
    return pd.Series(
        pd.arrays.ArrowExtensionArray(pa.array(days, type=pa.int32()).cast(pa.date32()))
    )


def row_index(ids: pd.Series) -> np.ndarray:
    """The row numbers back from ids made by :class:`IdFactory`."""
    digits = pc.utf8_slice_codeunits(pa.array(ids, type=pa.string()), 24)
    return pc.cast(digits, pa.int64()).to_numpy(zero_copy_only=False)
