"""Reading pipeline stages' artifacts back (where they live: :mod:`fitsense_core.layout`)."""

import pandas as pd

from fitsense_core import layout
from fitsense_core.artifacts import ArtifactStore
from fitsense_core.errors import DataValidationError
from fitsense_core.prompts import Prompt
from fitsense_core.synthetic import TableSet
from fitsense_core.teacher.base import TeacherAnswer

SYNTHETIC_STAGES = (
    "synthetic_users",
    "synthetic_plans",
    "synthetic_workouts",
    "synthetic_daily_signals",
)


def read_synthetic(store: ArtifactStore, run_id: str, asset: str) -> TableSet:
    return store.read_tables(*layout.synthetic_tables(run_id, asset))


def read_prompts(store: ArtifactStore, run_id: str) -> list[Prompt]:
    frame = store.read_tables(*layout.teacher_prompts(run_id))["prompts"]
    return [Prompt.from_record(row) for row in frame.astype(object).to_dict("records")]


def read_answers(store: ArtifactStore, run_id: str) -> list[TeacherAnswer]:
    frame = store.read_tables(*layout.teacher_answers(run_id))["answers"]
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    ints = ("attempts", "latency_ms", "prompt_tokens", "completion_tokens")
    return [
        TeacherAnswer(
            **{k: int(row[k]) if k in ints else row[k] for k in TeacherAnswer.__dataclass_fields__}
        )
        for row in rows
    ]


def read_validation(store: ArtifactStore, run_id: str) -> pd.DataFrame:
    return store.read_tables(*layout.validation_tables(run_id))["validated"]


def current_student(store: ArtifactStore, run_id: str) -> dict:
    """The student version this run trained (written by ``student_model``)."""
    if not store.exists(*layout.student_model_of_run(run_id)):
        raise DataValidationError(f"run {run_id} has not trained a student yet")
    return store.read_json(*layout.student_model_of_run(run_id))
