"""The coaching tables the answers draw on: rep bands, recovery work, sleep, foods and
allergens, weight-trend targets."""

from __future__ import annotations

import re

# Double-progression bands per goal (inside GOAL_REP_RANGES).
DOUBLE_PROGRESSION_REPS: dict[str, tuple[int, int]] = {
    "strength": (4, 6),
    "muscle_gain": (8, 12),
    "fat_loss": (10, 15),
    "endurance": (15, 20),
    "general_fitness": (8, 12),
}
# Heavy, medium and volume days for advanced lifters (inside GOAL_REP_RANGES).
UNDULATING_REPS: dict[str, tuple[tuple[int, int], tuple[int, int], tuple[int, int]]] = {
    "strength": ((3, 5), (5, 7), (8, 10)),
    "muscle_gain": ((6, 8), (8, 12), (12, 15)),
    "fat_loss": ((6, 8), (10, 12), (15, 20)),
    "endurance": ((10, 12), (15, 20), (20, 30)),
    "general_fitness": ((5, 8), (8, 12), (12, 15)),
}


LOADABLE_KIT = frozenset(
    {
        "barbell",
        "smith_machine",
        "dumbbell",
        "kettlebell",
        "cable_machine",
        "lat_pulldown_machine",
        "leg_press_machine",
        "leg_extension_machine",
        "leg_curl_machine",
    }
)


EASY_CARDIO = (
    "brisk_walk",
    "stationary_bike",
    "elliptical_trainer",
    "treadmill_incline_walk",
    "rowing_machine",
    "shadow_boxing",
)
EASY_MOBILITY = (
    "open_book_thoracic_rotation",
    "leg_swing",
    "half_kneeling_hip_flexor_stretch",
    "wall_calf_stretch",
    "arm_circles",
    "cat_cow",
    "standing_quad_stretch",
)
DELOAD_EVERY = {"beginner": "8-10", "intermediate": "6-8", "advanced": "4-6"}


GOAL_SLEEP_LINK = {
    "fat_loss": "In a calorie deficit, short sleep raises hunger and makes you lose more "
    "muscle and less fat.",
    "muscle_gain": "Muscle is built while you recover, and short sleep cuts the reps you can "
    "do at the same effort.",
    "strength": "Short sleep lowers strength and makes heavy sets feel harder at the same load.",
    "endurance": "Short sleep makes the same pace feel harder and slows recovery between sessions.",
    "general_fitness": "Short sleep makes sessions feel harder and recovery slower.",
}


FOOD_ALLERGENS = {
    "peanuts": ("peanut",),
    "tree_nuts": ("tree nut", "almond", "cashew", "walnut", "hazelnut", "pistachio", "pecan"),
    "shellfish": ("shellfish", "shrimp", "prawn", "crab", "lobster", "crustacean"),
    "fish": ("fish",),
    "dairy": ("lactose", "dairy", "milk", "whey", "casein", "cheese"),
    "gluten": ("gluten", "wheat", "celiac", "coeliac"),
    "eggs": ("egg",),
    "soy": ("soy",),
    "sesame": ("sesame",),
}
# What a diet leaves out, as the food tags below name it ("meat" is no allergen: a food
# tagged with it is left out for someone who says they eat no meat).
DIET_EXCLUSIONS = {
    "vegan": frozenset({"meat", "fish", "shellfish", "dairy", "eggs"}),
    "vegetarian": frozenset({"meat", "fish", "shellfish"}),
}
_VEGAN = re.compile(r"\b(?:vegan[oa]?s?|veganer(?:in)?|v[ée]g[ée]talien(?:ne)?|plant[- ]based)\b")
_VEGETARIAN = re.compile(
    r"\b(?:vegg?ie|veggo|vegetarian[oa]?s?|v[ée]g[ée]tarien(?:ne)?s?|vegetarier(?:in)?"
    r"|don'?t eat meat|no meat|without meat)\b"
)


def diet_exclusions(question: str) -> frozenset[str]:
    """The food tags a question's own words rule out ("I'm vegan", "veggie here")."""
    text = question.lower()
    if _VEGAN.search(text):
        return DIET_EXCLUSIONS["vegan"]
    if _VEGETARIAN.search(text):
        return DIET_EXCLUSIONS["vegetarian"]
    return frozenset()


PROTEIN_FOODS = (
    ("chicken or turkey breast", ("meat",)),
    ("Greek yogurt", ("dairy",)),
    ("eggs", ("eggs",)),
    ("tinned tuna or salmon", ("fish",)),
    ("tofu or tempeh", ("soy",)),
    ("lentils and beans", ()),
    ("lean beef", ("meat",)),
    ("cottage cheese", ("dairy",)),
    ("prawns", ("shellfish",)),
)
SNACKS = (
    ("Greek yogurt with fruit", ("dairy",)),
    ("peanut butter on wholegrain toast", ("peanuts", "gluten")),
    ("hard-boiled eggs", ("eggs",)),
    ("a handful of almonds", ("tree_nuts",)),
    ("edamame", ("soy",)),
    ("hummus with vegetables", ("sesame",)),
    ("tuna on rice cakes", ("fish",)),
    ("roasted chickpeas", ()),
    ("sliced turkey with fruit", ("meat",)),
    ("pumpkin seeds and fruit", ()),
)
BREAKFASTS = (
    ("porridge oats with milk and berries", ("gluten", "dairy")),
    ("scrambled eggs on toast", ("eggs", "gluten")),
    ("Greek yogurt with fruit and seeds", ("dairy",)),
    ("a tofu scramble with potatoes", ("soy",)),
    ("rice with chicken and vegetables", ("meat",)),
)


TREND_TARGETS = {  # weekly change as a fraction of body weight
    "fat_loss": (-0.01, -0.005),
    "muscle_gain": (0.001, 0.004),
}
