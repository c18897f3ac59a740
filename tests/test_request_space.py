"""The request space is open and varied, held-out cores reach only test people, people
are split by their profile, every run draws new people, and the dataset's checks stop a
test request leaked into training and a repeated target."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from fitsense_assets.defs.distill.checks import duplicate_problems, integrity_problems
from fitsense_core import layout
from fitsense_core import request_space as rs
from fitsense_core.artifacts import ArtifactStore
from fitsense_core.distill import (
    build_records,
    dataset_records,
    deduplicate,
    leaked_test_records,
    split_of,
    withhold_policy_answers,
    write_dataset,
)
from fitsense_core.prompts import Prompt, build_prompts
from fitsense_core.qa import ValidatedAnswer, validate_answers
from fitsense_core.safety import normalise
from fitsense_core.synthetic import SyntheticConfig, generate_run
from fitsense_core.synthetic.config import run_seed
from fitsense_core.synthetic.context import user_contexts
from fitsense_core.teacher import run_teacher
from fitsense_core.teacher.offline import OfflineTeacher

END = date(2026, 1, 4)


def _run(run_id: str, seed: int, n: int = 150) -> list[Prompt]:
    config = SyntheticConfig(run_id=run_id, n_users=n, seed=seed, history_days=28, history_end=END)
    return build_prompts(run_id, user_contexts(*generate_run(config)))


@pytest.fixture(scope="module")
def prompts() -> list[Prompt]:
    return _run("space", run_seed(42, "space"))


@pytest.fixture(scope="module")
def accepted(prompts: list[Prompt]) -> list[ValidatedAnswer]:
    answers = run_teacher(prompts, OfflineTeacher()).answers
    return [v for v in validate_answers(prompts, answers) if v.accepted]


def test_the_space_is_large_and_every_intent_holds_cores_out() -> None:
    size = rs.space_size()
    assert sum(k["requests"] for k in size.values()) >= 40_000
    for kind, entry in size.items():
        assert entry["held_out_cores"] >= len(rs.intents(kind)), kind
        assert entry["held_out_requests"] > 0 and entry["train_requests"] > 0
    for kind in rs.KINDS:
        for key in rs.intents(kind):
            assert rs.held_out_cores(kind, key) < frozenset(rs._cores(kind, key))


def test_held_out_cores_are_never_composed_for_training() -> None:
    held = {rs._normal(c.text) for k in rs.KINDS for c in rs.enumerate_space(k, held=True)}
    assert not held & rs.train_space()


def test_test_people_are_asked_only_held_out_requests(prompts: list[Prompt]) -> None:
    train = rs.train_space()
    by_split: dict[str, list[Prompt]] = {}
    for p in prompts:
        by_split.setdefault(split_of(p.context_json), []).append(p)
    assert set(by_split) == {"train", "val", "test"}
    assert all(rs._normal(p.request) not in train for p in by_split["test"])
    assert all(rs._normal(p.request) in train for p in by_split["train"])
    distinct = {p.request for p in prompts}
    assert len(distinct) > 0.8 * len(prompts)  # the closed bank repeated requests


def test_the_coach_understands_the_paraphrases() -> None:
    agreement = rs.classifier_agreement()
    assert agreement["coaching"]["share"] >= 0.99, agreement["coaching"]["misread"]
    for kind in ("plan_creation", "plan_update", "safety"):
        assert agreement[kind]["share"] == 1.0, agreement[kind]["misread"]


def test_a_person_generated_again_keeps_their_split_and_runs_draw_new_people() -> None:
    first = _run("run-a", 7, n=40)
    again = _run("run-b", 7, n=40)  # same seed: the same people under new ids
    splits = {
        json.loads(p.context_json)["profile"]["user_id"]: split_of(p.context_json) for p in first
    }
    regenerated = {
        json.loads(p.context_json)["profile"]["user_id"]: split_of(p.context_json) for p in again
    }
    assert set(splits) != set(regenerated)
    assert sorted(splits.values()) == sorted(regenerated.values())
    assert run_seed(42, "run-a") != run_seed(42, "run-b")
    assert run_seed(42, "run-a") == run_seed(42, "run-a") < 1 << 60
    fresh = _run("run-b", run_seed(42, "run-b"), n=40)
    keys = {rs.profile_key(_profile(p)) for p in first}
    assert not keys & {rs.profile_key(_profile(p)) for p in fresh}


def _profile(prompt: Prompt):
    from fitsense_core.prompts import context_from_json

    return context_from_json(prompt.context_json)[0]


def test_duplicates_are_dropped_before_the_split(accepted: list[ValidatedAnswer]) -> None:
    twin = accepted[0]
    copy = replace(twin, prompt=replace(twin.prompt, prompt_id="zzzz-copy"))
    kept, report = deduplicate([*accepted, copy])
    assert "zzzz-copy" not in {v.prompt.prompt_id for v in kept}
    assert report["candidates"] - report["kept"] >= 1
    targets = [v.answer.output_json for v in kept]
    assert len(targets) == len(set(targets))


def test_dropped_records_count_where_their_people_were_assigned(
    accepted: list[ValidatedAnswer], tmp_path: Path
) -> None:
    # De-duplication drops mostly training people's repeated answers (test people were
    # asked held-out requests): the share check judges the split assignment, so what was
    # dropped counts in its person's split, and dropping never moves a person.
    copies = [
        replace(v, prompt=replace(v.prompt, prompt_id=f"zzzz-copy-{i}"))
        for i, v in enumerate(accepted[:40])
    ]
    records, dropped = dataset_records([*accepted, *copies])
    by_split = dropped["by_split_and_type"]
    duplicates = dropped["duplicates"]["candidates"] - dropped["duplicates"]["kept"]
    assert sum(n for types in by_split.values() for n in types.values()) == (
        duplicates + dropped["test_requests_seen_in_train"]
    )
    assert duplicates >= 40
    assert {r.split for r in records if r.metadata["user_id"] == accepted[0].prompt.user_id} == {
        split_of(accepted[0].prompt.context_json)
    }
    records, withheld = withhold_policy_answers(records)
    store = ArtifactStore(str(tmp_path))
    write_dataset(store, "d", records, teachers={}, rejected=0, dropped=dropped, withheld=withheld)
    assert integrity_problems(store, "d", set())[0] == []
    # Without counting them, a split that lost its people's duplicates looks short.
    forgotten = {**dropped, "by_split_and_type": {}}
    write_dataset(
        store, "f", records, teachers={}, rejected=0, dropped=forgotten, withheld=withheld
    )
    counts_with = integrity_problems(store, "d", set())[1]
    counts_without = integrity_problems(store, "f", set())[1]
    assert (
        sum(sum(c.values()) for c in counts_with.values())
        - sum(sum(c.values()) for c in counts_without.values())
        == duplicates + dropped["test_requests_seen_in_train"]
    )


def test_a_leaked_test_request_is_dropped_and_caught(
    accepted: list[ValidatedAnswer], tmp_path: Path
) -> None:
    records, dropped = dataset_records(accepted)
    assert dropped["test_requests_seen_in_train"] == 0
    records, withheld = withhold_policy_answers(records)
    store = ArtifactStore(str(tmp_path))
    write_dataset(
        store, "clean", records, teachers={}, rejected=0, dropped=dropped, withheld=withheld
    )
    assert integrity_problems(store, "clean", set())[0] == []
    assert duplicate_problems(store, "clean") == []

    # Plant: a training record asks exactly what a test record asks.
    test = next(r for r in records if r.split == "test")
    i = next(i for i, r in enumerate(records) if r.split == "train")
    planted = list(records)
    planted[i] = replace(
        records[i], metadata={**records[i].metadata, "request": test.metadata["request"]}
    )
    assert leaked_test_records(planted) == [test]
    write_dataset(
        store, "leaky", planted, teachers={}, rejected=0, dropped=dropped, withheld=withheld
    )
    problems, _counts = integrity_problems(store, "leaky", set())
    assert any("test requests also in train" in p for p in problems), problems
    assert normalise(test.metadata["request"]) not in {
        normalise(r.metadata["request"]) for r in build_records(accepted) if r.split != "test"
    }


def test_a_repeated_target_and_a_high_duplicate_share_fail(
    accepted: list[ValidatedAnswer], tmp_path: Path
) -> None:
    records, dropped = dataset_records(accepted)
    store = ArtifactStore(str(tmp_path))
    twin = replace(records[1], messages=records[0].messages, id="zzzz-twin")
    write_dataset(store, "twin", [*records, twin], teachers={}, rejected=0, dropped=dropped)
    assert any("repeat another's target" in p for p in duplicate_problems(store, "twin"))
    heavy = {**dropped, "duplicates": {**dropped["duplicates"], "duplicate_share": 0.6}}
    write_dataset(store, "heavy", records, teachers={}, rejected=0, dropped=heavy)
    assert any("repeats itself" in p for p in duplicate_problems(store, "heavy"))
    assert store.read_json(*layout.distillation_manifest("heavy"))["dropped"] == heavy


def test_composition_is_seeded() -> None:
    rng_a, rng_b = random.Random(1), random.Random(1)
    a = [rs.compose("coaching", "sleep", rng_a, held=False) for _ in range(20)]
    b = [rs.compose("coaching", "sleep", rng_b, held=False) for _ in range(20)]
    assert a == b and len({c.text for c in a}) > 1
