"""Consent decides which real data reaches a distillation dataset.

Three people with accounts, onboarding, AI interactions and feedback: one opted in to
training use, one never did, one opted in and withdrew. The dataset job runs in-process
on a temporary Dagster instance, and every file it writes is scanned: only the opted-in
person's requests are there, and nothing identifies anyone — not the others, and not the
opted-in person either (no id, name, email, phone number or URL).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import psycopg
import pyarrow.parquet as pq
import pytest

from fitsense_assets.definitions import defs
from fitsense_assets.defs.synthetic import assets as synthetic_assets
from fitsense_assets.defs.teacher import assets as teacher_assets
from fitsense_assets.partitions import run_partitions
from fitsense_assets.resources import AppDatabaseResource, ArtifactStoreResource
from fitsense_core.artifacts import ArtifactStore
from fitsense_core.consented import (
    PSEUDONYM_PREFIX,
    anonymized_profile,
    consented_activity_since,
    extract_consented,
    find_leaks,
    origin_counts,
    pseudonym,
    scrub_text,
    split_key,
    stable_split,
)
from fitsense_core.distill import split_of
from fitsense_core.migrations import migrate
from fitsense_core.profile import Injury, RecentSignals, UserProfile
from tests.api_helpers import ONBOARDING

SALT = b"0123456789abcdef0123456789abcdef"
RUN_CONFIG = {
    "ops": {
        "synthetic_users": {
            "config": {"n_users": 25, "seed": 11, "history_days": 30, "history_end": "2026-10-31"}
        }
    }
}
SYNTHETIC = [
    "exercise_catalog",
    "synthetic_users",
    "synthetic_plans",
    "synthetic_workouts",
    "synthetic_daily_signals",
]


@dataclass
class Person:
    role: str
    name: str
    email: str
    marker: str
    phone: str
    url: str
    user_id: uuid.UUID | None = None
    headers: dict[str, str] = field(default_factory=dict)
    plan_id: str = ""
    job_id: str = ""
    ok_ids: list[uuid.UUID] = field(default_factory=list)
    other_ids: list[str] = field(default_factory=list)  # other DB ids this person owns

    def identifying(self) -> list[str]:
        """Strings that would identify this person if they left the database."""
        parts = self.name.split()
        ids = [str(self.user_id), self.user_id.hex, self.plan_id, self.job_id]
        ids += [str(i) for i in self.ok_ids] + self.other_ids
        return [self.name, *parts, self.email, self.phone, self.url, *ids]


PEOPLE = {
    "opted_in": Person(
        "opted_in",
        "Zephyrine Quillfeather",
        "zephyrine.quillfeather@consent-test.example",
        "ZQXOPTIN7781",
        "+1 415 555 0199",
        "https://zephyrine-quill.example/me",
    ),
    "never": Person(
        "never",
        "Norbertus Vexleyhaven",
        "norbertus.vexleyhaven@consent-test.example",
        "ZQXNEVER4410",
        "+44 20 7946 0958",
        "https://norbertus-vex.example/me",
    ),
    "withdrawn": Person(
        "withdrawn",
        "Wilhelmina Draxtonbury",
        "wilhelmina.draxtonbury@consent-test.example",
        "ZQXWITHDRAWN9923",
        "+49 30 901820 77",
        "https://wilhelmina-drax.example/me",
    ),
}

INSERT_INTERACTION = """
INSERT INTO ai_interactions (user_id, context_type, context_id, request_id, query_text,
    response_text, model_name, model_version, latency_ms, safety_level, outcome, error,
    job_id, created_at)
VALUES (%s, %s, %s, 'req-consent-test', %s, 'an answer', 'fitsense-student', 'student-t-0001',
        120, %s, %s, %s, %s, now() - %s::interval)
RETURNING id
"""


def _interaction(
    conn: psycopg.Connection,
    person: Person,
    context_type: str,
    text: str,
    age: str,
    *,
    outcome: str = "ok",
    context_id: str | None = None,
    job_id: str | None = None,
) -> uuid.UUID:
    return conn.execute(
        INSERT_INTERACTION,
        (
            person.user_id,
            context_type,
            context_id,
            text,
            "ok",
            outcome,
            "boom" if outcome == "error" else None,
            job_id,
            age,
        ),
    ).fetchone()[0]


@pytest.fixture(scope="module")
def world(database_factory) -> dict[str, Person]:
    """The three people, set up through the API where the API can do it; the answers the
    model gave (outcome ok) are audit rows written as the API writes them."""
    from litestar.testing import TestClient

    from fitsense_api.app import create_app
    from fitsense_api.settings import ApiSettings

    url = database_factory("consent")
    migrate(url)
    settings = ApiSettings.from_env(
        url,
        {
            "FITSENSE_API_PASSWORD_HASH": "argon2-fast",
            "FITSENSE_API_LOG_LEVEL": "WARNING",
            "FITSENSE_API_AI_RATE_PER_MINUTE": "1000",
        },
    )
    with psycopg.connect(url, autocommit=True) as conn, TestClient(create_app(settings)) as api:
        exercise_id = str(
            conn.execute("SELECT id FROM exercises ORDER BY slug LIMIT 1").fetchone()[0]
        )
        for p in PEOPLE.values():
            r = api.post(
                "/auth/signup", json={"name": p.name, "email": p.email, "password": "long-pass-1"}
            )
            assert r.status_code == 201, r.text
            p.user_id = uuid.UUID(r.json()["user"]["id"])
            p.headers = {"Authorization": f"Bearer {r.json()['token']}"}
            assert api.put("/onboarding", json=ONBOARDING, headers=p.headers).status_code == 200
            if p.role != "never":
                r = api.put("/me/training-consent", json={"opted_in": True}, headers=p.headers)
                assert r.json()["opted_in"] is True
                # They opted in a month ago: the answers below (hours to days old) were
                # given while consent was on.
                conn.execute(
                    "UPDATE consent_events SET changed_at = now() - interval '30 days' "
                    "WHERE user_id = %s",
                    (p.user_id,),
                )
            # Through the API without a model server: the knowledge-based coach answers
            # (outcome fallback), which never feeds a dataset.
            r = api.post(
                "/coach",
                json={"question": f"{p.marker}FALLBACK how do I deadlift, {p.name}?"},
                headers=p.headers,
            )
            assert r.json()["outcome"] == "fallback"
            p.other_ids.append(r.json()["interaction_id"])
            job = api.post("/plans/generate?wait=60", json={}, headers=p.headers).json()
            p.plan_id, p.job_id = job["plan"]["id"], job["id"]
            p.other_ids.append(job["result"]["interaction_id"])
            r = api.post(
                "/workouts",
                json={
                    "started_at": (datetime.now(UTC) - timedelta(days=2)).isoformat(),
                    "exercises": [
                        {
                            "exercise_id": exercise_id,
                            "sets": [{"reps": 10, "rir": 3, "weight_kg": 61.75}] * 3,
                        }
                    ],
                },
                headers=p.headers,
            )
            assert r.status_code == 201, r.text
            p.other_ids.append(r.json()["id"])

            coach = _interaction(
                conn,
                p,
                "coach",
                f"{p.marker} I'm {p.name} ({p.email}, {p.phone}, {p.url}). How should I "
                "progress my squats when the sets feel easy?",
                "3 days",
            )
            generate = _interaction(
                conn,
                p,
                "plan_generate",
                f"{p.marker} Make me a plan to build muscle.",
                "1 hour",
                job_id=p.job_id,
            )
            update = _interaction(
                conn,
                p,
                "plan_update",
                f"{p.marker} The last sessions felt too easy, make it harder.",
                "30 minutes",
                context_id=p.plan_id,
            )
            p.ok_ids += [coach, generate, update]
            failed = _interaction(
                conn,
                p,
                "coach",
                f"{p.marker}ERROR what about lunges?",
                "10 minutes",
                outcome="error",
            )
            p.other_ids.append(str(failed))

            for body in (
                {
                    "target_type": "interaction",
                    "target_id": str(coach),
                    "rating": "down",
                    "comment": f"{p.marker}COMMENT too vague; write to {p.email}",
                },
                {"target_type": "plan", "target_id": p.plan_id, "rating": "up"},
            ):
                r = api.post("/feedback", json=body, headers=p.headers)
                assert r.status_code == 201, r.text
                p.other_ids.append(r.json()["id"])
        r = api.put(
            "/me/training-consent", json={"opted_in": False}, headers=PEOPLE["withdrawn"].headers
        )
        assert r.json()["opted_in"] is False
    return {"url": url, **PEOPLE}


def artifact_texts(root: Path) -> dict[str, str]:
    """Every file under the artifact root as text (Parquet tables as CSV)."""
    texts = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        if path.suffix == ".parquet":
            texts[str(path)] = pq.read_table(path).to_pandas().to_csv(index=False)
        else:
            texts[str(path)] = path.read_bytes().decode("utf-8")
    return texts


def _evaluations(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {
        e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
    }


def test_only_opted_in_people_reach_the_dataset_and_nobody_is_identifiable(
    world, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FITSENSE_ARTIFACTS_URI", str(tmp_path))
    monkeypatch.setenv("FITSENSE_DATABASE_URL", world["url"])
    monkeypatch.delenv("FITSENSE_TEACHER_PROVIDER", raising=False)
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(run_partitions.name, ["consent"])
    result = (
        defs()
        .resolve_job_def("dataset")
        .execute_in_process(instance=instance, partition_key="consent", run_config=RUN_CONFIG)
    )
    assert result.success
    checks = _evaluations(result)
    assert checks["consented_interactions_anonymized"] and checks["prompts_cover_every_person"]
    assert checks["validation_pass_rate"] and checks["distillation_dataset_integrity"]

    consented = result.asset_materializations_for_node("consented_interactions")[0].metadata
    assert consented["dagster/row_count"].value == 3 and consented["people"].value == 1
    assert consented["feedback"].value == {
        "rated_interactions": 2,
        "feedback_rows": 2,
        "up": 1,
        "down": 1,
        "with_comment": 1,
    }
    assert "ZQXOPTIN7781" in consented["preview"].value
    by_source = result.asset_materializations_for_node("prompts")[0].metadata["by_source"].value
    assert by_source["consented"] == 3 and by_source["consented_people"] == 1
    assert by_source["synthetic"] == 25 * 6
    assert by_source["feedback"] == {"up": 1, "down": 1, "none": 1}

    texts = artifact_texts(tmp_path)
    everything = "\n".join(texts.values())
    lowered = {path: text.lower() for path, text in texts.items()}
    opted, never, withdrawn = world["opted_in"], world["never"], world["withdrawn"]
    # The opted-in person's requests and comment are there, cleaned ...
    assert "ZQXOPTIN7781 I'm [name] ([email], [phone], [url])" in everything
    assert "ZQXOPTIN7781COMMENT too vague; write to [email]" in everything
    # ... but not their fallback or failed interactions,
    assert "ZQXOPTIN7781FALLBACK" not in everything and "ZQXOPTIN7781ERROR" not in everything
    # and nothing at all of the people who did not opt in or withdrew.
    for person in (never, withdrawn):
        assert person.marker not in everything
    for person in (opted, never, withdrawn):
        for secret in person.identifying():
            leaked = [path for path, text in lowered.items() if secret.lower() in text]
            assert not leaked, (person.role, secret, leaked)

    # The opted-in person's answers were answered again by the teacher and reached the
    # dataset under a pseudonymous key.
    store = ArtifactStore(str(tmp_path))
    records = [
        json.loads(line)
        for split in ("train", "val", "test")
        for line in store.read_bytes("datasets", "distillation", "consent", f"{split}.jsonl")
        .decode()
        .splitlines()
    ]
    real = [r for r in records if "ZQXOPTIN7781" in r["messages"][1]["content"]]
    assert {r["metadata"]["prompt_type"] for r in real} == {
        "coaching",
        "plan_creation",
        "plan_update",
    }
    assert len({r["metadata"]["user_id"] for r in real}) == 1
    assert real[0]["metadata"]["user_id"].startswith(PSEUDONYM_PREFIX)
    update = next(r for r in real if r["metadata"]["prompt_type"] == "plan_update")
    context = json.loads(update["metadata"]["context_json"])
    assert context["current_plan"]["days"], "the update starts from the plan it referred to"
    assert context["sessions"] and all(
        s["weight_kg"] is None
        for x in context["sessions"]
        for e in x["exercises"]
        for s in e["sets"]
    )
    assert context["profile"]["medications"] == [] and context["profile"]["allergies"] == []
    assert {i["description"] for i in context["profile"]["injuries"]} == {"injury"}
    assert context["origin"]["source"] == "consented"


def test_real_data_can_be_turned_off(world, tmp_path: Path) -> None:
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(run_partitions.name, ["synthetic-only"])
    result = dg.materialize(
        [
            *(getattr(synthetic_assets, k) for k in SYNTHETIC),
            teacher_assets.consented_interactions,
            teacher_assets.prompts,
        ],
        partition_key="synthetic-only",
        instance=instance,
        resources={
            "artifact_store": ArtifactStoreResource(root=str(tmp_path)),
            "app_database": AppDatabaseResource(url=world["url"]),
        },
        run_config={
            "ops": {
                **RUN_CONFIG["ops"],
                "prompts": {"config": {"include_consented": False}},
            }
        },
    )
    assert result.success
    consented = result.asset_materializations_for_node("consented_interactions")[0].metadata
    assert consented["dagster/row_count"].value == 3
    by_source = result.asset_materializations_for_node("prompts")[0].metadata["by_source"].value
    assert by_source["consented"] == 0 and by_source["synthetic"] == 25 * 6
    assert "ZQXOPTIN7781" not in "\n".join(
        artifact_texts(tmp_path / "teacher_outputs" / "synthetic-only" / "prompts").values()
    )


def test_withdrawing_consent_removes_a_person_from_later_extractions(world) -> None:
    url, opted = world["url"], world["opted_in"]
    before = extract_consented(url, "r1", SALT)
    assert len(before.rows) == 3 and before.people == 1
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE users SET training_consent = false WHERE id = %s", (opted.user_id,))
        try:
            after = extract_consented(url, "r2", SALT)
            assert after.rows == [] and after.prompts == []
            assert consented_activity_since(url, None) == 0
        finally:
            conn.execute("UPDATE users SET training_consent = true WHERE id = %s", (opted.user_id,))


def test_only_what_was_said_while_consent_was_on_is_used(world) -> None:
    """Consent has a history (consent_events): an answer from before opting in, or from a
    spell of opting out, is left out even though the person consents today."""
    url, opted = world["url"], world["opted_in"]
    before = {r.prompt_id for r in extract_consented(url, "r1", SALT).rows}
    with psycopg.connect(url, autocommit=True) as conn:
        # The API's opt-in left an event (the trigger on users.training_consent).
        opted_in_events = conn.execute(
            "SELECT count(*) FROM consent_events WHERE user_id = %s AND consented",
            (opted.user_id,),
        ).fetchone()[0]
        assert opted_in_events >= 1
        early = _interaction(conn, opted, "coach", "ZQXBEFORE how do I bench?", "40 days")
        spell = _interaction(conn, opted, "coach", "ZQXSPELL how do I row?", "15 days")
        later = _interaction(conn, opted, "coach", "ZQXLATER how do I squat?", "5 days")
        conn.execute(
            "INSERT INTO consent_events (user_id, consented, changed_at) VALUES "
            "(%(u)s, false, now() - interval '20 days'), (%(u)s, true, now() - interval '10 days')",
            {"u": opted.user_id},
        )
        try:
            rows = extract_consented(url, "r1", SALT).rows
            requests = " ".join(r.request for r in rows)
            assert "ZQXLATER" in requests
            assert "ZQXBEFORE" not in requests and "ZQXSPELL" not in requests
            assert {r.prompt_id for r in rows} - before != set()
            assert consented_activity_since(url, None) == 5 + 1
        finally:
            conn.execute("DELETE FROM ai_interactions WHERE id = ANY(%s)", ([early, spell, later],))
            conn.execute(
                "DELETE FROM consent_events WHERE user_id = %s AND changed_at > "
                "now() - interval '25 days'",
                (opted.user_id,),
            )
        # Withdrawing and opting in again through the table leaves events of their own.
        conn.execute("UPDATE users SET training_consent = false WHERE id = %s", (opted.user_id,))
        conn.execute(
            "UPDATE users SET training_consent = true, training_consent_changed_at = now() "
            "WHERE id = %s",
            (opted.user_id,),
        )
        events = conn.execute(
            "SELECT consented FROM consent_events WHERE user_id = %s ORDER BY changed_at, id",
            (opted.user_id,),
        ).fetchall()
        assert [e for (e,) in events][-2:] == [False, True]
        # What was said in the earlier window, while consent was on, stays usable.
        assert {r.prompt_id for r in extract_consented(url, "r1", SALT).rows} == before
        conn.execute(
            "DELETE FROM consent_events WHERE user_id = %s AND changed_at > "
            "now() - interval '25 days'",
            (opted.user_id,),
        )
    assert {r.prompt_id for r in extract_consented(url, "r1", SALT).rows} == before


def test_extraction_joins_feedback_and_keys_people_per_run(world) -> None:
    url, opted = world["url"], world["opted_in"]
    first = extract_consented(url, "r1", SALT)
    again = extract_consented(url, "r1", SALT)
    other_run = extract_consented(url, "r2", b"another salt of 32 bytes, really")
    assert [r.key for r in first.rows] == [r.key for r in again.rows]
    assert {r.key for r in first.rows} == {pseudonym(opted.user_id, SALT)}
    assert {r.key for r in first.rows}.isdisjoint(r.key for r in other_run.rows)
    by_type = {r.context_type: r for r in first.rows}
    assert by_type["coach"].feedback.rating == "down" and by_type["coach"].feedback.count == 1
    assert by_type["coach"].feedback.comment == "ZQXOPTIN7781COMMENT too vague; write to [email]"
    # Feedback on the plan version reaches the interaction whose job produced it.
    assert by_type["plan_generate"].feedback.rating == "up"
    assert by_type["plan_update"].feedback.count == 0
    assert {r.prompt_type for r in first.rows} == {"coaching", "plan_creation", "plan_update"}
    assert by_type["plan_update"].topic == "too_easy"
    assert origin_counts(first.prompts) == {
        "synthetic": 0,
        "consented": 3,
        "consented_people": 1,
        "feedback": {"up": 1, "down": 1, "none": 1},
    }
    with pytest.raises(ValueError):
        extract_consented(url, "r1", b"short")


def test_a_real_person_keeps_one_split_across_runs(world) -> None:
    url, opted = world["url"], world["opted_in"]
    first = extract_consented(url, "r1", SALT)
    other_run = extract_consented(url, "r2", b"another salt of 32 bytes, really")
    with psycopg.connect(url) as conn:
        key = split_key(conn)
        again = split_key(conn)
    assert key == again and len(key) >= 16
    expected = stable_split(opted.user_id, key)
    # Keys differ per run; the split does not, and the dataset reads it from the prompt.
    assert {r.split for r in first.rows} == {r.split for r in other_run.rows} == {expected}
    assert {split_of(p.context_json) for p in first.prompts + other_run.prompts} == {expected}
    # Over many people the shares are the configured ones, and another key (another
    # deployment) assigns them differently: the split is keyed, not a plain hash of the id.
    ids = [uuid.UUID(int=i) for i in range(4000)]
    splits = [stable_split(i, key) for i in ids]
    assert 0.77 < splits.count("train") / len(ids) < 0.83
    assert 0.08 < splits.count("val") / len(ids) < 0.12
    elsewhere = [stable_split(i, b"another deployment's key 32 byte") for i in ids]
    assert sum(a != b for a, b in zip(splits, elsewhere, strict=True)) > 500


def test_activity_since_counts_consented_interactions_and_their_feedback(world) -> None:
    url = world["url"]
    now = datetime.now(UTC)
    # 3 ok interactions of the opted-in person and 2 feedback rows on them; nothing of the
    # others, nor the fallback and failed interactions.
    assert consented_activity_since(url, None) == 5
    assert consented_activity_since(url, now - timedelta(days=7)) == 5
    # The coach answer is 3 days old; the rest arrived within the last hour.
    assert consented_activity_since(url, now - timedelta(days=2)) == 4
    assert consented_activity_since(url, (now - timedelta(days=2)).replace(tzinfo=None)) == 4
    assert consented_activity_since(url, now + timedelta(minutes=5)) == 0


def test_leak_check_finds_ids_emails_names_and_contact_details(world) -> None:
    url, opted, never = world["url"], world["opted_in"], world["never"]
    clean = ["ZQXOPTIN7781 [email] [phone] [url] [name]", str(uuid.uuid4())]
    assert find_leaks(url, clean, clean[:1]) == []
    assert find_leaks(url, [f"user {never.user_id}"], []) == ["database ids: 1"]
    assert find_leaks(url, [str(opted.ok_ids[0]), opted.plan_id], []) == ["database ids: 2"]
    assert find_leaks(url, ["mail x.y@z.example"], []) == ["email addresses: 1"]
    assert find_leaks(url, [], [f"hi {opted.name.upper()}"]) == ["names of consenting people: 1"]
    # Nobody is looking for the names of people who did not consent: they are never read.
    assert find_leaks(url, [], [f"hi {never.name}"]) == []
    assert find_leaks(url, [], ["call +1 212 555 0101"]) == [
        "free texts with a URL or phone number: 1"
    ]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("mail me: Jo.Doe+fit@mail.example.co.uk!", "mail me: [email]!"),
        ("see https://x.example/a?b=1 or www.gym.org.", "see [url] or [url]."),
        ("(https://x.example/me), then", "([url]), then"),
        ("my blog myblog.com/post/3 says", "my blog [url] says"),
        ("call +1 (415) 555-0199 or 0044 20 7946 0958", "call [phone] or [phone]"),
        ("text 555 123 4567 please", "text [phone] please"),
        # Training numbers, dates and blood pressure are not phone numbers.
        ("3x10 at 80 kg on 2026-10-31, BP 185/115", "3x10 at 80 kg on 2026-10-31, BP 185/115"),
        ("sets of 8-10, then 10 12 15 reps", "sets of 8-10, then 10 12 15 reps"),
        ("I am Alex Doe-Smith; alex here, DOE too", "I am [name]; [name] here, [name] too"),
    ],
)
def test_scrub_text(text: str, expected: str) -> None:
    assert scrub_text(text, ["Alex Doe-Smith"]) == expected


def test_anonymized_profile_keeps_only_what_prompts_use() -> None:
    profile = UserProfile(
        user_id=str(uuid.uuid4()),
        age=33,
        sex="F",
        height_cm=168.4,
        activity_level="very_active",
        goals=("strength", "fat_loss"),
        experience="advanced",
        days_per_week=4,
        session_length_min=50,
        equipment=frozenset({"barbell", "bench"}),
        conditions=(("hypertension", "mild"),),
        injuries=(Injury("surgery", "knee", "recovering", "ACL repair at St. Mary's by Dr Who"),),
        medications=("Lisinopril",),
        allergies=("peanuts",),
        weight_kg=71.3,
        signals=RecentSignals(sleep_hours=6.1, calories=2100),
    )
    key = pseudonym(profile.user_id, SALT)
    anonymous = anonymized_profile(profile, key)
    assert anonymous.user_id == key != profile.user_id and key.startswith(PSEUDONYM_PREFIX)
    assert (anonymous.age_band, anonymous.age) == (profile.age_band, 37)
    assert anonymous.height_cm == 170.0 and anonymous.weight_kg is None
    assert anonymous.medications == () and anonymous.allergies == ()
    assert anonymous.signals == RecentSignals()
    assert anonymous.injuries == (Injury("surgery", "knee", "recovering", "surgery"),)
    # What the safety policy and the plan contract decide from is unchanged.
    assert anonymous.blocked_tags == profile.blocked_tags
    assert anonymous.condition_flag == profile.condition_flag
    assert anonymous.athlete() == profile.athlete()
    minor = anonymized_profile(UserProfile(**{**profile.__dict__, "age": 15}), key)
    assert minor.is_minor and minor.age_band == "under_18"


def test_real_peoples_held_out_requests_reach_the_evaluation_thumbs_down_first(
    tmp_path: Path,
) -> None:
    from fitsense_core import layout
    from fitsense_core.distill import consented_held_out

    def record(rid: str, user: str, rating: str | None) -> dict:
        origin = {"source": "consented", "feedback": {"rating": rating, "count": 1}}
        context = {"origin": origin} if user.startswith(PSEUDONYM_PREFIX) else {}
        return {"id": rid, "metadata": {"user_id": user, "context_json": json.dumps(context)}}

    store = ArtifactStore(str(tmp_path))
    assert consented_held_out(store, "r1", 10) == []  # no dataset yet
    rows = [
        record("a", "synthetic-person", None),
        record("b", f"{PSEUDONYM_PREFIX}k1", "up"),
        record("c", f"{PSEUDONYM_PREFIX}k2", "down"),
        record("d", f"{PSEUDONYM_PREFIX}k1", None),
    ]
    store.write_bytes(
        "\n".join(json.dumps(r) for r in rows).encode(), *layout.distillation_split("r1", "test")
    )
    held = consented_held_out(store, "r1", 10)
    assert [r["id"] for r in held] == ["c", "b", "d"]
    assert [r["rated_down"] for r in held] == [True, False, False]
    assert [r["id"] for r in consented_held_out(store, "r1", 1)] == ["c"]
    assert consented_held_out(store, "r1", 0) == []
