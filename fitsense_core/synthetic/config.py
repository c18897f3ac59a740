"""What a synthetic run is generated from."""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass
from datetime import date

from fitsense_core.errors import ConfigurationError

RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_USERS = 100_000


def validate_run_id(run_id: str) -> str:
    if not RUN_ID_PATTERN.match(run_id):
        raise ConfigurationError(
            f"run id {run_id!r} is invalid: use 1-64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    return run_id


def run_seed(seed: int, run_id: str) -> int:
    """A run's own seed, from the configured seed and the run id: every run draws new
    people. Below 2**60, so it never meets the golden set's seeds (top bit of 64 set)."""
    digest = hashlib.sha256(f"fitsense/run-people/{seed}/{run_id}".encode()).hexdigest()
    return int(digest[:15], 16)


@dataclass(frozen=True)
class SyntheticConfig:
    """Everything the synthetic data depends on: same config, same data."""

    run_id: str
    n_users: int = 200
    seed: int = 42
    history_days: int = 90
    history_end: date = date(2026, 11, 1)

    def __post_init__(self) -> None:
        validate_run_id(self.run_id)
        if not 1 <= self.n_users <= MAX_USERS:
            raise ConfigurationError(
                f"n_users must be between 1 and {MAX_USERS}, got {self.n_users}"
            )
        if not 14 <= self.history_days <= 730:
            raise ConfigurationError(
                f"history_days must be between 14 and 730, got {self.history_days}"
            )

    @property
    def history_start(self) -> date:
        from datetime import timedelta

        return self.history_end - timedelta(days=self.history_days - 1)

    def as_meta(self) -> dict[str, object]:
        meta = asdict(self)
        meta["history_end"] = self.history_end.isoformat()
        return meta

    @classmethod
    def from_meta(cls, meta: dict[str, object]) -> SyntheticConfig:
        values = dict(meta)
        values["history_end"] = date.fromisoformat(str(values["history_end"]))
        return cls(**values)  # type: ignore[arg-type]
