"""The safety rules as data: every text rule in ``RULES``, every profile rule in
``PROFILE_RULES``.

Rule ids start with the level they raise to: ``emergency.``, ``clearance.`` or ``injury.``;
each rule's reason is what triage reports when it fires.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fitsense_core.reference import BODY_REGION_TAGS, CONDITIONS
from fitsense_core.safety.levels import (
    CRISIS_MESSAGE,
    EMERGENCY_MESSAGE,
    SELF_HARM_RULE,
    SafetyLevel,
)
from fitsense_core.safety.matching import ProfileRule, Rule
from fitsense_core.safety.phrases import (
    AT_REST,
    BODY_PART,
    BREATH,
    CHEST,
    CONFUSED,
    DIZZY,
    FAINT,
    HEAT,
    NEAR_FAINT,
    NOT_AN_AGE,
    OTHER_ACUTE,
    RACING_HEART,
    REGION_WORDS,
    SEVERE_MUSCLE,
    SURGERY,
    THIRD_PERSON_SUBJECT,
    UNUSUAL,
    WEIGHT_LOSS,
    minor_age,
    near,
    percent_over_one,
    region_patterns,
    too_fast_weight_loss,
    too_few_kcal,
    very_high_bp,
)

if TYPE_CHECKING:
    from fitsense_core.profile import UserProfile


def _rule(
    rule_id: str,
    level: SafetyLevel,
    reason: str,
    *patterns: str,
    requires: tuple[str, ...] = (),
    **options: Any,
) -> Rule:
    return Rule(
        rule_id,
        level,
        tuple(re.compile(p) for p in patterns),
        reason,
        requires=tuple(re.compile(p) for p in requires),
        **options,
    )


_E = SafetyLevel.EMERGENCY
_C = SafetyLevel.NEEDS_CLEARANCE
_I = SafetyLevel.INJURY_AWARE

RULES: tuple[Rule, ...] = (
    # Emergency: no model call, no plan, only the urgent-care (or crisis) message.
    _rule(
        SELF_HARM_RULE,
        _E,
        "mentions suicidal thoughts or self-harm",
        r"\bsuicid(?:al|e)\b(?! (?:sprints?|runs?|drills?|shuttles?|lines?|squats?|burpees?"
        r"|grip|prevention|awareness)\b)",
        r"\bkill(?:ing)? myself\b",
        r"\b(?:end|ending|take|taking) my (?:own )?life\b|\bend it all\b",
        r"\b(?:want|wanted|wanting) to die\b|\bbetter off dead\b|\bwish i (?:was|were) dead\b",
        r"\b(?:don't|do not|no longer) want to (?:live|be alive|be here|exist|wake up)\b",
        r"\bno (?:reason|point) (?:in |to )?(?:living|live|going on|being alive)\b",
        r"\b(?:nobody|no one) would (?:care|notice|miss me) if i (?:was|were|died|disappeared)\b"
        r"|\b(?:everyone|everybody) would be better off without me\b",
        r"\bself[- ]?harm\w*",
        r"\b(?:want|wanted|wanting|urges?|thoughts?|thinking|think|feel like|felt like"
        r"|feeling like) (?:of |about |to )?"
        r"(?:hurt|hurting|harm|harming|cut|cutting) myself\b",
        r"\b(?:been|keep|started|i) (?:cutting|harming) myself\b|\bharm(?:ing)? myself\b",
        others=True,
        hypothetical=True,
        message=CRISIS_MESSAGE,
    ),
    _rule(
        "emergency.chest_pain",
        _E,
        "mentions chest pain, pressure or tightness",
        CHEST,
        when="now",
        message=EMERGENCY_MESSAGE,
    ),
    _rule(
        "emergency.fainting",
        _E,
        "mentions fainting, passing out or blacking out",
        FAINT,
        when="now",
        message=EMERGENCY_MESSAGE,
    ),
    _rule(
        "emergency.breathing",
        _E,
        "mentions severe shortness of breath or breathlessness at rest",
        r"\bcan't breathe\b(?! (?:through|properly|right|correctly|well|in|with|when i swim"
        r"|while swimming)\b)",
        rf"\b(?:severe|extreme|sudden|serious|really bad|terrible|worst) {BREATH}",
        near(rf"\b{BREATH}", rf"\b{AT_REST}\b"),
        r"\b(?:lips|fingers|fingertips|face) (?:are |is |have )?(?:turning |turned |going |gone "
        r"|went )?(?:blue|purple)\b",
        when="now",
        message=EMERGENCY_MESSAGE,
    ),
    _rule(
        "emergency.stroke",
        _E,
        "mentions stroke signs (face drooping, slurred speech, one-sided weakness, sudden "
        "confusion)",
        r"\b(?:face|mouth|smile|eyelid) (?:is |was |feels |felt |looks |seems |started |starts "
        r"|has started )?(?:to )?droop\w*|\bdroop\w* (?:face|mouth|smile|eyelid)\b",
        r"\bone side of my (?:face|body|mouth)\b[^.!?]{0,20}\b(?:droop\w*|numb\w*|weak\w*|dead"
        r"|paraly\w*|tingl\w*|went)",
        r"\bslurr\w*(?: my)? (?:speech|words|speaking|talking)\b|\bslurring\b"
        r"|\b(?:speech|words) (?:is |are |was |were |became |got |sound |sounded |came out )?"
        r"slurred\b",
        r"\b(?:weak(?:ness)?|numb(?:ness)?|paraly[sz]\w*) (?:in |on |down |along )?(?:one side"
        r"|(?:my |the )?(?:left|right) side)\b",
        r"\bsudden(?:ly)?\b[^.!?]{0,25}?\b(?:numb|weak)\w*\b[^.!?]{0,25}?\b(?:arm|leg|face|side"
        r"|hand)s?\b",
        r"\b(?:arm|leg|face|hand|side)s?\b[^.!?]{0,25}?\b(?:numb|weak)\w*\b[^.!?]{0,25}?"
        r"\b(?:suddenly|all of a sudden|out of nowhere)\b",
        r"\b(?:numb|weak|paraly[sz])\w*\b[^.!?]{0,25}?\b(?:one side|(?:left|right) side)\b",
        rf"\bsudden(?:ly)? (?:got |became |felt |feel |am |i'm |i was |very |really )*{CONFUSED}",
        rf"{CONFUSED}[^.!?]{{0,20}}\b(?:suddenly|out of nowhere|all of a sudden)\b",
        r"\bhaving a stroke\b",
        r"\bworst headache of my life\b|\bthunderclap headache\b"
        r"|\bsudden (?:severe |excruciating |explosive |splitting )?headache\b",
        r"\b(?:lost|losing|loss of) (?:vision|sight) in one eye\b"
        r"|\bsudden(?:ly)? (?:lost|losing|loss of|blurr\w*|double) (?:my )?(?:vision|sight)\b",
        when="now",
        message=EMERGENCY_MESSAGE,
    ),
    _rule(
        "emergency.anaphylaxis",
        _E,
        "mentions signs of a severe allergic reaction (throat or tongue swelling)",
        r"\b(?:throat|tongue|lips?|mouth|face) (?:is |are |feels? |felt |started |starting |keeps "
        r"|has started |began )?(?:to )?(?:swell\w*|swollen|clos(?:e|ed|es|ing)(?: up)?)\b",
        r"\bthroat (?:is |feels? |felt )?(?:tight|tightening|closing)\b",
        r"\bswell\w* (?:of |in |up )?(?:my )?(?:throat|tongue|lips)\b",
        r"\b(?:having|going into|in|had) (?:an? )?anaphyla\w*|\banaphylactic (?:shock|reaction)\b",
        r"\b(?:need|needed|used|using|grab|grabbed|use) (?:my |an )?epi-?pen\b",
        near(
            r"\b(?:allergic reaction|hives|reaction to)\b",
            r"\bcan't breathe\b|\btrouble breathing\b|\bwheez\w*|\bthroat\b",
        ),
        when="now",
        message=EMERGENCY_MESSAGE,
    ),
    _rule(
        "emergency.arrhythmia_dizziness",
        _E,
        "mentions a racing or irregular heartbeat together with dizziness",
        RACING_HEART,
        requires=(rf"{DIZZY}|{NEAR_FAINT}",),
        when="now",
        message=EMERGENCY_MESSAGE,
    ),
    _rule(
        "emergency.coughing_blood",
        _E,
        "mentions coughing up or vomiting blood",
        r"\bcough\w* (?:up )?blood\b|\bblood when i cough\b",
        r"\b(?:vomit\w*|throw\w* up|threw up|puk\w*|spit\w*) (?:up )?blood\b",
        r"\bblood in my (?:vomit|spit|phlegm|sputum|mucus)\b",
        when="now",
        message=EMERGENCY_MESSAGE,
    ),
    _rule(
        "emergency.head_injury",
        _E,
        "mentions a head injury with vomiting, confusion or similar warning signs",
        r"\b(?:hit|hitting|banged|bang|bumped|bumping|smacked|knocked|whacked|struck)"
        r" (?:my|the back of my|the side of my) head\b",
        r"\bhead (?:injury|trauma)\b|\bconcuss\w*|\b(?:fell|landed) (?:on|onto) my head\b",
        r"\b(?:hit|struck|kicked|punched|elbowed|kneed|smacked) (?:in|on) (?:the|my) head\b"
        r"|\b(?:took|got) a (?:hard |bad )?(?:hit|blow|knock|shot|kick) (?:to|on) (?:the|my)"
        r" head\b",
        r"\b(?:bar|barbell|weight|plate|dumbbell|kettlebell|it) (?:hit|fell on|landed on"
        r"|dropped on|smacked) my head\b",
        requires=(
            rf"\bvomit\w*|\bthrow\w* up\b|\bthrew up\b|\bpuk\w*|{CONFUSED}|\bcan't remember\b"
            r"|\bmemory (?:loss|gaps?)\b|\bdrowsy\b|\bcan't stay awake\b|\bseizure\b"
            r"|\bunequal pupils\b|\b(?:worst|severe|worsening|terrible) headache\b"
            r"|\bblurr\w* vision\b|\bdouble vision\b|\bpassed out\b|\bknocked out\b",
        ),
        when="now",
        message=EMERGENCY_MESSAGE,
    ),
    _rule(
        "emergency.rhabdomyolysis",
        _E,
        "mentions dark or cola-coloured urine with severe muscle pain or swelling "
        "(rhabdomyolysis signs)",
        r"\b(?:dark|brown|cola|coke|coffee|tea|black|dark brown|reddish[- ]brown|red)"
        r"(?:[- ]colou?red)? (?:urine|pee)\b",
        r"\b(?:urine|pee) (?:is |was |looks? |looked |turned |has been |came out )?(?:like )?"
        r"(?:(?:very |really |super )?(?:dark|brown|dark brown|black|red|reddish)|cola|coke|tea"
        r"|coffee|the colou?r of (?:cola|coke|tea|coffee))\b",
        r"\b(?:i (?:think i |might |may )?(?:have|got)|i've got|i'm getting|i gave myself"
        r"|is this|could this be|might be|do i have|worried i have|scared i have) rhabdo\w*",
        requires=(rf"{SEVERE_MUSCLE}|\brhabdo\w*",),
        when="now",
        message=EMERGENCY_MESSAGE,
    ),
    _rule(
        "emergency.heat_stroke",
        _E,
        "mentions heat stroke signs (confusion or no sweating in the heat)",
        r"\b(?:have|having|got|getting|think i have|think it's|is this|might have|might be"
        r"|could be|suffering from) (?:a |mild )?heat ?stroke\b",
        near(
            r"\bstopped sweating\b|\bno longer sweating\b|\bcan't sweat\b"
            r"|\bskin (?:is |feels |felt )?(?:hot and dry|dry and hot)\b",
            rf"{HEAT}|{CONFUSED}|{DIZZY}",
            60,
        ),
        near(HEAT, CONFUSED, 60),
        when="now",
        message=EMERGENCY_MESSAGE,
    ),
    _rule(
        "emergency.seizure",
        _E,
        "mentions a seizure",
        r"\b(?:had|having|just had) (?:a |another )?seizures?\b|\bconvuls\w*",
        when="now",
        message=EMERGENCY_MESSAGE,
    ),
    _rule(
        "emergency.bystander",
        _E,
        "someone else is collapsing, unconscious or not breathing right now",
        near(THIRD_PERSON_SUBJECT, OTHER_ACUTE, 50),
        requires=(
            r"\b(?:just|right now|now|currently|still|won't|isn't|is not|not breathing"
            r"|unconscious|unresponsive|help|what do i do|what should i do)\b",
        ),
        others=True,
        when="now",
        message=EMERGENCY_MESSAGE,
    ),
    # Needs clearance: conservative answer plus advice to get medical clearance.
    _rule(
        "clearance.pregnancy",
        _C,
        "mentions pregnancy or the postpartum period",
        r"(?<!get )(?<!getting )(?<!become )(?<!trying for )\bpregnan(?:t|cy)\b"
        r"(?! (?:wife|partner|girlfriend|friend|sister|clients?|women|woman|daughter|mom|mother"
        r"|people|test)\b)",
        r"\b(?:first|second|third|1st|2nd|3rd) trimester\b",
        r"\bexpecting (?:a baby|twins|my first|our first|a child)\b",
        r"\bpost-?partum\b|\bpost-?natal\b|\bgave birth\b|\bgiving birth\b|\bnew (?:mom|mum)\b"
        r"|\bhad (?:a|my|the|our) (?:baby|c-?section)\b|\bc-?section\b|\bdiastasis recti\b",
        when="recent",
    ),
    _rule(
        "clearance.recent_surgery",
        _C,
        "mentions recent surgery",
        r"\b(?:had|have had|having|have|got|just had|recovering from|recovery from"
        r"|recovered from|after|since|following|post|from|back from|scheduled for|booked for)"
        rf" (?:an? |my |the |some |major |minor )?(?:[a-z'-]+ ){{0,3}}?{SURGERY}\b",
        r"\bpost[- ]?(?:op|operative|surgery|surgical)\b",
        rf"\b{SURGERY} (?:was |is )?(?:\d+|a|one|two|three|four|five|six|few|couple of)"
        r" (?:days?|weeks?|months?) ago\b",
        when="recent",
        regions_in_text=True,
    ),
    _rule(
        "clearance.blood_pressure",
        _C,
        "mentions uncontrolled or very high blood pressure",
        r"\b(?:uncontrolled|unmanaged|untreated|very high|really high|dangerously high"
        r"|extremely high|super high|severe|stage 2) (?:high )?(?:blood pressure|bp"
        r"|hypertension)\b",
        r"\b(?:blood pressure|bp) (?:is |was |has been |keeps |gets |goes |reading |readings )?"
        r"(?:(?:very|really|dangerously|extremely|super|way too|crazy|sky) high|through the roof"
        r"|off the charts|out of control|not (?:under )?control(?:led)?"
        r"|isn't (?:under )?control(?:led)?|uncontrolled)\b",
        r"\bhypertensive (?:crisis|emergency|urgency)\b",
        r"\b(?:stopped|ran out of|not taking|quit|off) (?:my )?(?:blood pressure|bp|hypertension)"
        r" (?:meds|medications?|pills|tablets)\b",
        r"(?:\bblood pressure\b|\bbp\b|\bpressure\b)[^.!?\d]{0,40}(?P<sys>\d{2,3}) ?(?:/|over) ?"
        r"(?P<dia>\d{2,3})\b",
        r"\b(?P<sys>\d{2,3}) ?(?:/|over) ?(?P<dia>\d{2,3}) ?(?:mm ?hg|blood pressure|bp)\b",
        check=lambda m, p: "sys" not in m.groupdict() or very_high_bp(m, p),
    ),
    _rule(
        "clearance.acute_injury",
        _C,
        "mentions acute injury signs (a pop, sudden sharp pain, swelling, can't bear weight, "
        "a fresh sprain or tear)",
        r"\b(?:heard|felt) (?:a |something |it )?(?:loud )?(?:pop|popping|snap|snapping|crack"
        r"|rip|tear|tearing|give)\b",
        r"\bsudden(?:ly)?,? (?:a |this |very |really )?(?:sharp|severe|intense|stabbing|shooting"
        r"|excruciating) pain\b|\b(?:sharp|stabbing|shooting|severe) pain (?:suddenly"
        r"|all of a sudden|out of nowhere)\b",
        r"\bcan't (?:bear|put|take) (?:any )?weight\b|\bcan't (?:walk|stand) on (?:it|my)\b",
        # throat, tongue and lip swelling belong to emergency.anaphylaxis
        r"(?<!throat )(?<!tongue )(?<!lips )(?<!throat is )(?<!tongue is )(?<!lips are )"
        r"\b(?:swollen|swelling|swelled(?: up)?|puffed up|ballooned)\b"
        r"(?! (?:lymph|glands?|nodes?|tonsils?)\b)",
        r"\b(?:sprained|tore|torn|ruptured|broke|broken|fractured|dislocated|separated|snapped)"
        rf" (?:my |a |an |the )?(?:left |right )?(?:[a-z]+ )?{BODY_PART}\b",
        rf"\b{BODY_PART} (?:sprain|fracture|tear|rupture|dislocation|break)\b|\bsprain(?:ed)?\b",
        r"\b(?:rolled|twisted|jammed) my (?:ankle|knee|wrist|finger)\b",
        r"\b(?:knee|ankle|hip|back) (?:gave way|gave out|buckled|locked up|collapsed)\b",
        when="now",
        regions_in_text=True,
    ),
    _rule(
        "clearance.eating_disorder",
        _C,
        "mentions eating-disorder signals (purging, laxatives, very low intake, multi-day "
        "fasting, bingeing then restricting)",
        r"\bpurg(?:e|ed|es|ing)\b",
        r"\b(?:make|made|making|force|forced|forcing) myself (?:to )?(?:throw up|vomit|be sick"
        r"|puke|sick)\b",
        r"\b(?:throw(?:ing)? up|vomit(?:ing)?|puk(?:e|ing)) (?:right )?after (?:i eat|eating"
        r"|meals?|every meal|dinner|binges?|binging|food)\b",
        r"\blaxatives?\b|\bdiet pills\b",
        r"\b(?:eat|eating|ate|eats|consume|consuming|consumed|intake|living on|live on"
        r"|only have|only had|stick to|sticking to)(?: is| of)? (?:only |just |about |around "
        r"|roughly |like |maybe |under |below |less than |barely |max )*(?P<kcal>\d{2,4}) ?"
        r"(?:kcal|cals?|calories)\b(?! (?:less|fewer|more|deficit|surplus|below|under|above|over"
        r"|burn\w*|for (?:breakfast|lunch|dinner|a snack|snack))\b)",
        r"\b(?P<kcal>\d{3,4})[- ]?(?:kcal|cal|calorie)[- ]?(?:a[- ]day |per[- ]day )?diet\b",
        r"\b(?:fast|fasting|fasted|water fast(?:ing)?|not eat(?:ing)?|haven't eaten"
        r"|without (?:eating|food)|no food)\b (?:for )?(?:(?:\d+|two|three|four|five|six|seven"
        r"|several|a few|multiple|many) (?:whole |full |straight )?days|a week|days)\b",
        r"\b(?:\d+|two|three|four|five|six|seven|multi)[- ]day (?:water |juice |dry )?fasts?\b",
        r"\bstarv(?:e|ed|es|ing) myself\b|\bskip(?:ping)? (?:all |most )?(?:my )?meals (?:to|so i)"
        r" (?:lose|can lose|drop)\b",
        near(
            r"\bbing(?:e|ed|es|ing)\b(?! watch)",
            r"\b(?:starv\w*|fast\w*|purg\w*|restrict\w*|skip\w* (?:meals|eating|food)|not eat\w*"
            r"|compensat\w*|make up for|burn (?:it )?off)",
            60,
        ),
        r"\b(?:anorexi\w*|bulimi\w*|orthorexi\w*|eating disorders?|pro-?ana)\b",
        check=lambda m, p: "kcal" not in m.groupdict() or too_few_kcal(m, p),
    ),
    _rule(
        "clearance.minor",
        _C,
        "says they are under 18",
        rf"\b(?:i'm|i am) (?:only |just |currently )?(?P<age>\d{{1,2}})\b(?!{NOT_AN_AGE})",
        r"(?<!my )(?<!our )(?<!his )(?<!her )(?<!was )(?<!were )(?<!since )(?<!a )(?<!an )"
        r"\b(?P<age>\d{1,2}) ?(?:-|\s)?(?:years?[- ]old|yrs?[- ]old|yo|y/o)\b(?! (?:son|daughter"
        r"|kids?|child|children|brother|sister|nephew|niece|clients?|athletes?|students?|players?"
        r"|cousin)\b)",
        r"\b(?:as an?|i'm an?|i am an?) (?P<age>\d{1,2}) ?(?:-|\s)?(?:years?[- ]old|yrs?[- ]old"
        r"|yo|y/o)\b",
        r"\b(?:i'm|i am) (?:only |just )?(?:ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen"
        r"|seventeen)\b(?! (?:%|kg|kilos|pounds|lbs|stone|weeks|months|days|minutes)\b)",
        r"\b(?:i'm|i am) (?:a |in )?(?:minor|teen(?:ager)?|high school(?:er| student)?"
        r"|(?:middle|junior high) school(?:er)?|(?:7th|8th|9th|10th|11th|12th|seventh|eighth|ninth"
        r"|tenth|eleventh|twelfth) grade(?:r)?|(?:freshman|sophomore|junior|senior) in high school)"
        r"\b(?! (?:teacher|coach|coaches|teachers)\b)",
        check=minor_age,
    ),
    _rule(
        "clearance.exertional_symptoms",
        _C,
        "mentions dizziness, near-fainting or unusual breathlessness with exercise",
        DIZZY,
        NEAR_FAINT,
        r"\b(?:wheez\w*|struggling to breathe|difficulty breathing|trouble breathing)\b",
        near(rf"\b{BREATH}", rf"\b{UNUSUAL}\b"),
    ),
    _rule(
        "clearance.heart_condition",
        _C,
        "mentions a known heart condition or a past heart attack or stroke",
        r"\bheart (?:condition|disease|problems?|issues?|failure|murmur|defect|valve (?:problems?"
        r"|issues?|disease|replacement))\b(?! runs? in)",
        r"\b(?:had|have had|survived|recovering from|recovered from|after|since|following)"
        r" (?:a |my |two |several )?(?:heart attacks?|cardiac arrest|mini[- ]strokes?|strokes?"
        r"|tia)\b",
        r"\bcardiac (?:arrest|event|condition|rehab|surgery|issues?|problems?)\b",
        r"\b(?:arrhythmias?|a-?fib|atrial fibrillation|tachycardia|bradycardia|cardiomyopathy"
        r"|angina|stents?|pacemaker|defibrillator|long qt|wolff[- ]parkinson[- ]white"
        r"|coronary (?:artery )?disease|congestive heart failure|heart bypass|bypass surgery"
        r"|valve replacement|svt)\b",
    ),
    _rule(
        "clearance.palpitations",
        _C,
        "mentions palpitations or an irregular heartbeat",
        r"\bpalpitations?\b|\birregular (?:heart ?beat|heart rate|pulse|rhythm)\b",
        r"\bheart (?:skips|skipped|skipping|misses|missed|drops?|dropped) (?:a )?beats?\b",
        r"\bheart (?:keeps )?flutter\w*",
        r"\b(?:heart (?:races|is racing|keeps racing|pounds|is pounding)|racing heart"
        r"|pounding heart)\b[^.!?]{0,20}\b(?:at rest|while resting|for no reason|out of nowhere"
        r"|when i'm resting|even at rest|lying in bed|in bed)\b",
    ),
    _rule(
        "clearance.hypoglycaemia",
        _C,
        "mentions diabetes with low blood sugar episodes",
        r"\bhypoglyc\w*|\binsulin (?:reaction|shock)\b",
        near(
            r"\b(?:diabet\w*|type 1|type one|t1d|t2d|insulin)\b",
            r"\b(?:low blood sugar|blood sugar (?:drops?|dropped|dropping|crash\w*|goes low"
            r"|gets low|went low|tanks?|tanked|dips?|dipped|plummets?)"
            r"|(?:sugar|glucose) (?:lows|crash\w*)|hypos?|go(?:ing)? low|went low)\b",
            60,
        ),
    ),
    _rule(
        "clearance.extreme_weight_loss",
        _C,
        "asks for weight loss faster than about 1 % of body weight per week",
        WEIGHT_LOSS,
        r"\b(?:lose|losing|drop|dropping|cut)\s+(?P<pct>\d+(?:\.\d+)?)\s*%\s*(?:of\s+)?(?:my\s+)?"
        r"(?:body ?weight|bw|weight)?\s*(?:a|per|each|every)\s+week\b",
        check=lambda m, p: (
            percent_over_one(m, p) if "pct" in m.groupdict() else too_fast_weight_loss(m, p)
        ),
    ),
    _rule(
        "clearance.past_red_flag",
        _C,
        "mentions chest pain, fainting or a seizure months or years ago",
        CHEST,
        FAINT,
        r"\b(?:had|having) (?:a |another )?seizures?\b",
        when="past",
    ),
    # Injury aware: plans must avoid the region's contraindicated exercises.
    *(
        _rule(
            f"injury.{region}",
            _I,
            f"mentions pain or an injury in the {region.replace('_', ' ')}",
            *region_patterns(*REGION_WORDS[region]),
            region=region,
        )
        for region in BODY_REGION_TAGS
    ),
)


def _has_condition(code: str) -> Callable[[UserProfile], bool]:
    return lambda profile: code in profile.condition_codes


PROFILE_RULES: tuple[ProfileRule, ...] = (
    ProfileRule("clearance.minor_profile", _C, lambda p: p.is_minor, "profile age is under 18"),
    *(
        ProfileRule(
            f"clearance.condition.{c.code}",
            _C,
            _has_condition(c.code),
            f"profile lists {c.name.lower()}, which needs medical clearance",
        )
        for c in CONDITIONS
        if c.requires_clearance
    ),
    ProfileRule(
        "injury.profile_restrictions",
        _I,
        lambda p: bool(p.blocked_tags),
        "profile conditions or current injuries rule out some exercises",
    ),
)

# A bare mention of a region, for rules that block every region the text names.
REGION_MENTION = {
    region: re.compile(rf"\b(?:{words}|{conditions})\b")
    for region, (words, _sore, conditions) in REGION_WORDS.items()
}
