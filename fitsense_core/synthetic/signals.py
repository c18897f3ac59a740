"""Synthetic daily signals: calories, sleep, body weight, readiness, and the targets.

Vectorised over a users × days grid. Intake follows energy balance (maintenance from
Mifflin-St Jeor and activity, plus the surplus or deficit that produces the person's
weight trend), so weight, intake and goal agree. Soreness rises the day after a
session, energy and mood follow sleep. Each signal is logged with the person's own
habit, with extra gaps during an occasional week away.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd

from fitsense_core.coach.physiology import KCAL_PER_KG, maintenance_kcal
from fitsense_core.synthetic.config import SyntheticConfig
from fitsense_core.synthetic.tables import IdFactory, TableSet, arrow_dates, row_index

GOAL_CALORIE_ADJUSTMENT = {
    "fat_loss": -500,
    "muscle_gain": 300,
    "strength": 200,
    "endurance": 0,
    "general_fitness": 0,
}


def _long(
    ids: IdFactory, table: str, mask: np.ndarray, dates: np.ndarray, columns: dict[str, np.ndarray]
) -> pd.DataFrame:
    """Logged cells of a users × days grid as rows."""
    user, day = np.nonzero(mask)
    frame = pd.DataFrame(
        {
            "id": ids.sequence(table, len(user)),
            "user_id": ids.ids("users", user),
            "log_date": arrow_dates(dates[day]),
        }
    )
    for name, grid in columns.items():
        frame[name] = grid[user, day]
    return frame


def generate_daily_signals(users: TableSet, workouts: TableSet) -> TableSet:
    config = SyntheticConfig.from_meta(users.meta["config"])
    rng = np.random.default_rng([config.seed, 4])
    ids = IdFactory(config.run_id)
    t = users["user_traits"].sort_values("user_index").reset_index(drop=True)
    n, days = len(t), config.history_days
    dates = np.datetime64(config.history_start, "D") + np.arange(days)
    weekend = ((dates.astype(np.int64) + 3) % 7) >= 5  # 1970-01-01 was a Thursday
    day = np.arange(days)

    sex = t["sex"].astype(str).to_numpy()
    age = t["age"].to_numpy()
    height = t["height_cm"].to_numpy()
    goal = t["primary_goal"].astype(str).to_numpy()
    activity = t["activity_level"].astype(str).to_numpy()
    w0 = t["start_weight_kg"].to_numpy()
    slope = t["weight_slope_kg_per_week"].to_numpy()

    # Weight: the trend plus day-to-day water swings.
    trend = w0[:, None] + slope[:, None] * day[None, :] / 7
    weight = np.round(trend + rng.normal(0, 0.35, (n, days)), 1)
    bmi = w0 / (height / 100) ** 2
    sex_bf = np.select([sex == "M", sex == "F"], [1.0, 0.0], 0.5)
    bf0 = np.clip(1.2 * bmi + 0.23 * age - 10.8 * sex_bf - 5.4, 6, 55)  # Deurenberg
    body_fat = np.round(bf0[:, None] * trend / w0[:, None] + rng.normal(0, 0.6, (n, days)), 1)

    maintenance = maintenance_kcal(w0, height, age, sex, activity)
    intake_mean = maintenance + slope * KCAL_PER_KG / 7
    intake = np.round(
        intake_mean[:, None] * (1 + 0.08 * weekend[None, :]) * rng.normal(1, 0.1, (n, days))
    ).clip(600, 9000)
    target = np.clip(
        np.round((maintenance + np.array([GOAL_CALORIE_ADJUSTMENT[g] for g in goal])) / 50) * 50,
        1200,
        4500,
    )

    sleep = np.clip(
        np.round(
            (
                t["sleep_mean_h"].to_numpy()[:, None]
                + 0.5 * weekend[None, :]
                + rng.normal(0, 0.8, (n, days))
            )
            * 4
        )
        / 4,
        3,
        12,
    )

    # Training load per day, for next-day soreness.
    trained = np.zeros((n, days), dtype=bool)
    wk = workouts["workouts"]
    if len(wk):
        w_user = row_index(wk["user_id"])
        w_day = (
            (wk["started_at"] - pd.Timestamp(config.history_start, tz="UTC")).dt.days
        ).to_numpy()
        inside = (w_day >= 0) & (w_day < days)
        trained[w_user[inside], w_day[inside]] = True
    after_training = np.zeros_like(trained)
    after_training[:, 1:] = trained[:, :-1]
    soreness = np.clip(np.round(2 + 3.5 * after_training + rng.normal(0, 1.2, (n, days))), 0, 10)
    sleep_effect = sleep - t["sleep_mean_h"].to_numpy()[:, None]
    energy = np.clip(
        np.round(6 + 1.2 * sleep_effect - 0.3 * soreness + rng.normal(0, 1.1, (n, days))), 0, 10
    )
    mood = np.clip(np.round(6.5 + 0.5 * (energy - 6) + rng.normal(0, 1.0, (n, days))), 0, 10)
    fitness = np.where(goal == "endurance", -4, 0) + np.where(activity == "very_active", -3, 0)
    resting_hr = np.clip(
        np.round(
            66
            + fitness[:, None]
            + rng.normal(0, 6, n)[:, None]
            - 0.02 * day[None, :] * (slope[:, None] < 0)
            + rng.normal(0, 2.5, (n, days))
        ),
        38,
        110,
    )
    step_mean = np.array(
        [
            {
                "sedentary": 4000,
                "lightly_active": 6500,
                "moderately_active": 9000,
                "very_active": 12500,
            }[a]
            for a in activity
        ]
    )
    steps = np.round(step_mean[:, None] * rng.lognormal(0, 0.3, (n, days))).clip(200, 60000)

    # Logging habits, plus a week or two away for some people.
    away = np.zeros((n, days), dtype=bool)
    gone = np.flatnonzero(rng.random(n) < 0.15)
    away_start = rng.integers(0, days - 7, len(gone))
    for user, begin in zip(gone, away_start, strict=True):
        away[user, begin : begin + int(rng.integers(5, 14))] = True

    def logged(column: str) -> np.ndarray:
        return (rng.random((n, days)) < t[column].to_numpy()[:, None]) & ~away

    wearable = rng.random(n) < 0.5
    readiness_mask = logged("log_readiness_p")
    tables = {
        "calorie_logs": _long(
            ids, "calorie_logs", logged("log_calories_p"), dates, {"kcal": intake.astype(np.int32)}
        ),
        "sleep_logs": _long(ids, "sleep_logs", logged("log_sleep_p"), dates, {"hours": sleep}),
        "body_metrics": _long(
            ids,
            "body_metrics",
            logged("log_weight_p") | (rng.random((n, days)) < 0.05),
            dates,
            {
                "weight_kg": weight,
                "body_fat_pct": np.where(rng.random((n, days)) < 0.15, body_fat, np.nan),
            },
        ),
        "readiness_logs": _long(
            ids,
            "readiness_logs",
            readiness_mask,
            dates,
            {
                "soreness": soreness.astype(np.int16),
                "energy": energy.astype(np.int16),
                "mood": mood.astype(np.int16),
                "resting_hr": np.where(wearable[:, None], resting_hr, np.nan),
                "steps": np.where(wearable[:, None], steps, np.nan),
            },
        ),
    }
    tables["readiness_logs"]["resting_hr"] = tables["readiness_logs"]["resting_hr"].astype("Int16")
    tables["readiness_logs"]["steps"] = tables["readiness_logs"]["steps"].astype("Int32")
    tables["calorie_targets"], tables["sleep_targets"] = _targets(ids, config, rng, target, goal)
    return TableSet(tables, dict(users.meta))


def _targets(
    ids: IdFactory,
    config: SyntheticConfig,
    rng: np.random.Generator,
    kcal: np.ndarray,
    goal: np.ndarray,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One active calorie and sleep target per user; some replaced one part-way through."""
    n = len(kcal)
    start = config.history_start
    change_day = start + timedelta(days=config.history_days // 2)

    def history(
        table: str, first: np.ndarray, second: np.ndarray, changed: np.ndarray, column: str
    ) -> pd.DataFrame:
        users = np.concatenate([np.arange(n), np.flatnonzero(changed)])
        values = np.concatenate([first, second[changed]])
        is_second = np.concatenate([np.zeros(n, bool), np.ones(changed.sum(), bool)])
        first_closed = np.concatenate([changed, np.zeros(changed.sum(), bool)])
        return pd.DataFrame(
            {
                "id": ids.sequence(table, len(users)),
                "user_id": ids.ids("users", users),
                column: values,
                "starts_on": arrow_dates(np.where(is_second, change_day, start)),
                "ends_on": arrow_dates(
                    np.where(first_closed, change_day - timedelta(days=1), None)
                ),
                "is_active": ~first_closed,
            }
        )

    adjust = np.where(goal == "fat_loss", -100, np.where(goal == "muscle_gain", 100, 0))
    calorie = history(
        "calorie_targets",
        kcal.astype(np.int32),
        np.clip(kcal + adjust, 1200, 4500).astype(np.int32),
        rng.random(n) < 0.3,
        "kcal",
    )
    first_sleep = rng.choice([7.0, 7.5, 8.0], size=n, p=[0.3, 0.3, 0.4])
    sleep = history(
        "sleep_targets",
        first_sleep,
        np.minimum(first_sleep + 0.5, 9.0),
        rng.random(n) < 0.2,
        "hours",
    )
    return calorie, sleep
