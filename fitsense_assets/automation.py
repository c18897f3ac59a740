"""Declarative automation: which derived assets keep themselves fresh, and the sensor that
evaluates it.

The QA reports and the distillation dataset are cheap and fully determined by their
inputs, so when a run's prompts or teacher answers are materialized again (a new teacher
in the UI, say), they follow for that run_id partition — but only once every blocking
check of their inputs has passed, so a bad batch of answers never reaches a dataset.
Training and promotion stay behind the pipeline job and the retraining sensor: they cost
minutes and change what users are served.
"""

import dagster as dg

REFRESH_WHEN_INPUTS_CHANGE = (
    dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed()
).with_label("refresh when inputs change, once their blocking checks pass")
