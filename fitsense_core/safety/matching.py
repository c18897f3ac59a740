"""How a rule is matched against a request.

Matching works on normalised text (lower case, plain apostrophes, single spaces). A match is
ignored when a negation ("no", "not", "never", "without", "don't have" ...) stands a few words
before it in the same clause, and — for rules about the person's own symptoms — when the
clause is about someone else ("my friend fainted") or is a hypothetical ("how to avoid heat
stroke"). Emergency symptoms placed months or years back ("I fainted last year") are not an
emergency; ``clearance.past_red_flag`` covers them instead.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fitsense_core.safety.levels import SafetyLevel

if TYPE_CHECKING:
    from fitsense_core.profile import UserProfile


@dataclass(frozen=True)
class Rule:
    """One text rule: fires when any pattern has a match that survives the context checks."""

    id: str
    level: SafetyLevel
    patterns: tuple[re.Pattern[str], ...]
    reason: str
    # Each of these must also match somewhere (not negated) for the rule to fire.
    requires: tuple[re.Pattern[str], ...] = ()
    # "any"; "now": not when the sentence puts it months/years back; "recent": not years
    # back; "past": only when the sentence puts it months/years back.
    when: str = "any"
    others: bool = False  # also fires when the clause is about someone else
    hypothetical: bool = False  # also fires in "what if / how to avoid" clauses
    check: Callable[[re.Match[str], UserProfile | None], bool] | None = None
    region: str | None = None  # body region whose tags the rule blocks
    regions_in_text: bool = False  # block every body region the text names
    message: str | None = None


@dataclass(frozen=True)
class ProfileRule:
    id: str
    level: SafetyLevel
    applies: Callable[[UserProfile], bool]
    reason: str


_NEGATION = re.compile(
    r"\b(?:no(?! (?:idea|clue|matter)\b)|not(?! (?:sure|certain|only|just)\b)|never|without"
    r"|none|nor|neither|zero|denies|deny)\b"
    r"|(?:do|does|did|is|was|are|were|has|have|had|wo|ai)n't\b"
    r"(?! (?:know|understand|care|get why|see why|think so)\b)"
)
# Where a clause starts: negation, subject and hypothetical cues do not cross it.
_CLAUSE_BOUNDARY = re.compile(
    r"[.;:!?]|\b(?:but|however|although|though|yet|except|because|since|until|so|when|while"
    r"|whereas)\b|,\s*(?=(?:and\s+)?(?:i|i'm|i've|i'd|my|it|it's|now|today|then|also)\b)"
    r"|\band\s+(?=(?:i|i'm|i've|my|now|then|today|also)\b)"
)
# "my" after a preposition ("a guy at my gym") does not make the speaker the subject.
_FIRST_PERSON = re.compile(
    r"\b(?:i|i'm|i've|i'd|i'll|me|myself)\b"
    r"|(?<!at )(?<!in )(?<!to )(?<!from )(?<!with )(?<!near )(?<!of )(?<!for )\bmy\b"
)
_THIRD_PERSON = re.compile(
    # "I'm a woman with chest pain" is about the speaker
    r"(?<!i'm )(?<!i am )(?<!as )\b(?:(?:my|our|his|her|their|a|the) (?:friend|buddy|mate|pal|dad"
    r"|father|mom|mum|mother"
    r"|parent|wife|husband|partner|girlfriend|boyfriend|fiance|fiancee|brother|sister|sibling|son"
    r"|daughter|kid|child|children|client|coworker|co-worker|colleague|boss|grandma|grandpa"
    r"|grandmother|grandfather|uncle|aunt|cousin|teammate|roommate|neighbou?r|family|athlete"
    r"|student|patient|player|trainee|guy|girl|man|woman|lady|member)s?(?:'s)?"
    r"|he|she|they|he's|she's|they're|his|her|their|someone|somebody|anyone|anybody|people"
    r"|everyone|everybody|family)\b"
)
_HYPOTHETICAL = re.compile(
    r"\b(?:what if|in case|if i ever|if you ever|avoid\w*|prevent\w*|signs? of|symptoms? of"
    r"|risks? of|chances? of|afraid (?:of|that|i'll|i will|i might|i'd)|scared (?:of|that|i'll"
    r"|i will|i might|i'd)|fears? of|worried about|warning signs|tips (?:for|to|on)"
    r"|difference between)\b"
    # "will squats hurt my knees?" asks about a risk, not a symptom
    r"|\b(?:will|would|could|might|does|do|can|should) (?!i\b|i'm\b|my\b|me\b)(?:\S+ ){1,2}$"
)
_AGO_AMOUNT = (
    r"(?:\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|several|a few"
    r"|few|many|couple of|a couple of)"
)
_YEARS_BACK = (
    rf"\b{_AGO_AMOUNT} (?:years?|yrs?) (?:ago|back)\b|\byears ago\b|\blast year\b"
    r"|\b(?:as a|when i was (?:a |an )?)(?:kid|child|teen|teenager|younger|little|baby|student"
    r"|boy|girl)\b|\bwhen i was \d+\b|\bin (?:high school|college|university|uni|the past"
    r"|my (?:teens|twenties|thirties|20s|30s))\b|\b(?:a )?long (?:time )?ago\b|\bhistory of\b"
    r"|\bback in \d{4}\b|\bin (?:19|20)\d\d\b"
)
_YEARS_PAST = re.compile(_YEARS_BACK)
_MONTHS_OR_YEARS_PAST = re.compile(
    rf"{_YEARS_BACK}|\b{_AGO_AMOUNT} months? (?:ago|back)\b|\bmonths ago\b"
    r"|\blast (?:month|summer|winter|spring|fall|autumn|season)\b"
)
# Something happening now again overrides a mention of the past in the same sentence.
_PRESENT = re.compile(
    r"\b(?:today|tonight|right now|just now|currently|this (?:morning|afternoon|evening|week)"
    r"|yesterday|again|still|keeps? happening|lately|recently)\b"
)
_SENTENCE_END = re.compile(r"[.!?;]")
# Context looked at around a match; bounds the work on long texts.
_CONTEXT_CHARS = 300
# "dont", "cant", "isnt" typed without the apostrophe.
_BARE_NT = re.compile(
    r"\b(do|does|did|is|was|are|were|has|have|had|ca|could|would|should|wo|ai)nt\b"
)
_NOTHING = frozenset({"nothing", "nothing's", "nothings"})
_NOTHING_VERBS = frozenset({"is", "was", "looks", "looked", "seems", "seemed", "feels", "got"})
_UNTIL = re.compile(r"\b(?:until|till|til)\b")


def normalise(text: str) -> str:
    """Lower case, NFKC, plain quotes and dashes, common contractions without apostrophes
    restored, one space between words; newlines end sentences."""
    t = unicodedata.normalize("NFKC", text)
    t = t.translate(str.maketrans({"‘": "'", "’": "'", "ʼ": "'", "`": "'", "´": "'", "′": "'"}))
    t = t.translate(str.maketrans({"“": '"', "”": '"', "–": "-", "—": "-", "‑": "-"}))
    t = t.lower()
    t = re.sub(r"\s*\n\s*", ". ", t)
    t = _BARE_NT.sub(r"\1n't", t)
    t = re.sub(r"\bcan ?not\b", "can't", t)
    t = re.sub(r"\bim\b", "i'm", t)
    t = re.sub(r"\bive\b", "i've", t)
    t = re.sub(r"(\d),(\d{3})\b", r"\1\2", t)
    return re.sub(r"\s+", " ", t).strip()


def _clause_before(text: str, pos: int) -> str:
    prefix = text[max(0, pos - _CONTEXT_CHARS) : pos]
    start = 0
    for m in _CLAUSE_BOUNDARY.finditer(prefix):
        start = m.end()
    return prefix[start:]


def _negated(text: str, pos: int) -> bool:
    # "no dizziness or chest pain" negates both; "no energy and chest pain" only the first.
    words = _clause_before(text, pos).split()[-5:]
    # "nothing swollen", "nothing's broken": only right before the sign, since "nothing
    # helps my chest pain" reports it.
    if words and words[-1] in _NOTHING:
        return True
    if len(words) >= 2 and words[-2] == "nothing" and words[-1] in _NOTHING_VERBS:
        return True
    if "and" in words:
        words = words[len(words) - words[::-1].index("and") :]
    if _NEGATION.search(" ".join(words)) is None:
        return False
    # "I never had chest pain until today" reports it after all.
    return _UNTIL.search(_sentence(text, pos), pos - _sentence_start(text, pos)) is None


def _about_someone_else(clause: str) -> bool:
    """The clause's last named subject is another person ("my friend", "she")."""
    third = [m.end() for m in _THIRD_PERSON.finditer(clause)]
    first = [m.end() for m in _FIRST_PERSON.finditer(clause)]
    return bool(third) and (not first or third[-1] >= first[-1])


def _sentence_start(text: str, pos: int) -> int:
    lo = max(0, pos - _CONTEXT_CHARS)
    starts = [m.end() for m in _SENTENCE_END.finditer(text, lo, pos)]
    return starts[-1] if starts else lo


def _sentence(text: str, pos: int) -> str:
    hi = min(len(text), pos + _CONTEXT_CHARS)
    end = _SENTENCE_END.search(text, pos, hi)
    return text[_sentence_start(text, pos) : end.start() if end else hi]


def _in_time_scope(when: str, sentence: str) -> bool:
    if when == "any" or _PRESENT.search(sentence):
        return when != "past"
    if when == "recent":
        return _YEARS_PAST.search(sentence) is None
    far = _MONTHS_OR_YEARS_PAST.search(sentence) is not None
    return far if when == "past" else not far


def _valid(
    rule: Rule, pattern: re.Pattern[str], text: str, profile: UserProfile | None, primary: bool
) -> bool:
    for m in pattern.finditer(text):
        if _negated(text, m.start()):
            continue
        clause = _clause_before(text, m.start())
        if not rule.others and _about_someone_else(clause):
            continue
        if not rule.hypothetical and _HYPOTHETICAL.search(clause):
            continue
        if primary and not _in_time_scope(rule.when, _sentence(text, m.start())):
            continue
        if primary and rule.check is not None and not rule.check(m, profile):
            continue
        return True
    return False


def fires(rule: Rule, text: str, profile: UserProfile | None) -> bool:
    return any(_valid(rule, p, text, profile, True) for p in rule.patterns) and all(
        _valid(rule, p, text, profile, False) for p in rule.requires
    )


def affirmed(pattern: re.Pattern[str], text: str) -> bool:
    return any(not _negated(text, m.start()) for m in pattern.finditer(text))
