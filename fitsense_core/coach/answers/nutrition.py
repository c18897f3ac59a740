"""Answers about nutrition: maintenance and the goal's calories, protein, foods that avoid
the person's allergies; no numbers where an eating disorder, pregnancy or youth rules them out."""

from __future__ import annotations

import re

from fitsense_core.coach.answers.context import (
    Context,
    Draft,
    fired,
    goal_name,
    join,
    num,
    round_to,
)
from fitsense_core.coach.knowledge import (
    BREAKFASTS,
    FOOD_ALLERGENS,
    PROTEIN_FOODS,
    SNACKS,
    TREND_TARGETS,
    diet_exclusions,
)
from fitsense_core.coach.knowledge_base import knowledge_base
from fitsense_core.coach.physiology import ACTIVITY_FACTOR, maintenance_kcal_for
from fitsense_core.profile import UserProfile

# The knowledge record the daily protein figure comes from (one figure everywhere).
PROTEIN_RECORD = ("nutrition.protein-daily", "protein_g_per_kg")


def protein_per_kg() -> tuple[float, float]:
    """Daily protein per kg of body weight, as the knowledge base states it."""
    record_id, key = PROTEIN_RECORD
    return knowledge_base().by_id()[record_id].quantities[key]


def food_allergens(allergies: tuple[str, ...]) -> tuple[frozenset[str], list[str]]:
    """Food allergen groups to avoid, and the person's own words for the food ones."""
    groups: set[str] = set()
    named: list[str] = []
    for allergy in allergies:
        text = allergy.lower()
        hits = {g for g, words in FOOD_ALLERGENS.items() if any(w in text for w in words)}
        if "shellfish" in hits:
            hits.discard("fish")
        if "peanut" not in text and re.search(r"\bnuts?\b", text) and "tree" not in text:
            hits |= {"peanuts", "tree_nuts"}
        elif "peanut" not in text and re.search(r"\bnuts?\b", text):
            hits.add("tree_nuts")
        if hits:
            groups |= hits
            named.append(allergy)
    return frozenset(groups), named


def _safe_foods(
    options: tuple[tuple[str, tuple[str, ...]], ...], avoid: frozenset[str]
) -> list[str]:
    return [name for name, tags in options if not set(tags) & avoid]


def _protein_powder(avoid: frozenset[str], diet: frozenset[str] = frozenset()) -> str:
    if "dairy" in diet:
        return "a plant protein powder such as pea, rice or soy"
    if "dairy" not in avoid:
        return "whey"
    if "soy" not in avoid:
        return "pea or soy protein (no whey, given your lactose or dairy allergy)"
    return "pea or rice protein (no whey or soy, given your allergies)"


def _calorie_plan(goal: str, maintenance: float, resting: float) -> tuple[int, int, str]:
    low, high, why = {
        "fat_loss": (-500, -300, "a 300-500 kcal deficit"),
        "muscle_gain": (200, 300, "a 200-300 kcal surplus"),
        "strength": (0, 200, "maintenance to a 200 kcal surplus"),
        "endurance": (-100, 100, "maintenance, eating more on long-session days"),
        "general_fitness": (-100, 100, "maintenance"),
    }[goal]
    # Never aim below resting energy: too steep a deficit costs muscle and health.
    lo = max(round_to(maintenance + low, 10), round_to(resting, 10))
    hi = max(round_to(maintenance + high, 10), lo)
    return lo, hi, why


def _weight_trend(goal: str, trend: float, weight: float | None) -> str:
    line = f"Your weight is changing by {trend:+.2f} kg/week"
    if goal in TREND_TARGETS and weight:
        lo, hi = (round(weight * f, 2) for f in TREND_TARGETS[goal])
        if trend > hi + 0.05:
            advice = (
                "slower than a sustainable rate, so trim about 200 kcal/day"
                if goal == "fat_loss"
                else "faster than muscle can be built, so cut the surplus by about 150 kcal/day"
            )
        elif trend < lo - 0.05:
            advice = (
                "faster than is wise, so add about 200 kcal/day to protect muscle"
                if goal == "fat_loss"
                else "too slow to support muscle gain, so add about 200 kcal/day"
            )
        else:
            advice = "right on track"
        return f"{line}; for {goal_name(goal)} aim for {lo:+.2f} to {hi:+.2f} kg/week — {advice}."
    if abs(trend) > 0.25:
        return f"{line}; for {goal_name(goal)} it should be roughly stable, so adjust by 200 kcal."
    return f"{line} — stable, which fits {goal_name(goal)}."


def _eating_disorder_flag(ctx: Context) -> bool:
    return "eating_disorder" in ctx.profile.condition_codes or fired(ctx, "eating_disorder")


def _energy_lines(ctx: Context, maintenance: float, resting: float) -> tuple[list[str], list[str]]:
    """Maintenance, the goal's calorie range and how logged intake compares."""
    p = ctx.profile
    s = ctx.signals
    weight = p.weight_kg or 0.0
    kcal = round_to(maintenance, 10)
    if ctx.clearance:
        lo = hi = kcal
        lines = [
            f"At {num(weight)} kg your maintenance is about {kcal} kcal a day "
            "(Mifflin-St Jeor); eat at maintenance, with no deficit, until your doctor "
            "clears you."
        ]
    else:
        lo, hi, why = _calorie_plan(p.goal, maintenance, resting)
        target = f"{lo} kcal" if lo == hi else f"{lo}-{hi} kcal"
        lines = [
            f"At {num(weight)} kg, {num(p.height_cm, 0)} cm, age {p.age} and "
            f"{p.activity_level.replace('_', ' ')}, your maintenance is about {kcal} kcal a "
            f"day (Mifflin-St Jeor). For {goal_name(p.goal)} that means {why}: about "
            f"{target} a day."
        ]
        if p.goal == "fat_loss" and lo == round_to(resting, 10):
            lines.append(
                f"I don't go below your resting energy of about {lo} kcal — a steeper cut "
                "costs muscle; more daily steps widen the deficit instead."
            )
        if p.goal != "fat_loss" and ctx.asks(r"lose (fat|weight)|losing weight|fat loss"):
            cut_lo, cut_hi, _ = _calorie_plan("fat_loss", maintenance, resting)
            lines.append(
                f"Your goal on file is {goal_name(p.goal)}; if you switch to fat loss, aim for "
                f"about {cut_lo}-{cut_hi} kcal a day."
                if cut_lo < cut_hi
                else f"Your goal on file is {goal_name(p.goal)}; for fat loss you'd eat about "
                f"{cut_lo} kcal a day."
            )
    points = [f"Maintenance ≈ {kcal} kcal" + (f"; aim {lo}-{hi}" if lo != hi else "")]
    if s.calories is not None:
        logged = round_to(s.calories, 10)
        if logged < lo - 100:
            verdict = "below that"
        elif logged > hi + 100:
            verdict = "above that"
        else:
            verdict = "about right"
        line = f"You've logged about {logged} kcal a day, {verdict}"
        if s.calorie_target is not None:
            line += f", against your app target of {round_to(s.calorie_target, 10)} kcal"
        lines.append(line + ".")
    elif s.calorie_target is not None:
        lines.append(
            f"Your app target is {round_to(s.calorie_target, 10)} kcal; log intake for a week "
            "or two so we can compare."
        )
    return lines, points


def allergy_sentence(profile: UserProfile) -> str | None:
    """The sentence that says the foods named avoid the person's food allergies."""
    _, named = food_allergens(profile.allergies)
    if not named:
        return None
    return (
        f"Every food here avoids your {join(named)} "
        f"{'allergies' if len(named) > 1 else 'allergy'}; check labels for traces."
    )


def draft(ctx: Context) -> Draft:
    p = ctx.profile
    s = ctx.signals
    allergic, _ = food_allergens(p.allergies)
    diet = diet_exclusions(ctx.question)
    # Foods named leave out the person's allergens and what their diet does ("veggie
    # here, how do I get enough protein" is not answered with chicken).
    avoid = allergic | diet
    proteins = _safe_foods(PROTEIN_FOODS, avoid)[:4]
    said = PROTEIN_RECORD[0] in ctx.stated  # the answer opens with the per-kg figure
    allergy_note = allergy_sentence(p)
    keep = (allergy_note,) if allergy_note else ()
    if _eating_disorder_flag(ctx):
        body = [
            "Because of your eating-disorder history, I won't give calorie numbers, targets "
            "or weight goals — those belong with your doctor or dietitian, who can set them "
            "safely with you.",
            "What helps training: regular meals and snacks through the day without long gaps, "
            f"a protein food at each meal (for example {join(proteins[:3])}), carbohydrate "
            "before and after sessions, and enough fluid.",
            "Training should never be a way to earn or burn off food; if it starts to feel "
            "that way, or eating gets harder, tell your care team and ease off training.",
        ]
        if allergy_note:
            body.append(allergy_note)
        key_points = [
            "No calorie targets — your care team sets those",
            "Regular meals with protein at each",
            "Never train to compensate for eating",
        ]
        return Draft(body, [], key_points, essential=keep)

    # Growing bodies and pregnancy never get a deficit or a formula's calorie target.
    pregnant = "pregnancy" in p.condition_codes or fired(ctx, ".pregnancy")
    restrictive = pregnant or p.is_minor or fired(ctx, ".minor") or fired(ctx, "minor_profile")
    body: list[str] = []
    key_points: list[str] = []
    if p.weight_kg is not None and not restrictive:
        maintenance = maintenance_kcal_for(p, p.weight_kg)
        resting = maintenance / ACTIVITY_FACTOR[p.activity_level]
        lines, points = _energy_lines(ctx, maintenance, resting)
        body += lines
        key_points += points
        if s.weight_trend_kg_per_week is not None and not ctx.clearance:
            body.append(_weight_trend(p.goal, s.weight_trend_kg_per_week, p.weight_kg))
        lo, hi = protein_per_kg()
        g_lo, g_hi = round_to(lo * p.weight_kg, 5), round_to(hi * p.weight_kg, 5)
        per_kg = "" if said else f"{num(lo)}-{num(hi)} g per kg, so "
        body.append(
            f"Protein: {per_kg}{g_lo}-{g_hi} g a day at your weight, spread over "
            f"3-4 meals — for example {join(proteins)}."
        )
        key_points.append(f"Protein {g_lo}-{g_hi} g/day")
    elif restrictive:
        who = "doctor or midwife" if pregnant else "doctor or dietitian"
        why = (
            "pregnancy raises energy needs in ways a formula can't set"
            if pregnant
            else "a growing body needs enough energy, so dieting is off the table"
        )
        body.append(
            f"I won't give a calorie target or a deficit: {why}; your {who} can advise. "
            f"Eat regular meals with a protein food at each, such as {join(proteins)}."
        )
        key_points.append("No deficit — let your doctor set energy needs")
    else:
        lo, hi = protein_per_kg()
        aim = (
            f"build each meal around a protein food such as {join(proteins)}"
            if said
            else f"aim for {num(lo)}-{num(hi)} g of protein per kg a day from foods like "
            f"{join(proteins)}"
        )
        body.append(
            f"Log your body weight so I can estimate your maintenance calories. Meanwhile, {aim}."
        )
        key_points.append(f"Protein {num(lo)}-{num(hi)} g/kg a day")
    if allergy_note:
        body.append(allergy_note)
        key_points.append("Suggestions avoid your allergies")

    supplements_ok = not ctx.clearance and not restrictive
    if ctx.asks(r"creatine|supplement"):
        body.insert(
            0,
            "Creatine monohydrate, 3-5 g a day with water, is the best-studied basic "
            "supplement for strength and muscle; it's optional and needs no loading phase."
            if supplements_ok
            else "Please check with your doctor before taking any supplement.",
        )
    if ctx.asks(r"powder"):
        body.insert(
            0,
            f"Protein powder is just convenient food — useful only if meals fall short of "
            f"your protein; {_protein_powder(allergic, diet)} works."
            if supplements_ok
            else "Get protein from food for now; ask your doctor before adding powders.",
        )
    if ctx.asks(r"snack"):
        body.insert(0, "Easy high-protein snacks: " + join(_safe_foods(SNACKS, avoid)[:4]) + ".")
    if ctx.asks(r"breakfast|morning"):
        options = _safe_foods(BREAKFASTS, avoid)[:2]
        body.insert(0, "Before a morning session, try " + " or ".join(options) + ".")
    if ctx.asks(r"\bbefore\b|\bafter\b|pre-?workout|post-?workout"):
        body.insert(
            0,
            "Around training: a meal with carbohydrate and some protein 1-3 hours before, and "
            "a protein-rich meal within a few hours after.",
        )
    if ctx.asks(r"carb|fats?\b|macro|count"):
        body.append(
            "After protein, get about 25-35% of calories from fat and the rest from "
            "carbohydrate, with more carbs on training days; consistent rough tracking beats "
            "perfect counting."
        )
    extras = [
        "Build meals around a protein food, vegetables or fruit and a carbohydrate such as "
        + join(_safe_foods((("rice", ()), ("potatoes", ()), ("oats", ("gluten",))), avoid), "or")
        + ", and drink water through the day."
    ]
    if not restrictive:
        extras.append("Judge changes on the two-week weight trend, not day-to-day scale noise.")
    if supplements_ok and not ctx.asks(r"creatine|supplement"):
        extras.append("Beyond food, only creatine (3-5 g/day) has strong evidence; it's optional.")
    return Draft(body, extras, key_points[:5], essential=keep)
