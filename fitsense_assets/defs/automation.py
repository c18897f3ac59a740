import dagster as dg

# Evaluates the assets' automation conditions (fitsense_assets.automation) in the daemon.
freshness_sensor = dg.AutomationConditionSensorDefinition(
    "keep_derived_assets_fresh",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Re-materializes a run's QA reports and distillation dataset when its "
    "prompts or teacher answers change, once their blocking checks pass.",
)
