"""Synthetic training history: the sessions people actually did, set by set.

Vectorised over all users. Each planned training day of the plan version in force is
attended with the person's adherence (lower during an occasional break); the logged
sets follow the plan's targets with day-to-day form and per-set fatigue, and loads
follow an estimated one-rep max that grows week by week at a rate set by experience.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from fitsense_core.reference import exercise_catalog
from fitsense_core.synthetic.config import SyntheticConfig
from fitsense_core.synthetic.tables import IdFactory, TableSet, row_index

# Weekly e1RM growth by experience: novices progress fastest.
PROGRESSION_PER_WEEK = {"beginner": 0.015, "intermediate": 0.006, "advanced": 0.0025}
EXPERIENCE_STRENGTH = {"beginner": 0.7, "intermediate": 1.0, "advanced": 1.25}
SEX_STRENGTH = {"M": 1.0, "F": 0.65, "other": 0.8}
BREAK_SHARE = 0.12


def _group_expand(starts: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For parents with children at ``starts[i] .. starts[i] + counts[i]``: (parent, child)."""
    parent = np.repeat(np.arange(len(counts)), counts)
    offsets = np.arange(len(parent)) - np.repeat(np.cumsum(counts) - counts, counts)
    return parent, starts[parent] + offsets


def _groups(owner_index: np.ndarray, n_owners: int) -> tuple[np.ndarray, np.ndarray]:
    """Start and count of each owner's rows; rows must be sorted by owner."""
    counts = np.bincount(owner_index, minlength=n_owners)
    return np.cumsum(counts) - counts, counts


def _timed_seconds(note: str | None) -> int:
    if not note:
        return 0
    if m := re.search(r"(\d+)\s*min", note):
        return int(m[1]) * 60
    if m := re.search(r"(\d+)(?:-(\d+))?\s*s\b", note):
        return int(m[2] or m[1])
    return 30


def _round_to(values: np.ndarray, step: np.ndarray) -> np.ndarray:
    return np.maximum(np.round(values / step) * step, step)


def generate_workouts(users: TableSet, plans: TableSet) -> TableSet:
    config = SyntheticConfig.from_meta(users.meta["config"])
    rng = np.random.default_rng([config.seed, 3])
    ids = IdFactory(config.run_id)
    traits = users["user_traits"].sort_values("user_index").reset_index(drop=True)
    n_users = len(traits)
    horizon = config.history_days
    start = datetime.combine(config.history_start, datetime.min.time(), tzinfo=UTC)
    start_weekday = config.history_start.weekday()  # Monday = 0

    # Plan versions and the days each is in force: [valid_from, valid_to) in day offsets.
    wp = plans["workout_plans"]
    plan_user = row_index(wp["user_id"])
    plan_from = np.clip(
        np.ceil((wp["created_at"] - start).dt.total_seconds().to_numpy() / 86400), 0, horizon
    ).astype(np.int64)
    plan_to = np.full(len(wp), horizon, dtype=np.int64)
    parent = wp["parent_plan_id"]
    has_parent = parent.notna().to_numpy()
    plan_to[row_index(parent[has_parent])] = plan_from[has_parent]

    # Every planned training session: a training plan day on each matching date.
    pdays = plans["plan_days"]
    day_plan = row_index(pdays["plan_id"])
    pex = plans["plan_exercises"]
    ex_day = row_index(pex["plan_day_id"])
    ex_start, ex_count = _groups(ex_day, len(pdays))
    training = np.flatnonzero(ex_count > 0)
    first_offset = (pdays["day_order"].to_numpy()[training] - 1 - start_weekday) % 7
    lo = plan_from[day_plan[training]]
    hi = plan_to[day_plan[training]]
    first = first_offset + ((np.maximum(lo - first_offset, 0) + 6) // 7) * 7
    n_sessions = np.maximum((hi - first + 6) // 7, 0)
    session_day_row, _ = _group_expand(np.zeros(len(training), dtype=np.int64), n_sessions)
    session_k = np.arange(len(session_day_row)) - np.repeat(
        np.cumsum(n_sessions) - n_sessions, n_sessions
    )
    session_plan_day = training[session_day_row]
    session_offset = first[session_day_row] + 7 * session_k
    session_user = plan_user[day_plan[session_plan_day]]

    # Attendance: adherence, and a 1-2 week break for some people.
    adherence = traits["adherence"].to_numpy()[session_user]
    break_start = rng.integers(0, horizon, n_users)
    break_len = np.where(rng.random(n_users) < BREAK_SHARE, rng.integers(7, 15, n_users), 0)
    on_break = (session_offset >= break_start[session_user]) & (
        session_offset < break_start[session_user] + break_len[session_user]
    )
    attended = (rng.random(len(session_user)) < adherence) & ~on_break
    order = np.lexsort((session_offset[attended], session_user[attended]))
    w_user = session_user[attended][order]
    w_day = session_plan_day[attended][order]
    w_offset = session_offset[attended][order]
    n_workouts = len(w_user)

    hour = traits["preferred_hour"].to_numpy()[w_user]
    started = (
        pd.Timestamp(start)
        + pd.to_timedelta(w_offset, unit="D")
        + pd.to_timedelta(hour * 60 + np.round(rng.normal(0, 35, n_workouts)), unit="min")
    )
    minutes = traits["session_length_min"].to_numpy()[w_user] * rng.uniform(0.8, 1.2, n_workouts)
    ended = started + pd.to_timedelta(np.round(minutes), unit="min")
    workouts = pd.DataFrame(
        {
            "id": ids.sequence("workouts", n_workouts),
            "user_id": ids.ids("users", w_user),
            "plan_id": ids.ids("workout_plans", day_plan[w_day]),
            "plan_day_id": ids.ids("plan_days", w_day),
            "started_at": started,
            "ended_at": ended,
            "created_at": ended,
        }
    )

    # Exercises done: the plan day's exercises, occasionally one skipped.
    we_workout, we_plan_ex = _group_expand(ex_start[w_day], ex_count[w_day])
    keep = rng.random(len(we_workout)) >= 0.04
    we_workout, we_plan_ex = we_workout[keep], we_plan_ex[keep]
    n_we = len(we_workout)
    catalog = {e.id: e for e in exercise_catalog()}
    ex_ids = pex["exercise_id"].astype(str).to_numpy()
    workout_exercises = pd.DataFrame(
        {
            "id": ids.sequence("workout_exercises", n_we),
            "workout_id": ids.ids("workouts", we_workout),
            "exercise_id": pex["exercise_id"].iloc[we_plan_ex].reset_index(drop=True),
            "position": pex["position"].to_numpy()[we_plan_ex],
        }
    )

    # Per plan exercise: what the catalog says about the movement.
    load_factor = np.array([catalog[x].load_factor for x in ex_ids])
    timed = np.array(
        [catalog[x].is_timed or catalog[x].category in ("cardio", "mobility") for x in ex_ids]
    )
    barbellish = np.array(
        [bool({"barbell", "ez_bar", "smith_machine"} & set(catalog[x].equipment)) for x in ex_ids]
    )
    bells = np.array([bool({"dumbbell", "kettlebell"} & set(catalog[x].equipment)) for x in ex_ids])
    step = np.where(barbellish, 2.5, np.where(bells, 1.0, 2.5))
    notes = pex["notes"].astype(object).where(pex["notes"].notna(), None)
    timed_seconds = np.array([_timed_seconds(n) for n in notes])

    # Sets: the plan's sets for each exercise done, the last one sometimes dropped.
    ps = plans["plan_sets"]
    ps_owner = row_index(ps["plan_exercise_id"])
    ps_start, ps_count = _groups(ps_owner, len(pex))
    set_we, set_ps = _group_expand(ps_start[we_plan_ex], ps_count[we_plan_ex])
    set_no = ps["set_number"].to_numpy()[set_ps].astype(np.int64)
    last = set_no == ps_count[we_plan_ex][set_we]
    keep = ~(last & (set_no > 1) & (rng.random(len(set_we)) < 0.05))
    set_we, set_ps, set_no = set_we[keep], set_ps[keep], set_no[keep]
    n_sets = len(set_we)

    plan_ex = we_plan_ex[set_we]
    workout = we_workout[set_we]
    user = w_user[workout]
    target_reps = ps["target_reps"].to_numpy()[set_ps].astype(np.float64)
    target_rir = ps["target_rir"].to_numpy()[set_ps].astype(np.float64)
    form = rng.normal(0, 0.7, n_workouts)[workout]  # good and bad days
    fatigue = 0.35 * (set_no - 1)
    reps = np.clip(
        np.round(target_reps + form + rng.normal(0, 0.8, n_sets) - fatigue),
        np.maximum(1, target_reps - 5),
        np.minimum(30, target_reps + 5),
    )
    rir = np.clip(
        np.round(target_rir + 0.6 * form + rng.normal(0, 0.6, n_sets) - 0.25 * (set_no - 1)), 0, 5
    )

    experience = traits["experience"].astype(str).to_numpy()
    sex = traits["sex"].astype(str).to_numpy()
    body = traits["start_weight_kg"].to_numpy()
    strength = (
        traits["strength_level"].to_numpy()
        * np.array([EXPERIENCE_STRENGTH[e] for e in experience])
        * np.array([SEX_STRENGTH[s] for s in sex])
        * np.where(traits["age"].to_numpy() > 50, 0.85, 1.0)
    )
    weekly = np.array([PROGRESSION_PER_WEEK[e] for e in experience])
    week = w_offset[workout] / 7.0
    # load_factor is an 8-rep load at about 2 RIR, i.e. e1RM = load × (1 + 10/30).
    e1rm = body[user] * load_factor[plan_ex] * strength[user] * (4 / 3) * (1 + weekly[user] * week)
    weight = e1rm / (1 + (target_reps + target_rir) / 30) * rng.normal(1, 0.02, n_sets)
    loaded = (load_factor[plan_ex] > 0) & ~timed[plan_ex]
    weight = np.where(loaded, _round_to(weight, step[plan_ex]), np.nan)

    is_timed = timed[plan_ex]
    duration = np.where(
        is_timed, np.round(timed_seconds[plan_ex] * rng.uniform(0.85, 1.1, n_sets)), np.nan
    )
    reps = np.where(is_timed, 1, reps)
    rir = np.where(is_timed, np.nan, rir)

    # A warm-up set before the first loaded lift for most non-beginners.
    warm = (
        (pex["position"].to_numpy()[we_plan_ex] == 1)
        & (load_factor[we_plan_ex] > 0)
        & ~timed[we_plan_ex]
        & (experience[w_user[we_workout]] != "beginner")
        & (rng.random(n_we) < 0.6)
    )
    offset = warm.astype(np.int64)
    first_set = np.flatnonzero(set_no == 1)
    warm_sets = first_set[warm[set_we[first_set]]]

    def column(values: np.ndarray, warm_values: np.ndarray) -> np.ndarray:
        return np.concatenate([values, warm_values])

    sets = pd.DataFrame(
        {
            "workout_exercise_id": ids.ids("workout_exercises", column(set_we, set_we[warm_sets])),
            "set_number": column(
                set_no + offset[set_we], np.ones(len(warm_sets), dtype=np.int64)
            ).astype(np.int16),
            "reps": column(reps, np.full(len(warm_sets), 8.0)).astype(np.int16),
            "weight_kg": column(
                weight, _round_to(weight[warm_sets] * 0.5, step[plan_ex[warm_sets]])
            ),
            "rir": pd.array(column(rir, np.full(len(warm_sets), np.nan)), dtype="Int16"),
            "duration_seconds": pd.array(
                column(duration, np.full(len(warm_sets), np.nan)), dtype="Int32"
            ),
            "is_warmup": column(np.zeros(n_sets, dtype=bool), np.ones(len(warm_sets), dtype=bool)),
        }
    )
    sets.insert(0, "id", ids.sequence("workout_sets", len(sets)))
    return TableSet(
        {"workouts": workouts, "workout_exercises": workout_exercises, "workout_sets": sets},
        dict(users.meta),
    )
