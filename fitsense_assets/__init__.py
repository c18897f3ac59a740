"""The FitSense Dagster code location: assets, checks, resources and jobs under ``defs/``."""
