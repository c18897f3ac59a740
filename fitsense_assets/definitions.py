"""Entry point of the code location: everything is discovered from ``defs/``."""

from pathlib import Path

import dagster as dg

from fitsense_core.secrets import load_secrets


@dg.definitions
def defs() -> dg.Definitions:
    # Secret settings given as NAME_FILE or sm:// references (each step pod loads the
    # code location, so each resolves them itself).
    load_secrets()
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
