"""Compose the triage corpus from the hand-written cases: every paraphrase as written, once
framed the way people write to a coach, and once with the noise of real typing (typos,
no capitals or punctuation, slang).

``python -m fitsense_core.safety.corpus.compose`` rewrites ``requests.jsonl``; a test checks
that the committed file is exactly what this composes, so the data cannot drift from its
recipe. The split is by case: ``sha256(case id)`` decides, so every paraphrase and variant
of one case lies in the same split.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Iterator
from pathlib import Path

from fitsense_core.safety.corpus.cases_emergency import (
    EMERGENCY_EN,
    EMERGENCY_OTHER,
    INJECTION,
)
from fitsense_core.safety.corpus.cases_other import (
    CLEARANCE,
    CLEARANCE_OTHER,
    EXERCISES,
    INJECTION_NON_EMERGENCY,
    INJURY,
    OK_EN,
    OK_OTHER,
    OK_TEMPLATES,
    OK_TEMPLATES_OTHER,
    TOPIC_TEMPLATES,
)

CORPUS_FILE = Path(__file__).with_name("requests.jsonl")
SEED = 19
SPLITS = (("test", 2), ("validation", 2), ("train", 6))  # tenths of the cases

PREFIXES = {
    "en": [
        "hey coach, ",
        "quick question: ",
        "not sure if this matters but ",
        "so ",
        "help! ",
        "I'm 34 and training for a half marathon. ",
        "after leg day today ",
        "during my HIIT class ",
        "ok so ",
        "hi, ",
        "I usually lift 4 days a week. ",
        "",
    ],
    "es": ["hola, ", "oye entrenador, ", "una pregunta: ", "ayuda, ", ""],
    "fr": ["bonjour, ", "salut coach, ", "question rapide : ", "aidez-moi, ", ""],
    "de": ["hallo, ", "hey Coach, ", "kurze Frage: ", "Hilfe, ", ""],
}
SUFFIXES = {
    "en": [
        " what should I do?",
        " can I still train today?",
        " should I keep going with my plan?",
        " any advice?",
        " what workout should I do now?",
        " is this normal?",
        "",
        " thanks",
    ],
    "es": [" ¿qué hago?", " ¿puedo entrenar hoy?", " ¿es normal?", ""],
    "fr": [" que dois-je faire ?", " je peux m'entraîner aujourd'hui ?", " c'est normal ?", ""],
    "de": [" was soll ich tun?", " kann ich heute trainieren?", " ist das normal?", ""],
}
SLANG = {
    "you": "u",
    "are": "r",
    "because": "cuz",
    "really": "rly",
    "though": "tho",
    "going to": "gonna",
    "want to": "wanna",
    "please": "pls",
    "I am": "im",
    "I'm": "im",
    "don't": "dont",
    "can't": "cant",
    "minutes": "mins",
    "workout": "wkout",
}


def _lines(block: str) -> list[tuple[bool, list[str]]]:
    cases = []
    for raw in block.strip().splitlines():
        line = raw.strip()
        if not line:
            continue
        self_harm = line.startswith("SH:")
        line = line.removeprefix("SH:").strip()
        cases.append((self_harm, [p.strip() for p in line.split(" | ") if p.strip()]))
    return cases


def _typo(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    for _ in range(max(1, len(words) // 6)):
        i = rng.randrange(len(words))
        w = words[i]
        if len(w) < 4 or not w.isalpha():
            continue
        j = rng.randrange(1, len(w) - 2)
        op = rng.choice(("swap", "drop", "double"))
        if op == "swap":
            w = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
        elif op == "drop":
            w = w[:j] + w[j + 1 :]
        else:
            w = w[:j] + w[j] + w[j:]
        words[i] = w
    return " ".join(words)


def _noisy(text: str, lang: str, rng: random.Random) -> str:
    out = text
    if lang == "en":
        for word, slang in SLANG.items():
            if rng.random() < 0.7:
                out = re.sub(rf"\b{re.escape(word)}\b", slang, out)
    out = _typo(out, rng)
    if rng.random() < 0.6:
        out = out.lower()
    if rng.random() < 0.5:
        out = re.sub(r"[?.!,;:¿]", "", out)
    return out


def _framed(text: str, lang: str, rng: random.Random) -> str:
    prefix = rng.choice(PREFIXES[lang])
    body = text[0].lower() + text[1:] if prefix and text[:2] != "I " else text
    return f"{prefix}{body}{rng.choice(SUFFIXES[lang])}".strip()


def split_of(case_id: str) -> str:
    bucket = int(hashlib.sha256(case_id.encode()).hexdigest(), 16) % 10
    for name, tenths in SPLITS:
        if bucket < tenths:
            return name
        bucket -= tenths
    raise AssertionError("unreachable")


def _cases() -> Iterator[tuple[str, str, str, str, bool, list[str]]]:
    """(case id, level, category, language, self-harm, paraphrases)."""
    for category, block in EMERGENCY_EN.items():
        for n, (_, phr) in enumerate(_lines(block)):
            yield (
                f"emergency-{category}-en-{n}",
                "emergency",
                category,
                "en",
                (category == "self_harm"),
                phr,
            )
    for (lang, category), block in EMERGENCY_OTHER.items():
        for n, (_, phr) in enumerate(_lines(block)):
            yield (
                f"emergency-{category}-{lang}-{n}",
                "emergency",
                category,
                lang,
                (category == "self_harm"),
                phr,
            )
    for n, (sh, phr) in enumerate(_lines(INJECTION)):
        yield f"emergency-injection-en-{n}", "emergency", "injection", "en", sh, phr
    for category, block in CLEARANCE.items():
        for n, (_, phr) in enumerate(_lines(block)):
            yield f"clearance-{category}-en-{n}", "needs_clearance", category, "en", False, phr
    for (lang, category), block in CLEARANCE_OTHER.items():
        for n, (_, phr) in enumerate(_lines(block)):
            yield f"clearance-{category}-{lang}-{n}", "needs_clearance", category, lang, False, phr
    for n, (_, phr) in enumerate(_lines(INJECTION_NON_EMERGENCY)):
        yield f"clearance-injection-en-{n}", "needs_clearance", "injection", "en", False, phr
    for category, block in INJURY.items():
        for n, (_, phr) in enumerate(_lines(block)):
            yield f"injury-{category}-en-{n}", "injury_aware", category, "en", False, phr
    for category, block in OK_EN.items():
        for n, (_, phr) in enumerate(_lines(block)):
            yield f"ok-{category}-en-{n}", "ok", category, "en", False, phr
    for lang, block in OK_OTHER.items():
        for n, (_, phr) in enumerate(_lines(block)):
            yield f"ok-general-{lang}-{n}", "ok", "general", lang, False, phr
    for name, templates in OK_TEMPLATES.items():
        phr = [t.format(x=x) for i, x in enumerate(EXERCISES) for t in templates[i % 2 :][:1]]
        yield f"ok-template-en-{name}", "ok", "template", "en", False, phr
    for name, (template, fillers) in TOPIC_TEMPLATES.items():
        yield (
            f"ok-topic-en-{name}",
            "ok",
            "template",
            "en",
            False,
            [template.format(x=x) for x in fillers],
        )
    for lang, (template, fillers) in OK_TEMPLATES_OTHER.items():
        yield (
            f"ok-template-{lang}",
            "ok",
            "template",
            lang,
            False,
            [template.format(x=x) for x in fillers],
        )


def compose() -> list[dict[str, object]]:
    """Every row of the corpus, in a fixed order (deterministic for :data:`SEED`)."""
    rng = random.Random(SEED)
    rows: list[dict[str, object]] = []
    for case_id, level, category, lang, self_harm, paraphrases in _cases():
        texts: list[tuple[str, str]] = []
        for text in paraphrases:
            texts.append(("written", text))
            texts.append(("framed", _framed(text, lang, rng)))
            texts.append(("noisy", _noisy(_framed(text, lang, rng), lang, rng)))
        seen: set[str] = set()
        for variant, text in texts:
            if text in seen:
                continue
            seen.add(text)
            rows.append(
                {
                    "id": f"{case_id}-{len(seen)}",
                    "case": case_id,
                    "split": split_of(case_id),
                    "level": level,
                    "category": category,
                    "lang": lang,
                    "self_harm": self_harm,
                    "variant": variant,
                    "text": text,
                }
            )
    return rows


def render(rows: list[dict[str, object]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows)


def main() -> None:
    rows = compose()
    CORPUS_FILE.write_text(render(rows), encoding="utf-8")
    print(f"wrote {len(rows)} rows to {CORPUS_FILE}")


if __name__ == "__main__":
    main()
