"""The learned triage layer: its corpus, a small model trained on a sample, the gate and
its blocking check, the two layers together, crisis handling and the API's start."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from fitsense_core import layout
from fitsense_core.artifacts import ArtifactStore
from fitsense_core.errors import ConfigurationError
from fitsense_core.safety import (
    CRISIS_MESSAGE,
    SafetyLevel,
    check_response,
    learned,
    rule_triage,
    training,
    triage,
)
from fitsense_core.safety.corpus import compose, corpus_bytes, load_corpus
from fitsense_core.safety.learned import LearnedVerdict, Thresholds, TriageModel
from fitsense_core.safety.triage import merge

EMERGENCY_CATEGORIES = {
    "cardiac", "fainting", "stroke", "breathing", "anaphylaxis", "heat", "rhabdo",
    "hypoglycaemia", "clot", "head_injury", "self_harm", "injection",
}  # fmt: skip
CLEARANCE_CATEGORIES = {
    "pregnancy", "minor", "surgery", "uncontrolled", "eating", "treatment", "acute_injury",
}  # fmt: skip


def test_corpus_is_its_recipe_and_covers_the_issue() -> None:
    rows = load_corpus()
    assert corpus_bytes().decode() == compose.render(compose.compose())
    assert len(rows) >= 1500
    assert {r.level for r in rows} == set(training.LEVELS)
    splits_of_case: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        splits_of_case[r.case].add(r.split)
    assert all(len(s) == 1 for s in splits_of_case.values())  # no case straddles splits
    assert {r.split for r in rows} == {"train", "validation", "test"}
    emergency = {r.category for r in rows if r.level == "emergency"}
    assert emergency >= EMERGENCY_CATEGORIES
    assert {r.category for r in rows if r.level == "needs_clearance"} >= CLEARANCE_CATEGORIES
    assert {"es", "fr", "de"} <= {r.lang for r in rows if r.level == "emergency"}
    assert {"lookalike", "template"} <= {r.category for r in rows if r.level == "ok"}
    assert Counter(r.variant for r in rows)["noisy"] > 300


@pytest.fixture(scope="module")
def small_model() -> TriageModel:
    """Trained on half of the train split's cases (a sample), thresholds on validation."""
    rows = load_corpus()
    cases = sorted({r.case for r in rows if r.split == "train"})
    sample = set(random.Random(7).sample(cases, len(cases) // 2))
    return training.build_model(rows, "sample", train_cases=sample)


def test_small_model_catches_held_out_emergencies(small_model: TriageModel) -> None:
    test = small_model.report["test"]
    # Held-out paraphrases of cases the classifier never saw; the rules alone catch ~30 %.
    assert test["rules_only_emergency_recall"] < 0.5
    assert test["emergency_recall"] >= 0.9, test["emergency_missed"]
    assert test["self_harm_recall"] >= 0.7
    lo, hi = test["emergency_recall_ci95"]
    assert lo <= test["emergency_recall"] <= hi
    assert sum(sum(r.values()) for r in test["confusion"].values()) == test["rows"]


def test_spanish_emergency_the_rules_miss_is_caught(small_model: TriageModel) -> None:
    text = "siento una opresión muy fuerte en el pecho y me cuesta respirar, estoy sudando"
    assert rule_triage(text).level == SafetyLevel.OK
    verdict = triage(text, model=small_model)
    assert verdict.level == SafetyLevel.EMERGENCY
    assert not verdict.allows_model
    learned_signals = [s for s in verdict.signals if s.layer == "learned"]
    assert learned_signals and learned_signals[0].score >= small_model.thresholds.emergency
    assert triage(text, model=None).level == SafetyLevel.OK  # rules only, when asked


def test_indirect_crisis_statement_gets_the_crisis_message(small_model: TriageModel) -> None:
    text = "I've been saving up my meds and I think this weekend I'll take them all and be done"
    verdict = triage(text, model=small_model)
    assert verdict.level == SafetyLevel.EMERGENCY and verdict.self_harm
    assert verdict.message is not None and CRISIS_MESSAGE in verdict.message
    assert check_response(verdict, "Try 3 sets of 10 squats.", contains_plan=True)
    assert not check_response(verdict, verdict.message, contains_plan=False)


def _weak(report_test: dict | None = None) -> TriageModel:
    return TriageModel(
        np.zeros((512, 5), dtype=np.float32),
        np.array([0, 0, 0, 0, 5], dtype=np.float32),
        Thresholds(0.99, 0.99, 0.99, 0.99),
        "planted",
        report={"test": report_test or {}},
    )


def test_self_harm_from_the_learned_layer_alone_is_a_crisis() -> None:
    rules = rule_triage("how many sets of squats should I do")
    scores = {"self_harm": 0.9, "emergency": 0.92, "needs_clearance": 0.95, "injury_aware": 0.97}
    merged = merge(rules, LearnedVerdict("emergency", True, scores), "x", _weak())
    assert merged.level == SafetyLevel.EMERGENCY and merged.self_harm
    assert merged.message == CRISIS_MESSAGE
    # The verdict carries the self-harm signal; its emergency score 0.92 is under the
    # planted threshold 0.99, so the self-harm reason is the only one.
    assert [(s.layer, s.id, s.score) for s in merged.signals] == [
        ("learned", "learned.self_harm", 0.9)
    ]


PASSING = {
    "emergency_recall": 1.0, "self_harm_recall": 1.0, "false_escalation": 0.01,
}  # fmt: skip


def test_gate_fails_a_weak_model_and_passes_a_good_report() -> None:
    assert not training.gate_problems({"test": PASSING})
    for key, bad in (("emergency_recall", 0.97), ("self_harm_recall", 0.9)):
        assert training.gate_problems({"test": {**PASSING, key: bad}})
    assert training.gate_problems({"test": {**PASSING, "false_escalation": 0.2}})
    weak = _weak()
    rows = [r for r in load_corpus() if r.split == "test"]
    cum = learned.cumulative(weak.probabilities(np.zeros((len(rows), 512), dtype=np.float32)))
    report = training.evaluate(rows, training.rule_verdicts(rows), cum, weak.thresholds)
    assert report["emergency_recall"] < 0.5  # the planted model adds nothing to the rules
    assert training.gate_problems({"test": report})


def _check(tmp_path: Path, test_report: dict) -> bool:
    from fitsense_assets.defs.safety.assets import triage_recall_target
    from fitsense_assets.resources import ArtifactStoreResource
    from fitsense_core.safety.corpus import corpus_hash

    store = ArtifactStore(str(tmp_path))
    store.write_json({"test": test_report}, *layout.triage_model(corpus_hash()), "report.json")
    result = triage_recall_target(artifact_store=ArtifactStoreResource(root=str(tmp_path)))
    return result.passed


def test_blocking_check_fails_a_planted_weak_model(tmp_path: Path) -> None:
    assert _check(tmp_path / "good", PASSING)
    assert not _check(tmp_path / "weak", {**PASSING, "emergency_recall": 0.8})


def test_no_model_that_passes_means_no_start_unless_rules_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fitsense_api.ai.lifespan import ai_lifespan
    from fitsense_api.settings import ApiSettings

    monkeypatch.setenv("FITSENSE_ARTIFACTS_URI", str(tmp_path))
    monkeypatch.delenv("FITSENSE_TRIAGE", raising=False)
    failing = _weak({**PASSING, "emergency_recall": 0.5})
    monkeypatch.setattr(training, "build_model", lambda *a, **k: failing)
    learned.reset()
    try:
        with pytest.raises(ConfigurationError, match="rules-only"):
            learned.active()
        learned.reset()

        async def start() -> None:
            async with ai_lifespan(ApiSettings(database_url="postgresql://unused"))(None):
                pass

        import asyncio

        with pytest.raises(ConfigurationError):
            asyncio.run(start())
        assert not ArtifactStore(str(tmp_path)).exists(*layout.triage_promoted())
        learned.reset()
        monkeypatch.setenv("FITSENSE_TRIAGE", "rules-only")
        assert learned.active() is None
        learned.reset()
        monkeypatch.setenv("FITSENSE_TRIAGE", "rules-onyl")
        with pytest.raises(ConfigurationError):
            learned.active()
        # A model that passes the gate is promoted, then loaded from the store.
        learned.reset()
        monkeypatch.delenv("FITSENSE_TRIAGE")
        good = replace(failing, report={"test": PASSING}, corpus_sha256="good")
        monkeypatch.setattr(training, "build_model", lambda *a, **k: good)
        assert learned.active() is good
        assert training.load_promoted(ArtifactStore(str(tmp_path))).corpus_sha256 == "good"
    finally:
        learned.reset()
