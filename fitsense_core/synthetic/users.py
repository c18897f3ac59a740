"""Synthetic people: profile, goals, preferences, equipment, conditions and medical history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from fitsense_core.reference import (
    ACTIVITY_LEVELS,
    BODY_REGIONS,
    CONDITIONS_BY_CODE,
    EQUIPMENT_BY_CODE,
    GOALS,
    GOALS_BY_CODE,
    blocked_tags,
)
from fitsense_core.synthetic.config import SyntheticConfig
from fitsense_core.synthetic.tables import IdFactory, TableSet, arrow_strings

FIRST_NAMES = {
    "M": [
        "James",
        "Oliver",
        "Liam",
        "Noah",
        "Ethan",
        "Lucas",
        "Mateo",
        "Arjun",
        "Wei",
        "Kenji",
        "Omar",
        "Samuel",
        "David",
        "Daniel",
        "Hugo",
        "Tomás",
        "Ivan",
        "Kwame",
        "Luca",
        "Aiden",
        "Ravi",
        "Jonas",
        "Malik",
        "Felix",
    ],
    "F": [
        "Emma",
        "Olivia",
        "Ava",
        "Sophia",
        "Mia",
        "Amara",
        "Priya",
        "Mei",
        "Yuki",
        "Fatima",
        "Sara",
        "Laura",
        "Chloe",
        "Zoe",
        "Isabella",
        "Lucía",
        "Anya",
        "Nia",
        "Hana",
        "Grace",
        "Leila",
        "Elena",
        "Ines",
        "Maya",
    ],
    "other": [
        "Alex",
        "Sam",
        "Jordan",
        "Taylor",
        "Riley",
        "Casey",
        "Robin",
        "Jamie",
        "Quinn",
        "Avery",
        "Rowan",
        "Sky",
    ],
}
LAST_NAMES = [
    "Smith",
    "Johnson",
    "Garcia",
    "Martinez",
    "Brown",
    "Nguyen",
    "Kim",
    "Patel",
    "Singh",
    "Chen",
    "Wang",
    "Müller",
    "Rossi",
    "Silva",
    "Okafor",
    "Mensah",
    "Cohen",
    "Ivanova",
    "Tanaka",
    "Sato",
    "Hernández",
    "López",
    "Novak",
    "Larsen",
    "Dubois",
    "Khan",
    "Ali",
    "Rahman",
    "Costa",
    "Walker",
    "O'Brien",
    "Murphy",
    "Kowalski",
    "Haddad",
    "Andersen",
    "Moreau",
    "Ferreira",
    "Yilmaz",
]

EQUIPMENT_SETUPS: dict[str, tuple[float, tuple[str, ...]]] = {
    "full_gym": (0.42, tuple(EQUIPMENT_BY_CODE)),
    "home_gym": (
        0.13,
        (
            "barbell",
            "squat_rack",
            "bench",
            "dumbbell",
            "pull_up_bar",
            "kettlebell",
            "resistance_band",
            "jump_rope",
        ),
    ),
    "home_dumbbells": (0.2, ("dumbbell", "bench", "resistance_band")),
    "kettlebell_and_bands": (0.1, ("kettlebell", "resistance_band", "jump_rope")),
    "bodyweight": (0.15, ()),
}

GOAL_PROBS = {
    "fat_loss": 0.32,
    "muscle_gain": 0.25,
    "strength": 0.13,
    "endurance": 0.12,
    "general_fitness": 0.18,
}
# kg per week a person with this main goal tends towards.
GOAL_WEIGHT_SLOPE = {
    "fat_loss": (-0.45, 0.2),
    "muscle_gain": (0.2, 0.1),
    "strength": (0.1, 0.1),
    "endurance": (-0.1, 0.1),
    "general_fitness": (-0.05, 0.15),
}

INJURY_DESCRIPTIONS = {
    "knee": ("Meniscus tear", "Patellar tendinopathy", "ACL reconstruction", "Knee sprain"),
    "lower_back": ("Lumbar disc herniation", "Lower back strain", "Sciatica"),
    "shoulder": ("Rotator cuff strain", "Shoulder dislocation", "Labrum repair"),
    "wrist": ("Wrist sprain", "Distal radius fracture"),
    "elbow": ("Golfer's elbow", "Elbow sprain"),
    "ankle": ("Ankle sprain", "Achilles tendinopathy", "Ankle fracture"),
    "hip": ("Hip flexor strain", "Hip labral tear", "Hip bursitis"),
    "neck": ("Neck strain", "Cervical disc bulge"),
}
CONDITION_MEDICATIONS = {
    "hypertension": (("Lisinopril", "10 mg daily"), ("Amlodipine", "5 mg daily")),
    "uncontrolled_hypertension": (("Losartan", "50 mg daily"),),
    "type_2_diabetes": (("Metformin", "500 mg twice daily"),),
    "asthma": (("Salbutamol inhaler", "as needed"),),
    "coronary_artery_disease": (("Atorvastatin", "20 mg daily"), ("Aspirin", "75 mg daily")),
    "osteoporosis": (("Alendronate", "70 mg weekly"),),
}
OTHER_MEDICATIONS = (
    ("Levothyroxine", "50 mcg daily"),
    ("Sertraline", "50 mg daily"),
    ("Cetirizine", "10 mg daily"),
    ("Omeprazole", "20 mg daily"),
)
ALLERGENS = (
    "peanuts",
    "tree nuts",
    "shellfish",
    "lactose",
    "gluten",
    "eggs",
    "soy",
    "penicillin",
    "latex",
    "pollen",
)


def _choice(rng: np.random.Generator, options: dict[str, float], n: int) -> np.ndarray:
    keys = list(options)
    p = np.array([options[k] for k in keys], dtype=float)
    return np.array(keys, dtype=object)[rng.choice(len(keys), size=n, p=p / p.sum())]


def _condition_probabilities(age: float, sex: str, bmi: float) -> dict[str, float]:
    older = age >= 50
    return {
        "knee_osteoarthritis": 0.08 if older else 0.015,
        "chronic_low_back_pain": 0.08,
        "shoulder_impingement": 0.04,
        "hypertension": 0.18 if older else 0.05,
        "uncontrolled_hypertension": 0.02 if older else 0.004,
        "type_2_diabetes": 0.1 if older or bmi >= 30 else 0.02,
        "asthma": 0.06,
        "osteoporosis": 0.1 if older and sex == "F" else 0.003,
        "pregnancy": 0.05 if sex == "F" and 20 <= age <= 42 else 0.0,
        "coronary_artery_disease": 0.04 if age >= 55 else 0.002,
        "obesity": 0.7 if bmi >= 30 else 0.0,
        "plantar_fasciitis": 0.02,
        "tennis_elbow": 0.02,
        "carpal_tunnel": 0.02,
        "eating_disorder": 0.01,
        "recent_surgery": 0.01,
    }


def generate_users(config: SyntheticConfig) -> TableSet:
    """Users with profiles, preferences, goals, equipment, conditions and medical history."""
    rng = np.random.default_rng([config.seed, 1])
    ids = IdFactory(config.run_id)
    n = config.n_users
    end = config.history_end
    index = np.arange(n)
    user_ids = ids.sequence("users", n)

    sex = rng.choice(np.array(["M", "F", "other"], dtype=object), size=n, p=[0.48, 0.48, 0.04])
    minors = rng.random(n) < 0.02
    age = np.where(minors, rng.uniform(16, 18, n), np.clip(rng.normal(37, 12, n), 18, 78))
    dob = [end - timedelta(days=int(a * 365.25)) for a in age]
    height = np.round(
        np.select(
            [sex == "M", sex == "F"],
            [rng.normal(176, 7, n), rng.normal(163, 6.5, n)],
            rng.normal(170, 8, n),
        ).clip(145, 205),
        1,
    )
    bmi = np.clip(rng.normal(26, 4.5, n), 17.5, 45)
    start_weight = np.round(bmi * (height / 100) ** 2, 1)
    activity = rng.choice(
        np.array(ACTIVITY_LEVELS, dtype=object), size=n, p=[0.25, 0.35, 0.28, 0.12]
    )

    experience = rng.choice(
        np.array(["beginner", "intermediate", "advanced"], dtype=object),
        size=n,
        p=[0.45, 0.38, 0.17],
    )
    days_options = {
        "beginner": ([2, 3, 4], [0.3, 0.5, 0.2]),
        "intermediate": ([3, 4, 5], [0.35, 0.45, 0.2]),
        "advanced": ([4, 5, 6], [0.35, 0.4, 0.25]),
    }
    days = np.array([rng.choice(days_options[e][0], p=days_options[e][1]) for e in experience])
    days = np.where(rng.random(n) < 0.03, 1, days)
    days = np.where((experience == "advanced") & (rng.random(n) < 0.05), 7, days)
    session = rng.choice([30, 45, 60, 75, 90], size=n, p=[0.15, 0.3, 0.35, 0.12, 0.08])

    primary_goal = _choice(rng, GOAL_PROBS, n)
    setup = _choice(rng, {k: v[0] for k, v in EQUIPMENT_SETUPS.items()}, n)

    goal_rows, equipment_rows, condition_rows = [], [], []
    medical_rows, medication_rows, allergy_rows = [], [], []
    traits_blocked, traits_conditions, traits_regions = [], [], []
    goal_codes = [g.code for g in GOALS]
    for i in range(n):
        uid = i
        goals = [primary_goal[i]]
        for extra_p in (0.55, 0.15):
            if rng.random() < extra_p:
                rest = [g for g in goal_codes if g not in goals]
                goals.append(rest[rng.integers(len(rest))])
        goal_rows += [(uid, GOALS_BY_CODE[g].id, p + 1) for p, g in enumerate(goals)]

        kit = set(EQUIPMENT_SETUPS[setup[i]][1])
        if setup[i] == "full_gym":
            kit -= {c for c in sorted(kit) if rng.random() < 0.08}
        elif rng.random() < 0.3:
            kit.add(rng.choice(["pull_up_bar", "jump_rope", "resistance_band", "stationary_bike"]))
        equipment_rows += [(uid, EQUIPMENT_BY_CODE[c].id) for c in sorted(kit)]

        probs = _condition_probabilities(age[i], sex[i], bmi[i])
        conditions = [c for c, p in probs.items() if p and rng.random() < p]
        if "uncontrolled_hypertension" in conditions and "hypertension" in conditions:
            conditions.remove("hypertension")
        for code in conditions:
            severity = rng.choice(["mild", "moderate", "severe"], p=[0.5, 0.38, 0.12])
            diagnosed = end - timedelta(days=int(rng.integers(30, 3650)))
            if code == "pregnancy":
                diagnosed = end - timedelta(days=int(rng.integers(30, 200)))
            condition_rows.append((uid, CONDITIONS_BY_CODE[code].id, severity, diagnosed))
            for name, dosage in CONDITION_MEDICATIONS.get(code, ()):
                if rng.random() < 0.8:
                    medication_rows.append((uid, name, dosage))
        if rng.random() < 0.06:
            name, dosage = OTHER_MEDICATIONS[rng.integers(len(OTHER_MEDICATIONS))]
            if all(m[1] != name for m in medication_rows if m[0] == uid):
                medication_rows.append((uid, name, dosage))

        regions: list[str] = []
        if rng.random() < 0.22:
            region = BODY_REGIONS[rng.integers(len(BODY_REGIONS))]
            kind = "surgery" if rng.random() < 0.15 else "injury"
            status = rng.choice(["active", "recovering", "resolved"], p=[0.3, 0.3, 0.4])
            label = INJURY_DESCRIPTIONS[region][rng.integers(len(INJURY_DESCRIPTIONS[region]))]
            occurred = end - timedelta(days=int(rng.integers(14, 2000)))
            medical_rows.append((uid, kind, region, status, label, occurred))
            if status != "resolved":
                regions.append(region)

        if rng.random() < 0.15:
            for allergen in rng.choice(ALLERGENS, size=rng.integers(1, 3), replace=False):
                allergy_rows.append(
                    (
                        uid,
                        str(allergen),
                        rng.choice(["mild", "moderate", "severe"], p=[0.5, 0.35, 0.15]),
                    )
                )

        traits_conditions.append("|".join(conditions))
        traits_regions.append("|".join(regions))
        traits_blocked.append("|".join(sorted(blocked_tags(conditions, regions))))

    first = np.array([FIRST_NAMES[s][rng.integers(len(FIRST_NAMES[s]))] for s in sex], dtype=object)
    last = np.array(LAST_NAMES, dtype=object)[rng.integers(len(LAST_NAMES), size=n)]
    names = first + " " + last
    domain = f"{config.run_id.lower()}.synthetic.fitsense.invalid"
    emails = [
        f"{f.lower()}.{ln.lower().replace(chr(39), '')}.{i:06d}@{domain}"
        for i, (f, ln) in enumerate(zip(first, last, strict=True))
    ]
    # Accounts open up to two years before the history starts, and never after it.
    start = datetime.combine(config.history_start, datetime.min.time(), tzinfo=UTC)
    created = start - pd.to_timedelta(rng.integers(0, 730 * 24 * 60, n), unit="min")

    def frame(rows: list[tuple], table: str, columns: list[str], with_id: bool) -> pd.DataFrame:
        df = pd.DataFrame(rows, columns=columns)
        df["user_id"] = ids.ids("users", df["user_id"].to_numpy(dtype=np.int64))
        if with_id:
            df.insert(0, "id", ids.sequence(table, len(df)))
        return df

    tables = {
        "users": pd.DataFrame(
            {
                "id": user_ids,
                "name": arrow_strings(names),
                "email": arrow_strings(emails),
                "password_hash": "!synthetic-account-no-login",
                "synthetic_run_id": config.run_id,
                "created_at": created,
            }
        ),
        "user_profiles": pd.DataFrame(
            {
                "user_id": user_ids,
                "date_of_birth": dob,
                "sex": sex,
                "height_cm": height,
                "activity_level": activity,
            }
        ),
        "user_preferences": pd.DataFrame(
            {
                "user_id": user_ids,
                "days_per_week": days.astype(np.int16),
                "experience": experience,
                "session_length_min": session.astype(np.int16),
            }
        ),
        "user_equipment": frame(
            equipment_rows, "user_equipment", ["user_id", "equipment_id"], False
        ),
        "user_goals": frame(goal_rows, "user_goals", ["user_id", "goal_id", "priority"], False),
        "user_conditions": frame(
            condition_rows,
            "user_conditions",
            ["user_id", "condition_id", "severity", "diagnosed_on"],
            False,
        ),
        "user_medical_profiles": frame(
            medical_rows,
            "user_medical_profiles",
            ["user_id", "kind", "body_region", "status", "description", "occurred_on"],
            True,
        ),
        "user_medications": frame(
            medication_rows, "user_medications", ["user_id", "name", "dosage"], True
        ),
        "user_allergies": frame(
            allergy_rows, "user_allergies", ["user_id", "allergen", "severity"], True
        ),
    }
    goal_mean, goal_sd = zip(*(GOAL_WEIGHT_SLOPE[g] for g in primary_goal), strict=True)
    tables["user_traits"] = pd.DataFrame(
        {
            "user_id": user_ids,
            "user_index": index,
            "age": np.round(age, 2),
            "sex": sex,
            "height_cm": height,
            "start_weight_kg": start_weight,
            "weight_slope_kg_per_week": np.round(rng.normal(goal_mean, goal_sd), 3),
            "primary_goal": primary_goal,
            "experience": experience,
            "days_per_week": days,
            "session_length_min": session,
            "activity_level": activity,
            "equipment_setup": setup,
            "condition_codes": traits_conditions,
            "injury_regions": traits_regions,
            "blocked_tags": traits_blocked,
            "adherence": np.round(rng.beta(6, 2.2, n), 3),
            "preferred_hour": rng.choice([6, 7, 12, 17, 18, 19, 20], size=n),
            "strength_level": np.round(np.clip(rng.normal(1.0, 0.15, n), 0.6, 1.5), 3),
            "sleep_mean_h": np.round(np.clip(rng.normal(7.0, 0.6, n), 5.0, 9.0), 2),
            "log_calories_p": np.round(rng.uniform(0.3, 0.95, n), 3),
            "log_sleep_p": np.round(rng.uniform(0.4, 0.98, n), 3),
            "log_weight_p": np.round(rng.uniform(0.15, 0.9, n), 3),
            "log_readiness_p": np.round(rng.uniform(0.2, 0.95, n), 3),
        }
    )
    for name in ("user_profiles", "user_preferences", "user_traits"):
        for col in ("sex", "activity_level", "experience", "primary_goal", "equipment_setup"):
            if col in tables[name]:
                tables[name][col] = arrow_strings(tables[name][col])
    return TableSet(tables, {"config": config.as_meta()})
