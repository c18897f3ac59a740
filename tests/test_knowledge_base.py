"""The knowledge base: the packaged records are valid, every kind of problem the
validation names is caught when planted, and the blocking check stops a run on one."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest

from fitsense_assets.defs.teacher.assets import prompts
from fitsense_assets.defs.teacher.knowledge import knowledge_base, knowledge_base_valid
from fitsense_assets.partitions import run_partitions
from fitsense_assets.resources import ArtifactStoreResource
from fitsense_core.coach import knowledge_base as kbm
from fitsense_core.coach.knowledge_base import (
    KB_TOPICS,
    KNOWLEDGE_DIR_ENV,
    PACKAGED_DIR,
    Applies,
    read_knowledge,
    validate,
)
from fitsense_core.errors import ConfigurationError
from fitsense_core.profile import UserProfile

GOOD = """
[[record]]
id = "nutrition.planted-a"
topic = "nutrition"
title = "A planted record"
text = "Planted: eat about 1.6-2.2 g of protein per kg of body weight a day, spread over your meals for the day."
source = "{source}"
questions = ["q one", "q two", "q three"]
quantities = {{ planted_g_per_kg = [1.6, 2.2] }}
"""


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "knowledge"
    shutil.copytree(PACKAGED_DIR, target)
    return target


def _plant(directory: Path, text: str) -> None:
    with (directory / "nutrition.toml").open("a") as fh:
        fh.write(text)


def _any_source() -> str:
    return next(iter(read_knowledge(PACKAGED_DIR).sources))


def profile(**overrides) -> UserProfile:
    values = dict(
        user_id="u",
        age=30,
        sex="F",
        height_cm=165,
        activity_level="moderate",
        goals=("muscle_gain",),
        experience="intermediate",
        days_per_week=3,
        session_length_min=60,
        equipment=frozenset({"dumbbell"}),
    )
    values.update(overrides)
    return UserProfile(**values)


def test_the_packaged_knowledge_base_is_valid_and_covers_every_topic() -> None:
    kb = read_knowledge(PACKAGED_DIR)
    assert validate(kb) == []
    assert len(kb.records) >= 80
    topics = {r.topic for r in kb.records}
    assert topics == set(KB_TOPICS)
    for topic in KB_TOPICS:
        assert sum(r.topic == topic for r in kb.records) >= 6, topic
    # Every record names a source with an organisation, a citation and a year.
    for r in kb.records:
        s = kb.sources[r.source]
        assert s.organisation and s.citation and 1990 <= s.year <= 2026, r.id


def test_a_planted_record_of_each_kind_of_problem_is_caught(tmp_path: Path) -> None:
    source = _any_source()
    cases = {
        "unknown source": (GOOD.format(source="no-such-source"), "is not in sources.toml"),
        "undeclared number": (
            GOOD.format(source=source).replace("spread over your meals", "over 4 meals"),
            "the text states 4 but no quantity declares it",
        ),
        "unknown condition": (
            GOOD.format(source=source) + '[record.applies]\nconditions_none = ["gout"]\n',
            "unknown conditions ['gout']",
        ),
        "contradiction": (
            GOOD.format(source=source)
            + GOOD.format(source=source)
            .replace("planted-a", "planted-b")
            .replace("1.6-2.2", "1.2-1.4")
            .replace("[1.6, 2.2]", "[1.2, 1.4]"),
            "planted-a and nutrition.planted-b apply to the same people and disagree",
        ),
        "duplicate id": (GOOD.format(source=source) * 2, "duplicate id"),
        "wrong topic": (
            GOOD.format(source=source).replace('topic = "nutrition"', 'topic = "sleep"'),
            "a sleep record in nutrition.toml",
        ),
        "missing field": (
            GOOD.format(source=source).replace('title = "A planted record"\n', ""),
            "missing ['title']",
        ),
    }
    for name, (text, expected) in cases.items():
        directory = _copy(tmp_path / name.replace(" ", "_"))
        _plant(directory, text)
        problems = validate(read_knowledge(directory))
        assert any(expected in p for p in problems), (name, problems)


def test_records_for_different_people_may_state_different_ranges(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    source = _any_source()
    older = GOOD.format(source=source).replace("planted-a", "planted-old") + (
        "[record.applies]\nmin_age = 65\n"
    )
    younger = (
        GOOD.format(source=source)
        .replace("planted-a", "planted-young")
        .replace("1.6-2.2", "1.2-1.4")
        .replace("[1.6, 2.2]", "[1.2, 1.4]")
        + "[record.applies]\nmax_age = 64\n"
    )
    _plant(directory, older + younger)
    assert not [p for p in validate(read_knowledge(directory)) if "planted" in p]


def test_a_source_without_a_citation_is_a_problem(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    with (directory / "sources.toml").open("a") as fh:
        fh.write(
            '\n[sources.thin]\norganisation = "Someone"\ncitation = ""\nkind = "guideline"\nyear = 2020\n'
        )
    assert any(
        "'thin' lacks an organisation or citation" in p for p in validate(read_knowledge(directory))
    )


def test_applies_matches_people_and_overlap_is_conservative() -> None:
    pregnant = profile(conditions=(("pregnancy", "moderate"),))
    everyone = Applies()
    not_pregnant = Applies(conditions_none=frozenset({"pregnancy"}))
    only_pregnant = Applies(conditions_any=frozenset({"pregnancy"}))
    assert everyone.matches(pregnant) and not not_pregnant.matches(pregnant)
    assert only_pregnant.matches(pregnant) and not only_pregnant.matches(profile())
    assert Applies(min_age=65).matches(profile(age=70)) and not Applies(min_age=65).matches(
        profile()
    )
    assert Applies(goals=frozenset({"strength"})).matches(
        profile(goals=("muscle_gain", "strength"))
    )
    # Advice for living with an allergy reaches only someone who has one of them.
    allergic_only = Applies(allergens_any=frozenset({"dairy", "eggs"}))
    assert allergic_only.matches(profile(allergies=("lactose",)))
    assert not allergic_only.matches(profile())
    assert not allergic_only.matches(profile(allergies=("peanuts",)))
    assert not allergic_only.overlaps(Applies(allergens_none=frozenset({"dairy", "eggs"})))
    assert not not_pregnant.overlaps(only_pregnant)
    assert not Applies(min_age=65).overlaps(Applies(max_age=64))
    assert Applies(goals=frozenset({"fat_loss"})).overlaps(everyone)
    assert not Applies(goals=frozenset({"fat_loss"})).overlaps(
        Applies(goals=frozenset({"strength"}))
    )


def test_the_process_refuses_an_invalid_knowledge_base(tmp_path: Path, monkeypatch) -> None:
    directory = _copy(tmp_path)
    _plant(directory, GOOD.format(source="no-such-source"))
    monkeypatch.setenv(KNOWLEDGE_DIR_ENV, str(directory))
    with pytest.raises(ConfigurationError, match=r"is not in sources\.toml"):
        kbm.knowledge_base()
    monkeypatch.setenv(KNOWLEDGE_DIR_ENV, str(tmp_path / "missing"))
    with pytest.raises(ConfigurationError, match="no knowledge base"):
        kbm.knowledge_base()


def _materialize(root: Path, run_id: str, with_prompts: bool) -> dg.ExecuteInProcessResult:
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(run_partitions.name, [run_id])
    assets = [knowledge_base, knowledge_base_valid] + ([prompts] if with_prompts else [])
    return dg.materialize(
        assets,
        instance=instance,
        partition_key=run_id,
        resources={"artifact_store": ArtifactStoreResource(root=str(root))},
        raise_on_error=False,
    )


def _check(result: dg.ExecuteInProcessResult):
    return next(
        e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
    )


def test_the_blocking_check_passes_the_packaged_base_and_stops_a_run_on_a_broken_source(
    tmp_path: Path, monkeypatch
) -> None:
    result = _materialize(tmp_path / "store", "kb-ok", with_prompts=False)
    assert result.success
    metadata = result.asset_materializations_for_node("knowledge_base")[0].metadata
    assert metadata["problems"].value == 0 and metadata["records"].value >= 80
    assert _check(result).passed

    # One record's source broken: the check fails and the teacher's prompts never run.
    directory = _copy(tmp_path)
    path = directory / "sleep.toml"
    text = path.read_text()
    first = text.index('source = "') + len('source = "')
    path.write_text(text[:first] + "broken-" + text[first:])
    monkeypatch.setenv(KNOWLEDGE_DIR_ENV, str(directory))
    result = _materialize(tmp_path / "store", "kb-broken", with_prompts=True)
    check = _check(result)
    assert not check.passed and "broken-" in check.description
    assert not result.asset_materializations_for_node("prompts")
    assert "prompts" not in {
        e.step_key for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_START
    }
