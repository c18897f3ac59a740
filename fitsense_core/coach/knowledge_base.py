"""The vetted coaching knowledge base: reviewable records, each with its source and the
people it applies to, that the coach's answers are grounded in and cite.

The records live as TOML in ``fitsense_core/data/knowledge/`` (one file per topic, plus
``sources.toml``, the bibliography); ``FITSENSE_KNOWLEDGE_DIR`` points at another copy (a
reviewer's draft). A record states facts in our own words; every number its text states is
declared in ``quantities`` (named ranges), so numbers can be compared across records and
against what a model writes. :func:`validate` lists what is wrong with a knowledge base:
the ``knowledge_base_valid`` asset check blocks a pipeline run on any problem, and the API
refuses to start on one (:func:`knowledge_base`).
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from fitsense_core.coach.knowledge import FOOD_ALLERGENS
from fitsense_core.errors import ConfigurationError
from fitsense_core.profile import UserProfile
from fitsense_core.reference import CONDITIONS_BY_CODE, GOALS_BY_CODE

KNOWLEDGE_DIR_ENV = "FITSENSE_KNOWLEDGE_DIR"
PACKAGED_DIR = Path(__file__).resolve().parent.parent / "data" / "knowledge"
SOURCES_FILE = "sources.toml"

KB_TOPICS = (
    "training",
    "progression",
    "recovery",
    "sleep",
    "nutrition",
    "supplements",
    "technique",
    "injury",
    "cardio",
    "motivation",
)
SOURCE_KINDS = ("position stand", "guideline", "consensus statement", "textbook", "meta-analysis")
EXPERIENCE_LEVELS = ("beginner", "intermediate", "advanced")
PERSONALISE = ("per_kg_body_weight",)
TEXT_CHARS = (80, 420)
QUESTIONS_PER_RECORD = (3, 10)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_APPLIES_KEYS = frozenset(
    {
        "goals",
        "experience",
        "min_age",
        "max_age",
        "conditions_any",
        "conditions_none",
        "allergens_none",
        "allergens_any",
    }
)


@dataclass(frozen=True)
class Source:
    key: str
    organisation: str
    citation: str
    kind: str
    year: int

    def short(self) -> str:
        return f"{self.organisation} ({self.year})"


def allergen_groups(allergies: tuple[str, ...]) -> frozenset[str]:
    """The food allergen groups a person's allergies (their own words) fall in: the
    coach's own reading (:func:`fitsense_core.coach.answers.nutrition.food_allergens`)."""
    from fitsense_core.coach.answers.nutrition import food_allergens

    return food_allergens(allergies)[0]


@dataclass(frozen=True)
class Applies:
    """Who a record applies to; an empty field means everyone."""

    goals: frozenset[str] = frozenset()
    experience: frozenset[str] = frozenset()
    min_age: int = 0
    max_age: int = 200
    conditions_any: frozenset[str] = frozenset()
    conditions_none: frozenset[str] = frozenset()
    # Food allergen groups (coach.knowledge.FOOD_ALLERGENS) the record must not reach.
    allergens_none: frozenset[str] = frozenset()
    # ...and groups of which the person must have one (advice for living with an allergy).
    allergens_any: frozenset[str] = frozenset()

    def matches(self, profile: UserProfile) -> bool:
        conditions = set(profile.condition_codes)
        if self.allergens_none or self.allergens_any:
            groups = allergen_groups(profile.allergies)
            if self.allergens_none & groups:
                return False
            if self.allergens_any and not self.allergens_any & groups:
                return False
        return (
            (not self.goals or bool(self.goals & set(profile.goals)))
            and (not self.experience or profile.experience in self.experience)
            and self.min_age <= profile.age <= self.max_age
            and (not self.conditions_any or bool(self.conditions_any & conditions))
            and not (self.conditions_none & conditions)
        )

    def overlaps(self, other: Applies) -> bool:
        """Some person could match both (conservatively: goals, experience and ages overlap,
        and neither's required conditions are excluded by the other)."""

        def meet(a: frozenset[str], b: frozenset[str]) -> bool:
            return not a or not b or bool(a & b)

        return (
            meet(self.goals, other.goals)
            and meet(self.experience, other.experience)
            and max(self.min_age, other.min_age) <= min(self.max_age, other.max_age)
            and not (self.conditions_any and self.conditions_any <= other.conditions_none)
            and not (other.conditions_any and other.conditions_any <= self.conditions_none)
            and not (self.allergens_any and self.allergens_any <= other.allergens_none)
            and not (other.allergens_any and other.allergens_any <= self.allergens_none)
        )


@dataclass(frozen=True)
class Record:
    id: str
    topic: str
    title: str
    text: str
    source: str
    questions: tuple[str, ...]
    quantities: dict[str, tuple[float, float]] = field(default_factory=dict, hash=False)
    personalise: str | None = None
    applies: Applies = Applies()
    file: str = ""

    def numbers(self) -> set[float]:
        """Every number the record's quantities declare."""
        return {v for rng in self.quantities.values() for v in rng}


@dataclass(frozen=True)
class KnowledgeBase:
    records: tuple[Record, ...]
    sources: dict[str, Source]
    sha256: str
    # Problems found while reading (a record that could not be read at all).
    read_problems: tuple[str, ...] = ()

    def by_id(self) -> dict[str, Record]:
        return {r.id: r for r in self.records}

    def applicable(self, profile: UserProfile) -> list[Record]:
        return [r for r in self.records if r.applies.matches(profile)]


def knowledge_dir() -> Path:
    configured = os.environ.get(KNOWLEDGE_DIR_ENV, "").strip()
    return Path(configured) if configured else PACKAGED_DIR


def _files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.toml") if p.name != SOURCES_FILE)


def knowledge_hash(directory: Path | None = None) -> str:
    """sha256 over the knowledge base's files (names and bytes): its data version."""
    directory = directory or knowledge_dir()
    digest = hashlib.sha256()
    for path in sorted(directory.glob("*.toml")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _range(value: Any) -> tuple[float, float]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (float(value), float(value))
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        and value[0] <= value[1]
    ):
        return (float(value[0]), float(value[1]))
    raise ValueError(f"a quantity is a number or a [low, high] pair with low <= high: {value!r}")


def _applies(raw: dict[str, Any]) -> Applies:
    unknown = set(raw) - _APPLIES_KEYS
    if unknown:
        raise ValueError(
            f"unknown applies keys {sorted(unknown)}; expected {sorted(_APPLIES_KEYS)}"
        )
    return Applies(
        goals=frozenset(raw.get("goals", ())),
        experience=frozenset(raw.get("experience", ())),
        min_age=int(raw.get("min_age", 0)),
        max_age=int(raw.get("max_age", 200)),
        conditions_any=frozenset(raw.get("conditions_any", ())),
        conditions_none=frozenset(raw.get("conditions_none", ())),
        allergens_none=frozenset(raw.get("allergens_none", ())),
        allergens_any=frozenset(raw.get("allergens_any", ())),
    )


def _record(raw: dict[str, Any], file: str) -> Record:
    missing = {"id", "topic", "title", "text", "source", "questions"} - set(raw)
    if missing:
        raise ValueError(f"missing {sorted(missing)}")
    return Record(
        id=str(raw["id"]),
        topic=str(raw["topic"]),
        title=str(raw["title"]).strip(),
        text=" ".join(str(raw["text"]).split()),
        source=str(raw["source"]),
        questions=tuple(str(q) for q in raw["questions"]),
        quantities={str(k): _range(v) for k, v in raw.get("quantities", {}).items()},
        personalise=raw.get("personalise"),
        applies=_applies(raw.get("applies", {})),
        file=file,
    )


def read_knowledge(directory: Path | None = None) -> KnowledgeBase:
    """The knowledge base in ``directory`` (default :func:`knowledge_dir`). Records that
    cannot be read are left out and named in ``read_problems``; :func:`validate` reports
    them with everything else."""
    directory = directory or knowledge_dir()
    if not directory.is_dir():
        raise ConfigurationError(f"no knowledge base at {directory}")
    problems: list[str] = []
    sources: dict[str, Source] = {}
    try:
        raw_sources = tomllib.loads((directory / SOURCES_FILE).read_text())["sources"]
    except (OSError, KeyError, tomllib.TOMLDecodeError) as exc:
        raw_sources = {}
        problems.append(f"{SOURCES_FILE}: unreadable ({exc})")
    for key, raw in raw_sources.items():
        try:
            sources[key] = Source(
                key,
                str(raw["organisation"]).strip(),
                str(raw["citation"]).strip(),
                str(raw["kind"]).strip(),
                int(raw["year"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            problems.append(f"{SOURCES_FILE}: source {key!r} is incomplete ({exc})")
    records: list[Record] = []
    for path in _files(directory):
        try:
            entries = tomllib.loads(path.read_text()).get("record", [])
        except tomllib.TOMLDecodeError as exc:
            problems.append(f"{path.name}: not valid TOML ({exc})")
            continue
        for i, raw in enumerate(entries):
            try:
                records.append(_record(raw, path.name))
            except (TypeError, ValueError) as exc:
                problems.append(f"{path.name}: record {raw.get('id', i)!r}: {exc}")
    return KnowledgeBase(tuple(records), sources, knowledge_hash(directory), tuple(problems))


def _record_problems(r: Record, sources: dict[str, Source]) -> list[str]:
    out: list[str] = []
    where = f"{r.file}: {r.id}"
    if r.topic not in KB_TOPICS:
        out.append(f"{where}: topic {r.topic!r} is not one of {KB_TOPICS}")
    if r.file and r.topic != Path(r.file).stem:
        out.append(f"{where}: a {r.topic} record in {r.file}")
    if not r.id.startswith(f"{r.topic}.") or not re.fullmatch(r"[a-z]+\.[a-z0-9-]+", r.id):
        out.append(f"{where}: id must be '<topic>.<kebab-slug>'")
    source = sources.get(r.source)
    if source is None:
        out.append(
            f"{where}: source {r.source!r} is not in {SOURCES_FILE} (every record is sourced)"
        )
    if not r.title:
        out.append(f"{where}: no title")
    lo, hi = TEXT_CHARS
    if not lo <= len(r.text) <= hi:
        out.append(f"{where}: text is {len(r.text)} characters, expected {lo}-{hi}")
    qlo, qhi = QUESTIONS_PER_RECORD
    if not qlo <= len(r.questions) <= qhi or not all(q.strip() for q in r.questions):
        out.append(f"{where}: {len(r.questions)} questions, expected {qlo}-{qhi} non-empty")
    declared = r.numbers()
    for number in _NUMBER.findall(r.text):
        if float(number) not in declared:
            out.append(f"{where}: the text states {number} but no quantity declares it")
    if r.personalise is not None and r.personalise not in PERSONALISE:
        out.append(f"{where}: personalise {r.personalise!r} is not one of {PERSONALISE}")
    if r.personalise == "per_kg_body_weight" and not any(
        k.endswith("_per_kg") for k in r.quantities
    ):
        out.append(f"{where}: personalised per kg but no '*_per_kg' quantity")
    a = r.applies
    if a.goals - set(GOALS_BY_CODE):
        out.append(f"{where}: unknown goals {sorted(a.goals - set(GOALS_BY_CODE))}")
    if a.experience - set(EXPERIENCE_LEVELS):
        out.append(f"{where}: unknown experience {sorted(a.experience - set(EXPERIENCE_LEVELS))}")
    unknown = (a.conditions_any | a.conditions_none) - set(CONDITIONS_BY_CODE)
    if unknown:
        out.append(f"{where}: unknown conditions {sorted(unknown)}")
    unknown_allergens = (a.allergens_none | a.allergens_any) - set(FOOD_ALLERGENS)
    if unknown_allergens:
        out.append(f"{where}: unknown allergens {sorted(unknown_allergens)}")
    if a.min_age > a.max_age:
        out.append(f"{where}: min_age {a.min_age} > max_age {a.max_age}")
    return out


def contradictions(records: tuple[Record, ...] | list[Record]) -> list[str]:
    """Pairs of records that could apply to the same person and state different ranges
    for the same quantity."""
    out = []
    for a, b in itertools.combinations(records, 2):
        shared = set(a.quantities) & set(b.quantities)
        if not shared or not a.applies.overlaps(b.applies):
            continue
        for key in sorted(shared):
            if a.quantities[key] != b.quantities[key]:
                out.append(
                    f"{a.id} and {b.id} apply to the same people and disagree on {key}: "
                    f"{list(a.quantities[key])} vs {list(b.quantities[key])}"
                )
    return out


def validate(kb: KnowledgeBase) -> list[str]:
    """Everything wrong with ``kb`` ([] when nothing is): unreadable entries, unsourced
    or incomplete records, numbers the record does not declare, unknown conditions,
    duplicate ids, and contradictions between records that apply to the same person."""
    problems = list(kb.read_problems)
    for key, s in kb.sources.items():
        if not s.organisation or len(s.citation) < 20:
            problems.append(f"{SOURCES_FILE}: source {key!r} lacks an organisation or citation")
        if s.kind not in SOURCE_KINDS:
            problems.append(f"{SOURCES_FILE}: source {key!r} kind {s.kind!r} not in {SOURCE_KINDS}")
    seen: set[str] = set()
    for r in kb.records:
        if r.id in seen:
            problems.append(f"{r.file}: {r.id}: duplicate id")
        seen.add(r.id)
        problems += _record_problems(r, kb.sources)
    problems += contradictions(kb.records)
    if not kb.records:
        problems.append("the knowledge base holds no records")
    return problems


@cache
def _loaded(directory: str, sha: str) -> KnowledgeBase:
    kb = read_knowledge(Path(directory))
    problems = validate(kb)
    if problems:
        raise ConfigurationError(
            f"the knowledge base at {directory} has {len(problems)} problem(s): "
            + "; ".join(problems[:5])
        )
    return kb


def _stamp(directory: Path) -> tuple[tuple[str, int, int], ...]:
    """Names, sizes and modification times of the base's files: cheap to take on every
    call, and it changes whenever a file does."""
    out = []
    for path in sorted(directory.glob("*.toml")):
        st = path.stat()
        out.append((path.name, st.st_size, st.st_mtime_ns))
    return tuple(out)


_SHA_BY_STAMP: dict[tuple[str, tuple[tuple[str, int, int], ...]], str] = {}


def knowledge_base() -> KnowledgeBase:
    """The process's knowledge base, validated (a :class:`ConfigurationError` names the
    problems when it is not valid); read again when its files change (their bytes are
    hashed only when a file's size or modification time moves, not on every answer)."""
    directory = knowledge_dir()
    key = (str(directory), _stamp(directory))
    sha = _SHA_BY_STAMP.get(key)
    if sha is None:
        sha = knowledge_hash(directory)
        _SHA_BY_STAMP.clear()
        _SHA_BY_STAMP[key] = sha
    return _loaded(str(directory), sha)
