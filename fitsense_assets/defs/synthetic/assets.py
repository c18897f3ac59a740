"""Synthetic users and their training history, one dynamic partition per pipeline run.

Each asset reads its inputs from the artifact store, calls the generator in
``fitsense_core.synthetic``, writes Parquet + manifest under
``datasets/synthetic/<run_id>/<asset>/`` and reports row counts, schema and a preview.
``synthetic_app_tables`` then loads the run into PostgreSQL.
"""

import os
from collections.abc import Iterator
from datetime import UTC, date, datetime

import dagster as dg
import pandas as pd
from pydantic import Field

from fitsense_assets.metadata import markdown_table, tableset_metadata
from fitsense_assets.partitions import run_partitions
from fitsense_assets.resources import AppDatabaseResource, ArtifactStoreResource
from fitsense_assets.stages import SYNTHETIC_STAGES, read_synthetic
from fitsense_core import layout
from fitsense_core.artifacts import ArtifactStore
from fitsense_core.database import describe_url
from fitsense_core.migrations import migrate
from fitsense_core.reference import CONDITIONS, EQUIPMENT, GOALS
from fitsense_core.reference import exercise_catalog as catalog
from fitsense_core.settings import (
    SYNTHETIC_TO_APP_DB_ENV,
    deployment_environment,
    synthetic_to_app_db,
)
from fitsense_core.synthetic import (
    SyntheticConfig,
    TableSet,
    generate_daily_signals,
    generate_plans,
    generate_users,
    generate_workouts,
)
from fitsense_core.synthetic.config import run_seed
from fitsense_core.synthetic.load import load_run

GROUP = "synthetic"


def _write(
    context: dg.AssetExecutionContext, store: ArtifactStore, tables: TableSet, main: str
) -> dg.MaterializeResult:
    asset = context.asset_key.to_user_string()
    prefix = layout.synthetic_tables(context.partition_key, asset)
    store.write_tables(tables, *prefix)
    context.log.info(f"{asset}: {sum(tables.row_counts().values()):,} rows -> {store.uri(*prefix)}")
    return dg.MaterializeResult(metadata=tableset_metadata(tables, main, store.uri(*prefix)))


@dg.asset(
    partitions_def=run_partitions,
    group_name=GROUP,
    kinds={"python", "parquet"},
    description="Snapshot of the reference data a run uses: exercise catalog, equipment, "
    "goals and conditions.",
)
def exercise_catalog(
    context: dg.AssetExecutionContext, artifact_store: ArtifactStoreResource
) -> dg.MaterializeResult:
    exercises = pd.DataFrame(
        [
            {
                "id": e.id,
                "slug": e.slug,
                "name": e.name,
                "primary_muscle": e.primary_muscle,
                "movement_pattern": e.movement_pattern,
                "category": e.category,
                "equipment": "|".join(e.equipment),
                "contraindication_tags": "|".join(e.contraindication_tags),
                "is_timed": e.is_timed,
                "load_factor": e.load_factor,
                "min_experience": e.min_experience,
            }
            for e in catalog()
        ]
    )
    tables = TableSet(
        {
            "exercises": exercises,
            "equipment": pd.DataFrame(
                [{"id": e.id, "code": e.code, "name": e.name} for e in EQUIPMENT]
            ),
            "goals": pd.DataFrame([{"id": g.id, "code": g.code, "name": g.name} for g in GOALS]),
            "conditions": pd.DataFrame(
                [
                    {
                        "id": c.id,
                        "code": c.code,
                        "name": c.name,
                        "contraindication_tags": "|".join(c.contraindication_tags),
                        "requires_clearance": c.requires_clearance,
                    }
                    for c in CONDITIONS
                ]
            ),
        }
    )
    result = _write(context, artifact_store.store(), tables, "exercises")
    by_muscle = exercises["primary_muscle"].value_counts().sort_index()
    result.metadata["exercises_per_muscle"] = dg.MetadataValue.json(by_muscle.to_dict())
    return result


class SyntheticUsersConfig(dg.Config):
    n_users: int = Field(default=200, description="How many people to generate (1-100,000).")
    seed: int = Field(
        default=42,
        description="Random seed: same seed, run id and settings, same data. The people "
        "are drawn from a seed derived from this and the run id (fresh_people_per_run).",
    )
    fresh_people_per_run: bool = Field(
        default=True,
        description="Draw the people from a seed derived from the seed and the run id, so "
        "every run trains on new people; false: the seed alone (a rerun repeats people).",
    )
    history_days: int = Field(default=90, description="Days of training history per person.")
    history_end: str = Field(
        default="", description="Last day of the history (YYYY-MM-DD). Empty: today (UTC)."
    )

    def synthetic_config(self, run_id: str) -> SyntheticConfig:
        end = date.fromisoformat(self.history_end) if self.history_end else datetime.now(UTC).date()
        return SyntheticConfig(
            run_id=run_id,
            n_users=self.n_users,
            seed=run_seed(self.seed, run_id) if self.fresh_people_per_run else self.seed,
            history_days=self.history_days,
            history_end=end,
        )


@dg.asset(
    partitions_def=run_partitions,
    group_name=GROUP,
    kinds={"python", "parquet"},
    deps=[exercise_catalog],
    description="People: profile, goals in priority order, preferences, equipment, "
    "conditions, injuries, medications and allergies.",
)
def synthetic_users(
    context: dg.AssetExecutionContext,
    config: SyntheticUsersConfig,
    artifact_store: ArtifactStoreResource,
) -> dg.MaterializeResult:
    settings = config.synthetic_config(context.partition_key)
    context.log.info(
        f"generating {settings.n_users:,} users (seed {settings.seed}, "
        f"{settings.history_days} days to {settings.history_end})"
    )
    users = generate_users(settings)
    result = _write(context, artifact_store.store(), users, "users")
    result.metadata["config"] = dg.MetadataValue.json(settings.as_meta())
    return result


@dg.asset(
    partitions_def=run_partitions,
    group_name=GROUP,
    kinds={"python", "parquet"},
    deps=[synthetic_users],
    description="Plan blueprints built by the training rules for each person, with versions.",
)
def synthetic_plans(
    context: dg.AssetExecutionContext, artifact_store: ArtifactStoreResource
) -> dg.MaterializeResult:
    store = artifact_store.store()
    plans = generate_plans(read_synthetic(store, context.partition_key, "synthetic_users"))
    return _write(context, store, plans, "workout_plans")


@dg.asset(
    partitions_def=run_partitions,
    group_name=GROUP,
    kinds={"python", "parquet"},
    deps=[synthetic_users, synthetic_plans],
    description="Sessions people did, with every set's reps, load and reps in reserve.",
)
def synthetic_workouts(
    context: dg.AssetExecutionContext, artifact_store: ArtifactStoreResource
) -> dg.MaterializeResult:
    store = artifact_store.store()
    run_id = context.partition_key
    workouts = generate_workouts(
        read_synthetic(store, run_id, "synthetic_users"),
        read_synthetic(store, run_id, "synthetic_plans"),
    )
    return _write(context, store, workouts, "workout_sets")


@dg.asset(
    partitions_def=run_partitions,
    group_name=GROUP,
    kinds={"python", "parquet"},
    deps=[synthetic_users, synthetic_workouts],
    description="Calories, sleep, body weight and readiness per day, and the targets.",
)
def synthetic_daily_signals(
    context: dg.AssetExecutionContext, artifact_store: ArtifactStoreResource
) -> dg.MaterializeResult:
    store = artifact_store.store()
    run_id = context.partition_key
    signals = generate_daily_signals(
        read_synthetic(store, run_id, "synthetic_users"),
        read_synthetic(store, run_id, "synthetic_workouts"),
    )
    return _write(context, store, signals, "readiness_logs")


@dg.asset(
    partitions_def=run_partitions,
    group_name=GROUP,
    kinds={"postgres"},
    deps=[synthetic_users, synthetic_plans, synthetic_workouts, synthetic_daily_signals],
    description="The run's synthetic data in the application's PostgreSQL tables "
    "(replaces an earlier load of the same run, all-or-nothing) — in local development "
    "only, unless FITSENSE_SYNTHETIC_TO_APP_DB says otherwise: elsewhere the tables hold "
    "real people, and nothing is loaded.",
)
def synthetic_app_tables(
    context: dg.AssetExecutionContext,
    artifact_store: ArtifactStoreResource,
    app_database: AppDatabaseResource,
) -> dg.MaterializeResult:
    store = artifact_store.store()
    run_id = context.partition_key
    url = app_database.resolved_url()
    if not synthetic_to_app_db(os.environ):
        reason = (
            f"not loaded: FITSENSE_ENV={deployment_environment(os.environ)} keeps synthetic "
            f"people out of the application's tables (set {SYNTHETIC_TO_APP_DB_ENV}=true "
            "to load them anyway)"
        )
        context.log.info(reason)
        return dg.MaterializeResult(
            metadata={"dagster/row_count": 0, "loaded": False, "reason": reason}
        )
    report = migrate(url)
    if report.applied:
        context.log.info(f"applied migrations {', '.join(report.applied)}")

    def stages() -> Iterator[TableSet]:
        for asset in SYNTHETIC_STAGES:
            yield read_synthetic(store, run_id, asset)

    load = load_run(url, run_id, stages(), progress=context.log.info)
    counts = pd.DataFrame({"table": list(load.rows), "rows": list(load.rows.values())})
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": load.total_rows,
            "row_counts": dg.MetadataValue.json(load.rows),
            "preview": dg.MetadataValue.md(markdown_table(counts, len(counts))),
            "database": describe_url(url),
            "fk_strategy": load.strategy,
            "replaced_users": load.deleted_users,
            "load_seconds": round(load.seconds, 2),
            "rows_per_second": round(load.total_rows / max(load.seconds, 1e-9)),
            "loaded": True,
        }
    )
