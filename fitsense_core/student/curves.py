"""The student's loss curves: training loss at every logging step and validation loss at
every evaluation, from the trainer's log history.

Why: the final numbers alone do not say whether a run under- or over-trained, or whether
the validation loss was still falling when the step budget ran out; whoever tunes the
steps and learning rate needs the whole curve, next to the model version it produced
(``layout.TRAINING_CURVES``) and in the Dagster UI (a plot and a table).
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

TABLE_ROWS = 100
SMOOTHING = 0.8  # weight of the past in the plotted moving average of the training loss


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def loss_curve(history: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Per step: training loss, validation loss and learning rate (None where that step
    logged none), plus a summary. A step logged twice (an evaluation repeated after a
    resume) keeps its first value."""
    steps: dict[int, dict[str, Any]] = {}
    for entry in history:
        if "step" not in entry:
            continue
        step = int(entry["step"])
        point = steps.setdefault(
            step, {"step": step, "train_loss": None, "val_loss": None, "learning_rate": None}
        )
        for key, name in (
            ("loss", "train_loss"),
            ("eval_loss", "val_loss"),
            ("learning_rate", "learning_rate"),
        ):
            value = _number(entry.get(key))
            if value is not None and point[name] is None:
                point[name] = value
    points = [
        p
        for _s, p in sorted(steps.items())
        if p["train_loss"] is not None or p["val_loss"] is not None
    ]
    train = [(p["step"], p["train_loss"]) for p in points if p["train_loss"] is not None]
    val = [(p["step"], p["val_loss"]) for p in points if p["val_loss"] is not None]
    best = min(val, key=lambda sv: sv[1]) if val else None
    tail = [loss for _s, loss in train[-max(1, len(train) // 10) :]]
    summary = {
        "train_points": len(train),
        "val_points": len(val),
        "first_train_loss": train[0][1] if train else None,
        "last_train_loss": train[-1][1] if train else None,
        # The mean of the last tenth: one step's loss on a batch of four is noisy.
        "final_train_loss_mean": round(sum(tail) / len(tail), 4) if train else None,
        "min_train_loss": min(loss for _s, loss in train) if train else None,
        "first_val_loss": val[0][1] if val else None,
        "last_val_loss": val[-1][1] if val else None,
        "best_val_loss": best[1] if best else None,
        "best_val_step": best[0] if best else None,
        # Falling validation loss at the last evaluation: more steps would likely help.
        "val_still_falling": len(val) >= 2 and val[-1][1] < val[-2][1],
    }
    return {"points": points, "summary": summary}


def _smoothed(values: list[float], weight: float = SMOOTHING) -> list[float]:
    out, last = [], None
    for value in values:
        last = value if last is None else weight * last + (1 - weight) * value
        out.append(last)
    return out


def plot_curve(curve: Mapping[str, Any], path: Path | None = None) -> bytes:
    """The curve as a PNG (written to ``path`` too when given): training loss per step and
    its moving average, validation loss at each evaluation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = curve["points"]
    train = [(p["step"], p["train_loss"]) for p in points if p["train_loss"] is not None]
    val = [(p["step"], p["val_loss"]) for p in points if p["val_loss"] is not None]
    fig, ax = plt.subplots(figsize=(7, 3.8), dpi=100)
    if train:
        steps, losses = zip(*train, strict=True)
        ax.plot(steps, losses, color="tab:blue", alpha=0.35, linewidth=1, label="training loss")
        ax.plot(
            steps,
            _smoothed(list(losses)),
            color="tab:blue",
            linewidth=2,
            label="training loss (moving average)",
        )
    if val:
        ax.plot(*zip(*val, strict=True), color="tab:orange", marker="o", label="validation loss")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (assistant tokens)")
    ax.set_title("Student LoRA fine-tuning")
    ax.grid(alpha=0.3)
    if train or val:
        ax.legend()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    data = buffer.getvalue()
    if path is not None:
        path.write_bytes(data)
    return data


def curve_table(curve: Mapping[str, Any], max_rows: int = TABLE_ROWS) -> str:
    """A markdown table of (step, training loss, validation loss): every step of a short
    run; of a long one every evaluation and evenly spaced steps between them."""
    points = curve["points"]
    if not points:
        return "(no losses were logged)"
    if len(points) > max_rows:
        keep = {0, len(points) - 1}
        keep |= {i for i, p in enumerate(points) if p["val_loss"] is not None}
        stride = max(1, math.ceil(len(points) / max(1, max_rows - len(keep))))
        keep |= set(range(0, len(points), stride))
        points = [p for i, p in enumerate(points) if i in keep]

    def cell(value: float | None) -> str:
        return "" if value is None else f"{value:.4f}"

    lines = ["| step | train loss | val loss |", "| ---: | ---: | ---: |"]
    lines += [f"| {p['step']} | {cell(p['train_loss'])} | {cell(p['val_loss'])} |" for p in points]
    return "\n".join(lines)
