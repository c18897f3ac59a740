"""The teacher stage split over N shard steps (one Dagster run): the hash split, the division
of the budget, the merge, and the graph-backed teacher_outputs with N = 1 and N = 3."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from dagster._core.execution.api import create_execution_plan

from fitsense_assets.defs.teacher.assets import (
    TEACHER_POOL,
    answer_teacher_shard,
    pool_limit_warning,
    teacher_outputs,
)
from fitsense_assets.defs.teacher.checks import teacher_failure_rate
from fitsense_assets.partitions import run_partitions
from fitsense_assets.resources import ArtifactStoreResource, TeacherResource
from fitsense_assets.stages import read_answers
from fitsense_core.artifacts import ArtifactStore
from fitsense_core.errors import ConfigurationError, DataValidationError
from fitsense_core.layout import teacher_answers as answers_prefix
from fitsense_core.layout import teacher_prompts as prompts_prefix
from fitsense_core.layout import teacher_shard_answers as shard_answers_prefix
from fitsense_core.prompts import Prompt, build_prompts
from fitsense_core.synthetic import TableSet
from fitsense_core.synthetic.context import user_contexts
from fitsense_core.teacher import run_teacher
from fitsense_core.teacher.base import Completion, TeacherAnswer
from fitsense_core.teacher.offline import OfflineTeacher
from fitsense_core.teacher.shards import (
    SHARDS_ENV,
    answers_frame,
    answers_from_frame,
    merge_shards,
    resolve_shards,
    shard_budget,
    shard_from_key,
    shard_key,
    shard_of,
    split_prompts,
)

RUN_ID = "shards"
# Everything but the time each answer took.
COMPARED = [c for c in TeacherAnswer.__dataclass_fields__ if c != "latency_ms"]


@pytest.fixture(scope="module")
def prompts(small_run: list[TableSet]) -> list[Prompt]:
    built = build_prompts("test-small", user_contexts(*small_run))
    return built[:90]  # every prompt type, for 15 people


# ---------------------------------------------------------------- the split and the budget


def test_shard_count_from_resource_or_environment() -> None:
    assert resolve_shards(0, {}) == 1
    assert resolve_shards(0, {SHARDS_ENV: ""}) == 1
    assert resolve_shards(0, {SHARDS_ENV: "3"}) == 3
    assert resolve_shards(5, {SHARDS_ENV: "3"}) == 5  # the resource's own value wins
    assert resolve_shards(0, {SHARDS_ENV: "64"}) == 64
    for bad, message in (
        ("0", "FITSENSE_TEACHER_SHARDS must be between 1 and 64, got 0"),
        ("65", "FITSENSE_TEACHER_SHARDS must be between 1 and 64, got 65"),
        ("three", "FITSENSE_TEACHER_SHARDS must be an integer, got 'three'"),
    ):
        with pytest.raises(ConfigurationError) as failed:
            resolve_shards(0, {SHARDS_ENV: bad})
        assert str(failed.value) == message
    for bad in (-1, 65):
        with pytest.raises(ConfigurationError, match=f"between 1 and 64.*got {bad}"):
            resolve_shards(bad, {})


def test_teacher_resource_resolves_shards(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SHARDS_ENV, raising=False)
    assert TeacherResource().resolved_shards() == 1
    monkeypatch.setenv(SHARDS_ENV, "4")
    assert TeacherResource().resolved_shards() == 4
    assert TeacherResource(shards=2).resolved_shards() == 2
    monkeypatch.setenv(SHARDS_ENV, "99")
    with pytest.raises(ConfigurationError, match="FITSENSE_TEACHER_SHARDS must be between"):
        TeacherResource().resolved_shards()


def test_shards_are_disjoint_cover_everything_and_keep_prompt_order(
    prompts: list[Prompt],
) -> None:
    for shards in (1, 2, 3, 7, 64):
        parts = split_prompts(prompts, shards)
        assert len(parts) == shards
        ids = [[p.prompt_id for p in part] for part in parts]
        flat = [i for part in ids for i in part]
        assert sorted(flat) == sorted(p.prompt_id for p in prompts)  # covered, each once
        assert len(flat) == len(set(flat)) == len(prompts)
        order = {p.prompt_id: n for n, p in enumerate(prompts)}
        for shard, part in enumerate(parts):
            assert [order[i] for i in ids[shard]] == sorted(order[i] for i in ids[shard])
            assert all(int(p.prompt_hash[:8], 16) % shards == shard for p in part)
        # A shard is a function of the prompt: the same split every time.
        assert split_prompts(list(reversed(prompts)), shards) == [
            list(reversed(part)) for part in parts
        ]
    # Prompts with the same hash (one cache entry) are always in one shard.
    by_hash: dict[str, set[int]] = {}
    for prompt in prompts:
        by_hash.setdefault(prompt.prompt_hash, set()).add(shard_of(prompt.prompt_hash, 3))
    assert all(len(shards) == 1 for shards in by_hash.values())
    assert all(split_prompts(prompts, 3))  # every shard has work
    # Roughly even: measured on 3,000 prompt-like hashes, not on one small run's 90
    # prompts, whose split by three is a binomial draw (35/18/37 happens).
    hashes = [hashlib.sha256(f"prompt-{i}".encode()).hexdigest() for i in range(3000)]
    sizes = Counter(shard_of(h, 3) for h in hashes)
    assert min(sizes.values()) > 0.3 * len(hashes)
    assert [shard_key(s) for s in range(3)] == ["shard_0", "shard_1", "shard_2"]
    assert shard_from_key("shard_12") == 12
    with pytest.raises(ValueError, match="not a teacher shard key"):
        shard_from_key("12")


def test_each_shard_gets_a_share_of_the_budget() -> None:
    assert shard_budget(4, None, 1) == shard_budget(4, 0, 1)
    whole = shard_budget(4, 90_000, 1)
    assert (whole.concurrency, whole.tokens_per_minute) == (4, 90_000)
    third = shard_budget(10, 90_000, 3)
    assert (third.concurrency, third.tokens_per_minute) == (3, 30_000)
    assert shard_budget(4, 10_000, 3).tokens_per_minute == 3_333  # rounded down: never above
    assert shard_budget(4, 0, 8) == shard_budget(4, None, 8)
    assert shard_budget(4, 0, 8).tokens_per_minute is None  # no budget stays no budget
    assert shard_budget(4, 0, 8).concurrency == 1  # at least one request in flight
    assert shard_budget(1, 0, 64).concurrency == 1
    for shards in range(1, 65):
        budget = shard_budget(16, 100_000, shards)
        assert budget.concurrency * shards <= max(16, shards)
        assert budget.tokens_per_minute * shards <= 100_000
    with pytest.raises(ConfigurationError, match="less than one token a minute"):
        shard_budget(4, 2, 3)


def test_merge_puts_answers_back_in_prompt_order(prompts: list[Prompt]) -> None:
    whole = run_teacher(prompts, OfflineTeacher()).answers
    parts = [run_teacher(part, OfflineTeacher()).answers for part in split_prompts(prompts, 3)]
    merged = merge_shards(prompts, parts)
    assert [a.prompt_id for a in merged] == [p.prompt_id for p in prompts]
    assert [(a.prompt_id, a.output_json) for a in merged] == [
        (a.prompt_id, a.output_json) for a in whole
    ]
    # A shard that holds other prompts (a stale file, a different N) is refused.
    with pytest.raises(DataValidationError, match="teacher shard 1 of 3"):
        merge_shards(prompts, [parts[0], parts[2], parts[1]])
    with pytest.raises(DataValidationError, match="teacher shard 0 of 3"):
        merge_shards(prompts, [parts[0][1:], parts[1], parts[2]])
    # A shard's table reads back as the same answers.
    assert answers_from_frame(answers_frame(parts[0])) == list(parts[0])
    assert list(answers_frame([]).columns) == list(TeacherAnswer.__dataclass_fields__)


# ---------------------------------------------------------------- the Dagster stage


def _write_prompts(root: Path, prompts: list[Prompt]) -> ArtifactStore:
    store = ArtifactStore(str(root))
    frame = pd.DataFrame([p.record() for p in prompts])
    store.write_tables(TableSet({"prompts": frame}, {"run_id": RUN_ID}), *prompts_prefix(RUN_ID))
    return store


def _materialize(root: Path, teacher: TeacherResource) -> dg.ExecuteInProcessResult:
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(run_partitions.name, [RUN_ID])
    return dg.materialize(
        [teacher_outputs, teacher_failure_rate],
        partition_key=RUN_ID,
        instance=instance,
        resources={"artifact_store": ArtifactStoreResource(root=str(root)), "teacher": teacher},
    )


def _rows(store: ArtifactStore) -> pd.DataFrame:
    return store.read_tables(*answers_prefix(RUN_ID))["answers"][COMPARED]


def test_three_shards_write_what_one_step_writes(
    prompts: list[Prompt], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FITSENSE_TEACHER_PROVIDER", raising=False)
    monkeypatch.delenv(SHARDS_ENV, raising=False)
    one = _write_prompts(tmp_path / "one", prompts)
    single = _materialize(tmp_path / "one", TeacherResource())
    three = _write_prompts(tmp_path / "three", prompts)
    monkeypatch.setenv(SHARDS_ENV, "3")
    sharded = _materialize(tmp_path / "three", TeacherResource())
    assert single.success and sharded.success

    # Default N = 1: one shard step, answers exactly as the single step answered them.
    steps = {e.step_key for e in single.all_events if e.is_step_success}
    assert {s for s in steps if "answer_teacher_shard" in s} == {
        "teacher_outputs.answer_teacher_shard[shard_0]"
    }
    direct = pd.DataFrame([a.record() for a in run_teacher(prompts, OfflineTeacher()).answers])
    pd.testing.assert_frame_equal(_rows(one), direct[COMPARED].astype(_rows(one).dtypes))

    # N = 3: three shard steps, each with its own part, merged into the same table row for
    # row (and the same columns and types).
    steps = {e.step_key for e in sharded.all_events if e.is_step_success}
    assert {s for s in steps if "answer_teacher_shard" in s} == {
        f"teacher_outputs.answer_teacher_shard[shard_{n}]" for n in range(3)
    }
    pd.testing.assert_frame_equal(_rows(one), _rows(three))
    assert read_answers(one, RUN_ID)[0].prompt_id == prompts[0].prompt_id
    parts = [
        three.read_tables(*shard_answers_prefix(RUN_ID, n))["answers"]["prompt_id"].tolist()
        for n in range(3)
    ]
    assert parts == [[p.prompt_id for p in part] for part in split_prompts(prompts, 3)]
    assert three.read_json("teacher_outputs", RUN_ID, "shards", "plan.json")["sizes"] == [
        len(p) for p in parts
    ]
    assert three.read_tables(*answers_prefix(RUN_ID)).meta == {"run_id": RUN_ID}

    # The materialization's metadata: the same keys and values, and the shards'.
    def metadata(result: dg.ExecuteInProcessResult) -> dict:
        (event,) = result.get_asset_materialization_events()
        assert event.partition == RUN_ID
        return {k: v.value for k, v in event.materialization.metadata.items()}

    first, second = metadata(single), metadata(sharded)
    timing = {"seconds", "prompts_per_second", "shard_seconds"}
    assert {
        k: v for k, v in first.items() if k not in timing | {"uri", "shards", "shard_rows"}
    } == {k: v for k, v in second.items() if k not in timing | {"uri", "shards", "shard_rows"}}
    assert first["dagster/row_count"] == len(prompts) and first["provider"] == "offline"
    assert (first["shards"], first["shard_rows"]) == (1, [len(prompts)])
    assert (second["shards"], second["shard_rows"]) == (3, [len(p) for p in parts])
    assert len(second["shard_seconds"]) == 3
    assert second["uri"] == three.uri(*answers_prefix(RUN_ID))
    # The asset check on teacher_outputs ran after the merge, as before.
    (check,) = [
        e.asset_check_evaluation_data
        for e in sharded.all_events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ]
    assert check.check_name == "teacher_failure_rate" and check.passed


class CountingTeacher:
    """A provider that is not the offline coach (so the answer cache is used), counting
    what it is asked."""

    provider = "counting"
    model = "m"

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def complete(self, prompt: Prompt) -> Completion:
        self.asked.append(prompt.prompt_hash)
        completion = await OfflineTeacher().complete(prompt)
        return Completion(completion.output_json, 10, 20)


def test_shards_share_the_answer_cache_without_sharing_a_prompt(
    prompts: list[Prompt], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    teacher = CountingTeacher()
    monkeypatch.setattr(TeacherResource, "teacher", lambda self: teacher)
    store = _write_prompts(tmp_path, prompts)
    assert _materialize(tmp_path, TeacherResource(shards=3)).success
    hashes = {p.prompt_hash for p in prompts}
    # Every distinct prompt asked at most as often as one step would ask it, one cache entry
    # each, in one shard only.
    assert set(teacher.asked) == hashes
    cache = store.local_path("teacher_outputs", "cache", "counting-m")
    assert cache is not None and len(list(cache.rglob("*.json"))) == len(hashes)

    # Again, now with 2 shards: every answer from the cache, none asked.
    teacher.asked.clear()
    assert _materialize(tmp_path, TeacherResource(shards=2)).success
    assert teacher.asked == []
    answers = read_answers(store, RUN_ID)
    assert {a.source for a in answers} == {"cache"} and len(answers) == len(prompts)


def test_budget_division_reaches_each_shard(
    prompts: list[Prompt], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each shard step calls run_teacher with its share of concurrency and tokens."""
    from fitsense_assets.defs.teacher import assets

    seen: list[tuple[int, int, int | None]] = []

    def recording(batch, provider, **kwargs):
        seen.append((len(batch), kwargs["concurrency"], kwargs["tokens_per_minute"]))
        return run_teacher(batch, provider, **kwargs)

    monkeypatch.setattr(assets, "run_teacher", recording)
    _write_prompts(tmp_path, prompts)
    teacher = TeacherResource(shards=3, concurrency=8, tokens_per_minute=3_000_000)
    assert _materialize(tmp_path, teacher).success
    assert sorted(seen) == sorted((len(part), 2, 1_000_000) for part in split_prompts(prompts, 3))


def test_shard_steps_are_in_the_teacher_provider_pool() -> None:
    assert TEACHER_POOL == "teacher_provider"
    assert answer_teacher_shard.pool == TEACHER_POOL
    job = dg.Definitions(
        assets=[teacher_outputs],
        resources={"artifact_store": ArtifactStoreResource(), "teacher": TeacherResource()},
    ).resolve_implicit_global_asset_job_def()

    pools = {
        s.node_handle.name: s.pool for s in create_execution_plan(job).get_all_steps_in_topo_order()
    }
    assert pools == {
        "split_teacher_prompts": None,
        "answer_teacher_shard": TEACHER_POOL,
        "merge_teacher_shards": None,
    }


def test_pool_limit_warning() -> None:
    with dg.instance_for_test() as instance:
        assert "has no limit" in (pool_limit_warning(instance, 3) or "")
        instance.event_log_storage.set_concurrency_slots(TEACHER_POOL, 3)
        assert pool_limit_warning(instance, 3) is None
        assert pool_limit_warning(instance, 4) is None  # fewer at once than shards: slower
        assert "a limit of 3" in (pool_limit_warning(instance, 2) or "")


def test_bad_shard_setting_fails_the_step_clearly(
    prompts: list[Prompt], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_prompts(tmp_path, prompts)
    monkeypatch.setenv(SHARDS_ENV, "0")
    with pytest.raises(ConfigurationError, match="FITSENSE_TEACHER_SHARDS must be between 1"):
        _materialize(tmp_path, TeacherResource())
