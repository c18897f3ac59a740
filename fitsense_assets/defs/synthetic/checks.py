"""Blocking checks: a synthetic run with broken references, out-of-range values or an
exercise that is unsafe for its person never reaches PostgreSQL or training."""

import os

import dagster as dg

from fitsense_assets.defs.synthetic.assets import (
    exercise_catalog,
    synthetic_app_tables,
    synthetic_daily_signals,
    synthetic_plans,
    synthetic_users,
    synthetic_workouts,
)
from fitsense_assets.resources import AppDatabaseResource, ArtifactStoreResource
from fitsense_assets.stages import SYNTHETIC_STAGES, read_synthetic
from fitsense_core import layout
from fitsense_core.database import connect
from fitsense_core.reference import BODY_REGION_TAGS, CONDITIONS, catalog_coverage_gaps
from fitsense_core.settings import synthetic_to_app_db
from fitsense_core.synthetic.load import count_run_rows
from fitsense_core.synthetic.validation import (
    CheckResult,
    check_daily_signals,
    check_plans,
    check_users,
    check_workouts,
)


def _result(result: CheckResult) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=result.passed,
        description=result.summary(),
        metadata={
            "checked_rows": result.checked_rows,
            "problems": dg.MetadataValue.json(result.problems[:50]),
        },
    )


@dg.asset_check(
    asset=exercise_catalog,
    blocking=True,
    description="Every condition and injury still leaves a home-friendly exercise "
    "for each major muscle group.",
)
def exercise_catalog_coverage(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    restrictions = {f"condition:{c.code}": set(c.contraindication_tags) for c in CONDITIONS}
    restrictions |= {f"injury:{r}": set(tags) for r, tags in BODY_REGION_TAGS.items()}
    result = CheckResult("exercise_catalog", checked_rows=len(restrictions))
    result.problems = catalog_coverage_gaps(restrictions)
    return _result(result)


@dg.asset_check(
    asset=synthetic_users,
    blocking=True,
    description="References, uniqueness, enums and ranges of the people.",
)
def synthetic_users_valid(
    context: dg.AssetCheckExecutionContext, artifact_store: ArtifactStoreResource
) -> dg.AssetCheckResult:
    users = read_synthetic(artifact_store.store(), context.partition_key, "synthetic_users")
    return _result(check_users(users))


@dg.asset_check(
    asset=synthetic_plans,
    blocking=True,
    description="Plan references and ranges, one active plan per person, the "
    "requested training days, available equipment and no contraindicated exercise.",
)
def synthetic_plans_safe_and_valid(
    context: dg.AssetCheckExecutionContext, artifact_store: ArtifactStoreResource
) -> dg.AssetCheckResult:
    store = artifact_store.store()
    run_id = context.partition_key
    return _result(
        check_plans(
            read_synthetic(store, run_id, "synthetic_users"),
            read_synthetic(store, run_id, "synthetic_plans"),
        )
    )


@dg.asset_check(
    asset=synthetic_workouts,
    blocking=True,
    description="Workouts reference the person's own plan days, sets their "
    "exercises; values in range; no contraindicated exercise logged.",
)
def synthetic_workouts_valid(
    context: dg.AssetCheckExecutionContext, artifact_store: ArtifactStoreResource
) -> dg.AssetCheckResult:
    store = artifact_store.store()
    run_id = context.partition_key
    return _result(
        check_workouts(
            read_synthetic(store, run_id, "synthetic_users"),
            read_synthetic(store, run_id, "synthetic_plans"),
            read_synthetic(store, run_id, "synthetic_workouts"),
        )
    )


@dg.asset_check(
    asset=synthetic_daily_signals,
    blocking=True,
    description="One row per person per day per signal, values in range, one "
    "active target per person.",
)
def synthetic_daily_signals_valid(
    context: dg.AssetCheckExecutionContext, artifact_store: ArtifactStoreResource
) -> dg.AssetCheckResult:
    store = artifact_store.store()
    run_id = context.partition_key
    return _result(
        check_daily_signals(
            read_synthetic(store, run_id, "synthetic_users"),
            read_synthetic(store, run_id, "synthetic_daily_signals"),
        )
    )


@dg.asset_check(
    asset=synthetic_app_tables,
    blocking=True,
    description="PostgreSQL holds exactly the rows the run's artifacts hold — none at all "
    "where synthetic people are kept out of the application's tables (outside local "
    "development).",
)
def synthetic_app_tables_match_artifacts(
    context: dg.AssetCheckExecutionContext,
    artifact_store: ArtifactStoreResource,
    app_database: AppDatabaseResource,
) -> dg.AssetCheckResult:
    store = artifact_store.store()
    run_id = context.partition_key
    expected: dict[str, int] = {}
    loaded = synthetic_to_app_db(os.environ)
    for stage in SYNTHETIC_STAGES:
        manifest = store.read_json(*layout.synthetic_tables(run_id, stage), "manifest.json")
        expected |= {
            name: entry["rows"] if loaded else 0 for name, entry in manifest["tables"].items()
        }
    with connect(app_database.resolved_url()) as conn:
        actual = count_run_rows(conn, run_id)
    result = CheckResult("synthetic_app_tables", checked_rows=sum(actual.values()))
    for table, rows in actual.items():
        if rows != expected.get(table):
            result.add(f"{table}: {rows} rows in PostgreSQL, {expected.get(table)} in artifacts")
    return _result(result)
