"""Run a command with FitSense's secret settings resolved: the Dagster units' ExecStart.

/etc/fitsense/dagster.env (deploy/dagster/vm/dagster.env) names the secrets as Secret
Manager references (``FITSENSE_DATABASE_URL=sm://fitsense-prod-database-url``) or files
(``NAME_FILE=/path``), never their values. FitSense's own code resolves those itself, but
Dagster's webserver and daemon read ``FITSENSE_DAGSTER_STORAGE_URL`` from the environment
before any FitSense code runs (dagster.yaml: ``postgres_url: {env: …}``). This resolves all
of them once, with the VM's service account (``fitsense_core.secrets.load_secrets``), and
replaces itself with the command, so that Dagster and every run and code server it starts
see plain values. Nothing is written to disk and no value is printed.

    /opt/fitsense/.venv/bin/python /opt/fitsense/deploy/dagster/vm/with_secrets.py \\
        /opt/fitsense/.venv/bin/dagster-daemon run -w /opt/fitsense/workspace.yaml
"""

from __future__ import annotations

import os
import sys

# systemd's "configuration error" status (EX_CONFIG): Restart=on-failure retries it.
EX_CONFIG = 78


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: with_secrets.py COMMAND [ARG...]", file=sys.stderr)
        return 2
    from fitsense_core.errors import FitSenseError
    from fitsense_core.secrets import load_secrets

    try:
        sources = load_secrets()
    except FitSenseError as exc:  # the message names the setting and its source only
        print(f"error: {exc}", file=sys.stderr)
        return EX_CONFIG
    for setting, source in sorted(sources.items()):
        print(f"{setting}: from {source}", file=sys.stderr)
    os.execv(argv[0], argv)
    return 127  # not reached: execv replaces this process or raises


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
