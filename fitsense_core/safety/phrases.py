"""The phrase fragments and number checks the rule table combines.

Each fragment is a regular expression over normalised text (see ``matching.normalise``); the
checks decide whether a matched number (a weight-loss rate, a blood pressure, an age) is
worth flagging.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fitsense_core.profile import UserProfile


def near(a: str, b: str, gap: int = 40) -> str:
    """``a`` and ``b`` in either order within ``gap`` characters of the same sentence."""
    g = rf"[^.!?;]{{0,{gap}}}?"
    return rf"(?:(?:{a}){g}(?:{b})|(?:{b}){g}(?:{a}))"


# Each rule in ``rules.RULES`` says how it combines these fragments.
CONFUSED = (
    r"\b(?:confused|disoriented|disorientated|delirious|confusion)\b"
    r"(?! (?:about|by|with|on|as to|why|how|what|whether|if|over|regarding|between)\b)"
)
DIZZY = (
    r"\b(?:dizz(?:y|iness)|light[- ]?headed(?:ness)?|woozy|vertigo"
    r"|(?:room|head) (?:is |was |keeps |started )?spinning)\b"
)
NEAR_FAINT = (
    r"\b(?:(?:almost|nearly) (?:fainted|passed out|blacked out|collapsed)"
    r"|(?:going to|gonna|about to) (?:faint|pass out|black out|collapse)"
    r"|(?:feel|feeling|felt) faint|seeing (?:stars|spots)"
    r"|(?:vision|eyesight) (?:goes|went|going|turns|turned) (?:black|dark|grey|gray|blurry))\b"
)
# Lookbehinds leave "almost fainted" / "going to pass out" to NEAR_FAINT; the lookahead
# skips transitive uses ("blacked out the windows", "pass out in bed").
FAINT = (
    r"(?<!almost )(?<!nearly )(?<!going to )(?<!gonna )(?<!about to )(?<!feel )(?<!felt )"
    r"(?<!feeling )\b(?:fainted|fainting|faints"
    r"|faint(?= (?:during|while|when|after|whenever|every|if)\b)"
    r"|(?:passed|passing|pass|blacked|blacking|black) out"
    r"(?! (?:the|my|a|an|all|those|these|some|on the couch|in bed|on the sofa|asleep)\b)"
    r"|lost consciousness|losing consciousness|i (?:just |have |had )?collapsed"
    r"|woke up on the (?:floor|ground))\b"
)
# Tightness or ache right after chest exercises is muscle soreness, not chest pain; after any
# other training it stays a red flag.
_AFTER_LIFTING = (
    r"(?: (?:after|from|since) (?:(?:doing|my|the|a|yesterday's|heavy|all those|all the|\d+) )*"
    r"(?:bench\w*|push[- ]?ups?|fl(?:ye|y|ie)s|dips|chest (?:day|workouts?|sessions?)|pressing"
    r"|pec deck))"
)
CHEST = (
    r"\b(?:chest (?:pains?|pressure|tightness|discomfort|heaviness)\b"
    r"|(?:pain|pains|pressure|tightness|heaviness|squeezing|crushing|discomfort)"
    r" (?:in|on|across|around|behind) (?:my |the )?chest\b"
    r"|chest (?:is |feels |feeling |felt |gets |got |was |has been |keeps )?"
    r"(?:really |very |so |kind of |a bit )?(?:tight|heavy|hurts?|hurting|aches?|aching"
    rf"|squeez\w*|crush\w*)\b(?!{_AFTER_LIFTING})"
    r"|tight(?:ness)? (?:in )?(?:my |the )?chest\b"
    rf"(?! muscles?| and (?:shoulders?|lats|hip flexors|back))(?!{_AFTER_LIFTING})"
    r"|having a heart attack\b"
    r"|pain (?:radiating|spreading|shooting|going) (?:down|into|to|up) (?:my )?"
    r"(?:left arm|arm|jaw)\b)"
)
BREATH = (
    r"(?:short(?:ness)? of breath|breathless(?:ness)?|out of breath|winded|wheez\w*"
    r"|struggling to breathe|can't catch my breath|gasping(?: for (?:air|breath))?"
    r"|hard to breathe|difficulty breathing|trouble breathing"
    r"|breathing (?:is )?(?:hard|difficult|laboured|labored))"
)
AT_REST = (
    r"(?:at rest|while resting|when resting|when i'm resting|sitting (?:still|down|on the couch)"
    r"|lying down|in bed|doing nothing|not even moving|while sleeping|wakes? me up"
    r"|without (?:any )?(?:exercise|exertion|moving))"
)
# Breathlessness is only unusual with one of these; "out of breath sprinting" is exertion.
UNUSUAL = (
    r"(?:unusual(?:ly)?|abnormal(?:ly)?|more than (?:usual|normal|before|i used to)"
    r"|worse than (?:usual|before)|for no reason|out of nowhere"
    r"|even (?:when |while |on |after |doing |just )?(?:walking|climbing|going up|easy|light"
    r"|a light|gentle|slow)|(?:light|easy|gentle|slow) (?:jogs?|walks?|runs?|exercise|activity"
    r"|warm[- ]?ups?))"
)
RACING_HEART = (
    r"\b(?:heart (?:is |keeps |was |started |starts )?(?:racing|pounding|fluttering"
    r"|skipping(?: beats)?|beating (?:irregularly|erratically|out of rhythm|really fast|so fast"
    r"|super fast|out of my chest|weird(?:ly)?)|going crazy|all over the place)"
    r"|(?:irregular|erratic|skipping|fluttering|racing) (?:heart ?beat|heart rate|pulse|heart)"
    r"|palpitations?)\b"
)
SEVERE_MUSCLE = (
    r"\b(?:severe|extreme|excruciating|unbearable|insane|crazy|really bad|intense|worst"
    r"|agonizing|agonising) (?:muscle |leg |arm |quad |bicep )?(?:pain|soreness|aches?|cramp\w*)\b"
    r"|\b(?:muscles?|arms?|legs?|quads?|biceps?|thighs?|calves|triceps|glutes)"
    r" (?:are |is |got |feel |feels |look |looks |have )?(?:really |very |extremely |super |so "
    r"|all )?(?:swollen|swelling|rock hard|puffed up|puffy|blown up)\b"
    r"|\bswollen (?:muscles?|arms?|legs?|quads?|biceps?|thighs?)\b"
    r"|\bcan't (?:straighten|bend|extend|move|lift) my (?:arms?|legs?|elbows?)\b"
)
HEAT = r"(?:\bheat\b|\bhot\b|\bsun\b|\bsunny\b|\bhumid\w*|\bsummer\b|\bsauna\b|\d+ ?(?:°|degrees))"
THIRD_PERSON_SUBJECT = (
    r"\b(?:my|our|a|the) (?:friend|buddy|mate|dad|father|mom|mum|mother|wife|husband|partner"
    r"|girlfriend|boyfriend|brother|sister|son|daughter|kid|child|client|coworker|colleague"
    r"|teammate|training partner|roommate|grandma|grandpa|grandmother|grandfather|guy|girl|man"
    r"|woman|lady)\b|\b(?:he|she|they|he's|she's|they're|someone|somebody)\b"
)
OTHER_ACUTE = (
    r"\b(?:collapsed|passed out|fainted|is unconscious|unconscious|unresponsive|isn't breathing"
    r"|is not breathing|not breathing|stopped breathing|won't wake up|isn't responding"
    r"|not responding|(?:is having|having|has) (?:a )?(?:heart attack|stroke|seizure|chest pain)"
    r"|turning blue|is choking)\b"
)
SURGERY = (
    r"(?:surgery|surgeries|operation|c-?section|(?:acl|knee|hip|shoulder|joint|hernia|meniscus"
    r"|rotator cuff|back|spinal|disc|ankle|wrist|elbow|achilles) (?:repair|reconstruction"
    r"|replacement|fusion)|arthroscop\w*|appendectomy|hysterectomy|laparoscop\w*)"
)
BODY_PART = (
    r"(?:knees?|ankles?|wrists?|shoulders?|elbows?|hips?|back|neck|fingers?|thumb|toes?|foot"
    r"|feet|legs?|arms?|hands?|ribs?|collarbone|clavicle|hamstrings?|quads?|calf|calves|achilles"
    r"|biceps?|triceps?|pecs?|pectorals?|rotator cuff|acl|mcl|pcl|lcl|meniscus|labrum|tendons?"
    r"|ligaments?|muscles?|something|disc|spine|groin)"
)
_NUMBER_WORD = (
    r"\d+(?:\.\d+)?|a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty"
)
# "lose 20 kg in a month", "drop 2 lbs per week", "weight loss of 0.5 kg a week".
WEIGHT_LOSS = (
    r"\b(?:lose|losing|lost|drop|dropping|dropped|shed|shedding|cut|cutting|loss of|down)\s+"
    r"(?:about |around |like |over |at least |roughly )?"
    rf"(?P<amount>{_NUMBER_WORD})\s*(?P<unit>kgs?|kilos?|kilograms?|lbs?|pounds?|stones?|st)\b"
    r"(?: of (?:fat|weight|body ?fat))?\s+(?:in|within|over|by|per|a|an|each|every)\s+"
    r"(?:(?:the next|next|the|just|only|less than|under|about) )?"
    rf"(?:(?P<count>{_NUMBER_WORD}|couple of|few) )?(?P<period>days?|weeks?|wks?|months?)\b"
)
NOT_AN_AGE = (
    r" ?(?:%|kgs?\b|kilos?\b|lbs?\b|pounds?\b|stones?\b|st\b|reps?\b|minutes?\b|mins?\b|seconds?\b"
    r"|secs?\b|hours?\b|hrs?\b|km\b|k\b|miles?\b|mi\b|weeks?\b|wks?\b|months?\b|days?\b"
    r"|years? in|feet\b|foot\b|ft\b|inches\b|in\b|cm\b|'|\"|sessions?\b|workouts?\b|times?\b"
    r"|sets?\b|percent|th\b|nd\b|rd\b|/|:|\.\d|,\d|down\b|up\b|lighter|heavier|over\b|under\b"
    r"|off\b|away\b|short\b|behind\b|and a half|x\b|-\d)"
)


def _words_to_number(word: str | None) -> float:
    if word is None:
        return 1.0
    words = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
    words |= {"seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12}
    words |= {"twenty": 20, "couple of": 2, "few": 3}
    return float(words[word]) if word in words else float(word)


_KG_PER_UNIT = {"kg": 1.0, "kilo": 1.0, "kilogram": 1.0, "lb": 0.4536, "pound": 0.4536}
_KG_PER_UNIT |= {"stone": 6.35, "st": 6.35}
_WEEKS_PER_PERIOD = {"day": 1 / 7, "week": 1.0, "wk": 1.0, "month": 4.35}


def too_fast_weight_loss(m: re.Match[str], profile: UserProfile | None) -> bool:
    # Over 1 % of body weight a week (1 kg/week when the weight is unknown), sustained for at
    # least a week or 2 kg in total; "1 kg in 3 days" is water, not a target.
    kg = _words_to_number(m["amount"]) * _KG_PER_UNIT[m["unit"].rstrip("s")]
    weeks = _words_to_number(m["count"]) * _WEEKS_PER_PERIOD[m["period"].rstrip("s")]
    limit = 0.01 * profile.weight_kg if profile is not None and profile.weight_kg else 1.0
    return kg / weeks > limit and (weeks >= 1 or kg >= 2)


def percent_over_one(m: re.Match[str], _profile: UserProfile | None) -> bool:
    return float(m["pct"]) > 1


def very_high_bp(m: re.Match[str], _profile: UserProfile | None) -> bool:
    systolic, diastolic = int(m["sys"]), int(m["dia"])
    return systolic > diastolic and (systolic >= 160 or diastolic >= 100)


def too_few_kcal(m: re.Match[str], _profile: UserProfile | None) -> bool:
    return int(m["kcal"]) <= 800


def minor_age(m: re.Match[str], _profile: UserProfile | None) -> bool:
    age = m.groupdict().get("age")
    return age is None or 10 <= int(age) <= 17


# Body regions as people name them (exercise names excluded: "hip thrust", "knee sleeves",
# "back squat"), whether "sore" there means more than muscle soreness, and condition names.
REGION_WORDS: dict[str, tuple[str, bool, str]] = {
    "knee": (
        r"knees?(?! (?:raises?|tucks?|sleeves?|wraps?|push-?ups?|drives?|to chest))|kneecaps?"
        r"|patell\w*|acl|mcl|pcl|menisc\w*",
        True,
        r"runner's knee|jumper's knee|patellofemoral\w*|chondromalacia|it band syndrome",
    ),
    "lower_back": (
        r"(?:lower|low|upper|mid|middle|my|the) back(?! (?:squats?|extensions?|days?|rows?"
        r"|workouts?|exercises?|muscles?|training|of|off|to|into|and forth)\b)"
        r"|back(?= (?:pain|ache|aches|aching|injury|injuries|spasms?|problems?|issues?|surgery"
        r"|hurts))|lumbar|spine|spinal|tailbone|sacroiliac|si joint",
        True,
        r"sciatica|slipped disc|herniated disc|bulging disc|disc herniation|spondyl\w*|lumbago"
        r"|bad back",
    ),
    "shoulder": (
        r"shoulders?(?! (?:press(?:es)?|raises?|shrugs?|taps?|day|width))|rotator cuffs?"
        r"|ac joint|labrum",
        False,
        r"frozen shoulder|swimmer's shoulder",
    ),
    "wrist": (r"wrists?(?! (?:curls?|wraps?|straps?))", True, r"carpal tunnel"),
    "elbow": (r"elbows?", True, r"tennis elbow|golfer's elbow"),
    "ankle": (r"ankles?|achilles", True, r"plantar fasciitis"),
    "hip": (
        r"hips?(?! (?:thrusts?|hinges?|bridges?|abduct\w*|adduct\w*|mobility))|hip flexors?",
        False,
        r"hip bursitis|hip impingement",
    ),
    "neck": (r"neck(?! curls?)", True, r"whiplash|stiff neck|crick in my neck"),
}
# Stops at a sentence end, "but" or a negation: "my knee is fine but my back hurts".
_GAP = r"(?:(?!\bbut\b|\bno\b|\bnot\b|\bnever\b|n't\b)[^.;!?]){0,30}?"
_PAIN_CUE = (
    r"pain(?:s|ful)?|hurts?|hurting|ach(?:e|es|ing|y)|injur(?:y|ies|ed)|strain(?:ed|s)?"
    r"|sprain(?:ed|s)?|tendin\w*|tendon\w*|bursitis|arthrit\w*|impinge\w*|niggl\w*"
    r"|tweak(?:ed|s)?|twinges?|tender(?:ness)?|inflam\w*|bother\w*|torn|tear|tore|pulled"
    r"|pinched|herniat\w*|bulg\w*|dislocat\w*|sublux\w*|fractur\w*|broke|broken|gives? out"
    r"|gave out|giving out|gave way|unstable|instability|swollen|swelling|surgery|operation"
    r"|reconstruction|replacement"
)


def region_patterns(words: str, sore: bool, conditions: str) -> tuple[str, ...]:
    cue = _PAIN_CUE + (r"|sore(?:ness)?" if sore else "")
    w = f"(?:{words})"
    return (
        rf"\b{w}\b{_GAP}\b(?:{cue})\b",
        rf"\b(?:{cue})\b{_GAP}\b{w}\b",
        rf"\b{w} (?:problems?|issues?|trouble)\b",
        rf"\b(?:bad|dodgy|injured|busted|wonky|arthritic|sprained|torn|broken|dislocated)"
        rf" (?:left |right )?{w}\b",
        rf"\b(?:{conditions})\b",
    )
