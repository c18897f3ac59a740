"""Shared FitSense domain code: settings, database access, reference data, training
knowledge and the synthetic-data generator. Every other package imports from here."""
