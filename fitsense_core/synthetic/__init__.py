"""Synthetic FitSense users and their training history, reproducible from a seed.

The generator is plain Python/NumPy (no Dagster): ``generate_users`` →
``generate_plans`` → ``generate_workouts`` → ``generate_daily_signals``. Each step
returns a :class:`TableSet` whose frames have exactly the columns of the PostgreSQL
tables they load into (``load_run`` does that with COPY).
"""

from collections.abc import Iterator

from fitsense_core.synthetic.config import SyntheticConfig
from fitsense_core.synthetic.plans import generate_plans
from fitsense_core.synthetic.signals import generate_daily_signals
from fitsense_core.synthetic.tables import TableSet
from fitsense_core.synthetic.users import generate_users
from fitsense_core.synthetic.workouts import generate_workouts


def generate_run(config: SyntheticConfig) -> Iterator[TableSet]:
    """The four stages of a run, each generated when the previous one has been consumed
    (so a loader can copy one stage while the next is generated)."""
    users = generate_users(config)
    yield users
    plans = generate_plans(users)
    yield plans
    workouts = generate_workouts(users, plans)
    yield workouts
    yield generate_daily_signals(users, workouts)


__all__ = [
    "SyntheticConfig",
    "TableSet",
    "generate_daily_signals",
    "generate_plans",
    "generate_run",
    "generate_users",
    "generate_workouts",
]
