"""Reading and writing each pipeline stage's artifacts: one place for the layout."""

import pandas as pd

from fitsense_core.artifacts import ArtifactStore
from fitsense_core.prompts import Prompt
from fitsense_core.synthetic import TableSet
from fitsense_core.teacher.base import TeacherAnswer

SYNTHETIC_STAGES = (
    "synthetic_users",
    "synthetic_plans",
    "synthetic_workouts",
    "synthetic_daily_signals",
)


def synthetic_prefix(run_id: str, asset: str) -> tuple[str, ...]:
    return ("datasets", "synthetic", run_id, asset)


def read_synthetic(store: ArtifactStore, run_id: str, asset: str) -> TableSet:
    return store.read_tables(*synthetic_prefix(run_id, asset))


def prompts_prefix(run_id: str) -> tuple[str, ...]:
    return ("teacher_outputs", run_id, "prompts")


def answers_prefix(run_id: str) -> tuple[str, ...]:
    return ("teacher_outputs", run_id, "answers")


def reports_prefix(run_id: str) -> tuple[str, ...]:
    return ("reports", run_id)


def read_prompts(store: ArtifactStore, run_id: str) -> list[Prompt]:
    frame = store.read_tables(*prompts_prefix(run_id))["prompts"]
    return [Prompt.from_record(row) for row in frame.astype(object).to_dict("records")]


def read_answers(store: ArtifactStore, run_id: str) -> list[TeacherAnswer]:
    frame = store.read_tables(*answers_prefix(run_id))["answers"]
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    ints = ("attempts", "latency_ms", "prompt_tokens", "completion_tokens")
    return [
        TeacherAnswer(
            **{k: int(row[k]) if k in ints else row[k] for k in TeacherAnswer.__dataclass_fields__}
        )
        for row in rows
    ]


def read_validation(store: ArtifactStore, run_id: str) -> pd.DataFrame:
    return store.read_tables(*reports_prefix(run_id), "validation")["validated"]
