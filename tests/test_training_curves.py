"""The student's loss curves: built from the trainer's log history, stored next to the
model version, and shown on the training asset (a plot and a table)."""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path

import pytest

from fitsense_core.student.curves import curve_table, loss_curve, plot_curve

PNG = b"\x89PNG\r\n\x1a\n"


def _history(steps: int = 60, eval_every: int = 30) -> list[dict]:
    """What transformers' Trainer logs: a loss per step, an eval_loss per evaluation (with
    one before training), and a closing summary line without a loss."""
    history: list[dict] = [{"step": 0, "eval_loss": 3.0, "epoch": 0.0}]
    for step in range(1, steps + 1):
        history.append(
            {"step": step, "loss": 3.0 - step / 30, "learning_rate": 1e-3, "epoch": step / 60}
        )
        if step % eval_every == 0:
            history.append({"step": step, "eval_loss": 2.9 - step / 60, "eval_runtime": 2.0})
    history.append({"step": steps, "train_runtime": 100.0, "train_loss": 2.0})
    return history


def test_curve_pairs_losses_by_step() -> None:
    curve = loss_curve(_history())
    points = curve["points"]
    assert [p["step"] for p in points] == list(range(0, 61))
    assert points[0] == {"step": 0, "train_loss": None, "val_loss": 3.0, "learning_rate": None}
    assert points[30]["train_loss"] == pytest.approx(2.0) and points[30]["val_loss"] == 2.4
    assert points[60]["val_loss"] == pytest.approx(1.9)
    s = curve["summary"]
    assert (s["train_points"], s["val_points"]) == (60, 3)
    assert s["first_val_loss"] == 3.0 and s["best_val_step"] == 60
    assert s["val_still_falling"] is True
    assert s["final_train_loss_mean"] == pytest.approx(
        sum(3 - k / 30 for k in range(55, 61)) / 6, abs=1e-4
    )
    # The run's closing summary ("train_loss") is not a step's loss.
    assert points[60]["train_loss"] == pytest.approx(1.0)


def test_a_resumed_run_keeps_the_first_value_of_a_repeated_step() -> None:
    history = [*_history(4, 2), {"step": 4, "eval_loss": 9.9}, {"step": 5, "loss": float("nan")}]
    curve = loss_curve(history)
    assert curve["points"][-1]["step"] == 4 and curve["points"][-1]["val_loss"] != 9.9
    assert all(p["train_loss"] is None or math.isfinite(p["train_loss"]) for p in curve["points"])


def test_table_shows_every_step_of_a_short_run_and_every_evaluation_of_a_long_one() -> None:
    short = curve_table(loss_curve(_history()))
    lines = short.splitlines()
    assert lines[0] == "| step | train loss | val loss |"
    assert len(lines) == 2 + 61
    assert "| 0 |  | 3.0000 |" in lines and "| 30 | 2.0000 | 2.4000 |" in lines
    long_curve = loss_curve(_history(2000, 50))
    table = curve_table(long_curve, max_rows=100)
    rows = table.splitlines()[2:]
    assert len(rows) <= 100 + 41
    shown = {int(r.split("|")[1]) for r in rows}
    assert {p["step"] for p in long_curve["points"] if p["val_loss"] is not None} <= shown
    assert {0, 2000} <= shown
    assert curve_table(loss_curve([])) == "(no losses were logged)"


def test_plot_is_a_png(tmp_path: Path) -> None:
    path = tmp_path / "curves.png"
    data = plot_curve(loss_curve(_history()), path)
    assert data[:8] == PNG and path.read_bytes() == data
    assert plot_curve(loss_curve([]))[:8] == PNG  # an empty run still gets a (blank) plot


# --- a real (tiny) training run through the training asset ---------------------------------

TINY = {"max_steps": 4, "eval_steps": 2, "save_steps": 2, "max_eval_examples": 2}


@pytest.mark.slow
def test_training_asset_stores_and_shows_the_curves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dagster as dg

    from fitsense_assets.defs.training.assets import student_model, student_training_set
    from fitsense_assets.partitions import run_partitions
    from fitsense_assets.resources import ArtifactStoreResource
    from fitsense_core import layout
    from fitsense_core.artifacts import ArtifactStore
    from fitsense_core.distill import build_records, write_dataset
    from fitsense_core.prompts import build_prompts
    from fitsense_core.qa import validate_answers
    from fitsense_core.student.training import prepare_base_model
    from fitsense_core.synthetic import SyntheticConfig, generate_run
    from fitsense_core.synthetic.context import user_contexts
    from fitsense_core.teacher.offline import OfflineTeacher, offline_answer

    monkeypatch.setenv("FITSENSE_HOME", str(tmp_path / "home"))
    store = ArtifactStore(str(tmp_path / "artifacts"))
    run_id = "curves"
    config = SyntheticConfig(run_id=run_id, n_users=12, history_days=21)
    prompts = [
        p
        for p in build_prompts(run_id, user_contexts(*generate_run(config)))
        if p.output_type == "reply" or p.expected_safety_level != "emergency"
    ]
    teacher = OfflineTeacher()
    answers = [offline_answer(p, teacher) for p in prompts]
    accepted = [v for v in validate_answers(prompts, answers) if v.accepted]
    write_dataset(store, run_id, build_records(accepted), teachers={}, rejected=0)
    base = prepare_base_model("", tmp_path / "base-cache")
    store.upload_dir(base.path, *layout.base_model(base.digest))
    store.write_json(
        {"source": base.source, "digest": base.digest, "uri": ""},
        *layout.base_model_of_run(run_id),
    )

    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(run_partitions.name, [run_id])
    result = dg.materialize(
        [student_training_set, student_model],
        partition_key=run_id,
        instance=instance,
        resources={"artifact_store": ArtifactStoreResource(root=str(tmp_path / "artifacts"))},
        run_config={"ops": {"student_model": {"config": TINY}}},
    )
    assert result.success
    metadata = result.asset_materializations_for_node("student_model")[0].metadata
    version = metadata["version"].value

    # The curve next to the model version: a loss per step, validation before the first
    # step (the base model) and at each evaluation.
    stored = store.read_json(*layout.student_model(version), layout.TRAINING_CURVES)
    assert stored["version"] == version
    steps = {p["step"]: p for p in stored["points"]}
    assert [s for s, p in steps.items() if p["train_loss"] is not None] == [1, 2, 3, 4]
    assert [s for s, p in steps.items() if p["val_loss"] is not None] == [0, 2, 4]
    assert store.read_bytes(*layout.student_model(version), layout.TRAINING_CURVES_PNG)[:8] == PNG

    # In the UI: the plot as a markdown image, the table of every step, the summary.
    image = metadata["training_curves"].value
    prefix = "![training and validation loss](data:image/png;base64,"
    assert image.startswith(prefix) and image.endswith(")")
    assert base64.b64decode(image[len(prefix) : -1])[:8] == PNG
    table = metadata["losses"].value.splitlines()
    assert table[0] == "| step | train loss | val loss |" and len(table) == 2 + 5
    assert metadata["initial_validation_loss"].value == steps[0]["val_loss"]
    assert metadata["best_validation_loss"].value == min(
        p["val_loss"] for p in steps.values() if p["val_loss"] is not None
    )
    assert metadata["curves_json"].value.endswith(layout.TRAINING_CURVES)
    work = json.loads(
        next(
            (tmp_path / "artifacts/models/student/training").glob("*/training_metrics.json")
        ).read_text()
    )
    assert work["curve"]["points"] == stored["points"]
