"""Training, thresholds, evaluation and promotion of the learned triage layer.

Recipe (:func:`build_model`): embed the corpus, fit a class-weighted multinomial logistic
regression on the train split, choose the thresholds on the validation split (emergency
recall of the two layers together first, at least :data:`RECALL_TARGET`; then the
highest thresholds, i.e. the fewest ordinary questions escalated), and report on the test
split, which the classifier never sees: recall and false escalation with bootstrap
confidence intervals over cases, the confusion matrix, and rates per category and
language. :func:`gate_problems` is the promotion gate; the Dagster check and the API's
start both apply it.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from fitsense_core import layout
from fitsense_core.artifacts import ArtifactStore
from fitsense_core.errors import ConfigurationError, DataValidationError
from fitsense_core.safety.corpus import CorpusRow, corpus_bytes, corpus_hash, load_corpus
from fitsense_core.safety.learned import (
    CLASSES,
    Thresholds,
    TriageModel,
    cumulative,
    embedder,
)

log = logging.getLogger("fitsense.safety.training")

RECALL_TARGET = 0.99  # emergencies, two layers together, test split
FALSE_ESCALATION_TARGET = 0.03  # ordinary questions raised above ok, test split
CLEARANCE_RECALL = 0.90  # validation, when choosing the clearance threshold
INJURY_RECALL = 0.85  # validation, when choosing the injury-aware threshold
LEVELS = ("emergency", "needs_clearance", "injury_aware", "ok")
SEVERITY = {"emergency": 3, "needs_clearance": 2, "injury_aware": 1, "ok": 0}
GRID = np.round(np.arange(0.99, 0.0, -0.01), 2)  # highest first


def class_of(row: CorpusRow) -> int:
    return CLASSES.index("self_harm" if row.self_harm else row.level)


def embed(texts: Sequence[str]) -> np.ndarray:
    enc = embedder()
    return np.concatenate([enc.encode(texts[i : i + 64]) for i in range(0, len(texts), 64)])


INPUT_SCALE = 10.0  # unit-norm embeddings, scaled: measured best of 1 and 10 on validation


def fit(
    x: np.ndarray, y: np.ndarray, *, l2: float = 1e-3, steps: int = 300
) -> tuple[np.ndarray, np.ndarray]:
    """Class-weighted softmax regression by full-batch gradient descent (Adam); returns
    weights for the unscaled embeddings."""
    x = x * INPUT_SCALE
    n, d = x.shape
    k = len(CLASSES)
    counts = np.bincount(y, minlength=k).astype(np.float64)
    weight = np.where(counts > 0, n / (k * np.maximum(counts, 1)), 0.0)[y]
    onehot = np.eye(k)[y]
    w = np.zeros((d, k))
    b = np.zeros(k)
    m = [np.zeros_like(w), np.zeros_like(b)]
    v = [np.zeros_like(w), np.zeros_like(b)]
    lr, b1, b2 = 0.05, 0.9, 0.999
    xd = x.astype(np.float64)
    for t in range(1, steps + 1):
        z = xd @ w + b
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        g = (p - onehot) * weight[:, None] / weight.sum()
        grads = [xd.T @ g + l2 * w, g.sum(axis=0)]
        for i, (param, grad) in enumerate(zip((w, b), grads, strict=True)):
            m[i] = b1 * m[i] + (1 - b1) * grad
            v[i] = b2 * v[i] + (1 - b2) * grad**2
            param -= lr * (m[i] / (1 - b1**t)) / (np.sqrt(v[i] / (1 - b2**t)) + 1e-8)
    return (w * INPUT_SCALE).astype(np.float32), b.astype(np.float32)


def rule_verdicts(rows: Sequence[CorpusRow]) -> list[tuple[str, bool]]:
    from fitsense_core.safety.triage import rule_triage

    out = []
    for r in rows:
        verdict = rule_triage(r.text)
        out.append((str(verdict.level), verdict.self_harm))
    return out


def combine(
    rules: Sequence[tuple[str, bool]], cum: np.ndarray, t: Thresholds
) -> list[tuple[str, bool]]:
    """The final (level, self-harm) of each row: the more severe of the two layers."""
    model = TriageModel(np.zeros((1, 1)), np.zeros(1), t, "")
    out = []
    for (rule_level, rule_sh), learned in zip(rules, model.decide(cum), strict=True):
        level = max(rule_level, learned.level, key=SEVERITY.__getitem__)
        out.append((level, rule_sh or learned.self_harm))
    return out


def _rate(hits: Sequence[bool]) -> float:
    return float(np.mean(hits)) if len(hits) else float("nan")


def _recall(rows: Sequence[CorpusRow], final: Sequence[tuple[str, bool]], level: str) -> float:
    return _rate(
        [
            SEVERITY[f[0]] >= SEVERITY[level]
            for r, f in zip(rows, final, strict=True)
            if r.level == level
        ]
    )


def _false_escalation(rows: Sequence[CorpusRow], final: Sequence[tuple[str, bool]]) -> float:
    return _rate([f[0] != "ok" for r, f in zip(rows, final, strict=True) if r.level == "ok"])


def _self_harm_recall(rows: Sequence[CorpusRow], final: Sequence[tuple[str, bool]]) -> float:
    return _rate([f[1] for r, f in zip(rows, final, strict=True) if r.self_harm])


def choose_thresholds(
    rows: Sequence[CorpusRow], rules: Sequence[tuple[str, bool]], cum: np.ndarray
) -> Thresholds:
    """On the validation split: the highest self-harm and emergency thresholds that keep
    recall at the target, then the highest clearance and injury thresholds that keep
    their recall, raised further while ordinary questions are escalated too often."""
    t = Thresholds(1.0, 1.0, 1.0, 1.0)

    def best(field: str, ok: Any) -> float:
        for value in GRID:
            trial = replace(t, **{field: float(value)})
            if ok(combine(rules, cum, trial)):
                return float(value)
        return float(GRID[-1])

    t = replace(
        t, self_harm=best("self_harm", lambda f: _self_harm_recall(rows, f) >= RECALL_TARGET)
    )
    t = replace(
        t, emergency=best("emergency", lambda f: _recall(rows, f, "emergency") >= RECALL_TARGET)
    )
    t = replace(
        t,
        needs_clearance=best(
            "needs_clearance", lambda f: _recall(rows, f, "needs_clearance") >= CLEARANCE_RECALL
        ),
    )
    t = replace(
        t,
        injury_aware=best(
            "injury_aware", lambda f: _recall(rows, f, "injury_aware") >= INJURY_RECALL
        ),
    )
    for field in ("injury_aware", "needs_clearance"):
        while (
            _false_escalation(rows, combine(rules, cum, t)) > FALSE_ESCALATION_TARGET
            and getattr(t, field) < 0.99
        ):
            t = replace(t, **{field: round(getattr(t, field) + 0.01, 2)})
    return t


def _bootstrap(
    rows: Sequence[CorpusRow],
    hits: Sequence[bool],
    *,
    seed: int = 19,
    n: int = 1000,
) -> list[float]:
    """95 % interval of a rate, resampling cases (paraphrases of a case move together)."""
    by_case: dict[str, list[bool]] = defaultdict(list)
    for r, h in zip(rows, hits, strict=True):
        by_case[r.case].append(h)
    cases = list(by_case.values())
    if not cases:
        return [float("nan"), float("nan")]
    sums = np.array([sum(c) for c in cases], dtype=float)
    sizes = np.array([len(c) for c in cases], dtype=float)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(cases), size=(n, len(cases)))
    rates = sums[idx].sum(axis=1) / sizes[idx].sum(axis=1)
    return [round(float(np.quantile(rates, 0.025)), 4), round(float(np.quantile(rates, 0.975)), 4)]


def evaluate(
    rows: Sequence[CorpusRow], rules: Sequence[tuple[str, bool]], cum: np.ndarray, t: Thresholds
) -> dict[str, Any]:
    """Two-layer figures on these rows (plus the rules alone, for comparison)."""
    final = combine(rules, cum, t)
    em = [r for r in rows if r.level == "emergency"]
    em_hits = [
        f[0] == "emergency" for r, f in zip(rows, final, strict=True) if r.level == "emergency"
    ]
    ok = [r for r in rows if r.level == "ok"]
    ok_hits = [f[0] != "ok" for r, f in zip(rows, final, strict=True) if r.level == "ok"]
    sh_hits = [f[1] for r, f in zip(rows, final, strict=True) if r.self_harm]
    confusion = {true: {pred: 0 for pred in LEVELS} for true in LEVELS}
    for r, f in zip(rows, final, strict=True):
        confusion[r.level][f[0]] += 1
    per_category: dict[str, dict[str, Any]] = {}
    per_language: dict[str, dict[str, Any]] = {}
    for key, table in (("category", per_category), ("lang", per_language)):
        groups: dict[tuple[str, str], list[bool]] = defaultdict(list)
        for r, f in zip(rows, final, strict=True):
            caught = SEVERITY[f[0]] >= SEVERITY[r.level] if r.level != "ok" else f[0] != "ok"
            groups[(r.level, getattr(r, key))].append(caught)
        for (level, name), hits in sorted(groups.items()):
            metric = "false_alarm" if level == "ok" else "recall"
            table[f"{level}/{name}"] = {metric: round(_rate(hits), 4), "n": len(hits)}
    rules_em = [
        SEVERITY[lv] == 3 for r, (lv, _) in zip(rows, rules, strict=True) if r.level == "emergency"
    ]
    return {
        "rows": len(rows),
        "cases": len({r.case for r in rows}),
        "emergency_recall": round(_rate(em_hits), 4),
        "emergency_recall_ci95": _bootstrap(em, em_hits),
        "emergency_missed": [r.text for r, h in zip(em, em_hits, strict=True) if not h],
        "false_escalation": round(_rate(ok_hits), 4),
        "false_escalation_ci95": _bootstrap(ok, ok_hits),
        "false_escalations": [r.text for r, h in zip(ok, ok_hits, strict=True) if h],
        "self_harm_recall": round(_rate(sh_hits), 4),
        "clearance_recall": round(_recall(rows, final, "needs_clearance"), 4),
        "injury_recall": round(_recall(rows, final, "injury_aware"), 4),
        "rules_only_emergency_recall": round(_rate(rules_em), 4),
        "confusion": confusion,
        "per_category": per_category,
        "per_language": per_language,
        "counts": dict(Counter(r.level for r in rows)),
    }


def build_model(
    rows: Sequence[CorpusRow] | None = None,
    corpus_sha256: str | None = None,
    *,
    train_cases: set[str] | None = None,
) -> TriageModel:
    """Train on the train split (only ``train_cases`` of it, when given), choose the
    thresholds on validation, evaluate on test; the report rides on the model."""
    rows = list(load_corpus() if rows is None else rows)
    sha = corpus_sha256 or corpus_hash()
    train = [
        r for r in rows if r.split == "train" and (train_cases is None or r.case in train_cases)
    ]
    val = [r for r in rows if r.split == "validation"]
    test = [r for r in rows if r.split == "test"]
    if not train or not val or not test:
        raise DataValidationError("triage corpus needs train, validation and test rows")
    x = embed([r.text for r in rows])
    pos = {r.id: i for i, r in enumerate(rows)}
    xt = x[[pos[r.id] for r in train]]
    w, b = fit(xt, np.array([class_of(r) for r in train]))
    model = TriageModel(w, b, Thresholds(1.0, 1.0, 1.0, 1.0), sha)

    def cum_of(part: Sequence[CorpusRow]) -> np.ndarray:
        return cumulative(model.probabilities(x[[pos[r.id] for r in part]]))

    val_rules, test_rules = rule_verdicts(val), rule_verdicts(test)
    thresholds = choose_thresholds(val, val_rules, cum_of(val))
    report = {
        "corpus_sha256": sha,
        "embedder": model.embedder,
        "train_rows": len(train),
        "train_cases": len({r.case for r in train}),
        "thresholds": thresholds.__dict__,
        "targets": {"emergency_recall": RECALL_TARGET, "false_escalation": FALSE_ESCALATION_TARGET},
        "validation": evaluate(val, val_rules, cum_of(val), thresholds),
        "test": evaluate(test, test_rules, cum_of(test), thresholds),
    }
    return replace(model, thresholds=thresholds, report=report)


def gate_problems(report: dict[str, Any]) -> list[str]:
    """Why a triage model may not be promoted (empty: it may)."""
    test = report["test"]
    problems = []
    if not test["emergency_recall"] >= RECALL_TARGET:
        problems.append(
            f"emergency recall on the test split {test['emergency_recall']:.3f} is below "
            f"{RECALL_TARGET}"
        )
    if not test["self_harm_recall"] >= RECALL_TARGET:
        problems.append(
            f"self-harm recall on the test split {test['self_harm_recall']:.3f} is below "
            f"{RECALL_TARGET}"
        )
    if not test["false_escalation"] <= FALSE_ESCALATION_TARGET:
        problems.append(
            f"ordinary questions escalated on the test split {test['false_escalation']:.3f} "
            f"is above {FALSE_ESCALATION_TARGET}"
        )
    return problems


def save(store: ArtifactStore, model: TriageModel) -> str:
    parts = layout.triage_model(model.corpus_sha256)
    store.write_json(model.report, *parts, "report.json")
    return store.write_bytes(model.to_bytes(), *parts, "model.npz")


def promote(store: ArtifactStore, model: TriageModel) -> None:
    """Point the API and the pipeline at this model; only a model that passes the gate."""
    problems = gate_problems(model.report)
    if problems:
        raise DataValidationError("triage model not promoted: " + "; ".join(problems))
    save(store, model)
    store.write_json({"corpus_sha256": model.corpus_sha256}, *layout.triage_promoted())


def load(store: ArtifactStore, corpus_sha256: str) -> TriageModel:
    parts = layout.triage_model(corpus_sha256)
    return TriageModel.from_bytes(
        store.read_bytes(*parts, "model.npz"), store.read_json(*parts, "report.json")
    )


def load_promoted(store: ArtifactStore) -> TriageModel | None:
    if not store.exists(*layout.triage_promoted()):
        return None
    return load(store, store.read_json(*layout.triage_promoted())["corpus_sha256"])


def ensure_model(store: ArtifactStore | None = None) -> TriageModel:
    """The promoted triage model; without one, the model of the packaged corpus (built by
    the same recipe and gate as the pipeline's asset, a few seconds, then promoted and
    cached in the store). Raises when no model passes the gate."""
    if store is None:
        from fitsense_core.settings import Settings

        store = ArtifactStore(Settings.from_env().artifact_root)
    promoted = load_promoted(store)
    sha = corpus_hash(corpus_bytes())
    if promoted is not None:
        return promoted
    if store.exists(*layout.triage_model(sha), "model.npz"):
        model = load(store, sha)
    else:
        log.info("no promoted triage model: building one from the packaged corpus")
        model = build_model(load_corpus(), sha)
        save(store, model)
    problems = gate_problems(model.report)
    if problems:
        raise ConfigurationError(
            "no triage model passes the gate (" + "; ".join(problems) + "); set "
            "FITSENSE_TRIAGE=rules-only to run the rules alone"
        )
    promote(store, model)
    return model
