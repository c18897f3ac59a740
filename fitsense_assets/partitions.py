"""Partitions shared across pipeline stages: one dynamic partition per pipeline run."""

import dagster as dg

run_partitions = dg.DynamicPartitionsDefinition(name="run_id")
