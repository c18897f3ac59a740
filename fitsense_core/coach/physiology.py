"""Energy and sleep formulas: what the coach tells a person and what the synthetic data
generator simulates, from one copy."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from fitsense_core.profile import UserProfile

ACTIVITY_FACTOR = {
    "sedentary": 1.2,
    "lightly_active": 1.375,
    "moderately_active": 1.55,
    "very_active": 1.725,
}
# Energy in a kilogram of body-weight change.
KCAL_PER_KG = 7700


def maintenance_kcal(
    weight: np.ndarray, height: np.ndarray, age: np.ndarray, sex: np.ndarray, activity: np.ndarray
) -> np.ndarray:
    """Mifflin-St Jeor resting energy times an activity factor."""
    sex_term = np.select([sex == "M", sex == "F"], [5.0, -161.0], -78.0)
    resting = 10 * weight + 6.25 * height - 5 * age + sex_term
    return resting * np.array([ACTIVITY_FACTOR[a] for a in activity])


def maintenance_kcal_for(profile: UserProfile, weight_kg: float) -> float:
    """``maintenance_kcal`` for one person at ``weight_kg``."""
    return float(
        maintenance_kcal(
            np.array([weight_kg]),
            np.array([profile.height_cm]),
            np.array([profile.age]),
            np.array([profile.sex]),
            np.array([profile.activity_level]),
        )[0]
    )


def recommended_sleep(age: int) -> tuple[float, float]:
    """The recommended hours of sleep a night for an age: the low and high end."""
    if age < 18:
        return 8.0, 10.0
    if age >= 65:
        return 7.0, 8.0
    return 7.0, 9.0
