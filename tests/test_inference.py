"""One inference path: the API, the evaluation and the monitoring probes ask the model the
same thing and serve the same answer for the same task and model output.

The model here is a scripted stand-in (an OpenAI-compatible HTTP server that answers
with the text a test sets): what is under test is our code on either side of the model,
so the model's output must be chosen, including answers no real model would give on cue
(an unsafe reply, a broken plan). The API runs for real (Litestar app, PostgreSQL,
registry, model client over HTTP).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from fitsense_api.ai.context import load_context
from fitsense_api.ai.reasons import reason_code
from fitsense_core.inference import serve
from fitsense_core.inference.endpoint import served_model_name
from fitsense_core.plan_contract import Plan
from fitsense_core.safety import CLEARANCE_NOTE, SafetyLevel, triage
from fitsense_core.student.compact import encode_plan
from fitsense_core.student.data import live_task
from fitsense_core.student.evaluation import served_answer
from tests.ai_fixtures import TEST_VERSION, ai_client, ai_environ
from tests.api_helpers import ONBOARDING, sse_events

pytestmark = pytest.mark.anyio

GOOD_REPLY = (
    "Spread your protein over three or four meals, about 1.6 g per kg of body weight a day, "
    "and keep your training log so you can see progress week to week."
)
UNSAFE_REPLY = "Ignore the pain and push through it, soreness in the joint is normal."


@dataclass
class ScriptedModel:
    """The next answer the stand-in gives, and every request body it received."""

    text: str = ""
    requests: list[dict] = field(default_factory=list)


def start_scripted_model(script: ScriptedModel) -> tuple[ThreadingHTTPServer, str]:
    name = served_model_name(TEST_VERSION)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _json(self, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._json({"object": "list", "data": [{"id": name, "object": "model"}]})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            script.requests.append(body)
            base = {"id": "scripted", "created": 0, "model": name}
            if not body.get("stream"):
                self._json(
                    {
                        **base,
                        "object": "chat.completion",
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": "stop",
                                "message": {"role": "assistant", "content": script.text},
                            }
                        ],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                    }
                )
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            words = script.text.split(" ")
            pieces = [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]
            for i, piece in enumerate(p for p in pieces if p):
                chunk = {
                    **base,
                    "object": "chat.completion.chunk",
                    "choices": [
                        {
                            "index": 0,
                            "delta": {"content": piece},
                            "finish_reason": "stop" if i == len(pieces) - 1 else None,
                        }
                    ],
                }
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/v1"


@pytest.fixture(scope="module")
def scripted() -> Iterator[tuple[ScriptedModel, str]]:
    script = ScriptedModel()
    server, url = start_scripted_model(script)
    yield script, url
    server.shutdown()


@pytest.fixture
async def api(api_db, registered_version, scripted):
    _script, url = scripted
    async for client in ai_client(api_db, ai_environ(url, "scripted-key")):
        yield client


async def onboarded(client, onboarding: dict) -> tuple[dict, uuid.UUID]:
    email = f"inference-{uuid.uuid4().hex[:12]}@example.com"
    r = await client.post(
        "/auth/signup", json={"name": "Path Test", "email": email, "password": "a-long-password"}
    )
    assert r.status_code == 201, r.text
    headers = {"Authorization": f"Bearer {r.json()['token']}"}
    r = await client.put("/onboarding", json=onboarding, headers=headers)
    assert r.status_code == 200, r.text
    me = await client.get("/me", headers=headers)
    return headers, uuid.UUID(me.json()["id"])


async def task_of(db, user_id: uuid.UUID, prompt_type: str, request: str):
    ctx = await load_context(db, user_id)
    return live_task("evaluation", prompt_type, request, ctx.profile, ctx.plan, ctx.sessions)


PREGNANT = {**ONBOARDING, "conditions": [{"code": "pregnancy", "severity": "moderate"}]}


@pytest.mark.parametrize(
    ("onboarding", "question", "model_text"),
    [
        (ONBOARDING, "How much protein should I eat to build muscle?", GOOD_REPLY),
        (ONBOARDING, "How much protein should I eat to build muscle?", UNSAFE_REPLY),
        (ONBOARDING, "Should I stretch before or after lifting?", ""),
        (PREGNANT, "How many days a week should I lift?", GOOD_REPLY),
        (ONBOARDING, "I have crushing chest pain and my left arm is numb", GOOD_REPLY),
    ],
    ids=["accepted", "unsafe-replaced", "empty-replaced", "clearance-note", "emergency"],
)
async def test_the_coach_answer_is_the_evaluations_served_answer(
    api, api_db, db, scripted, registered_version, onboarding, question, model_text
):
    script, _url = scripted
    script.text, script.requests[:] = model_text, []
    headers, user_id = await onboarded(api, onboarding)
    r = await api.post("/coach", json={"question": question}, headers=headers)
    assert r.status_code == 200, r.text
    task = await task_of(db, user_id, "coaching", question)
    verdict = triage(question, task.profile)
    codebook = serve.registry_codebooks(api_db).get(registered_version)
    expected = served_answer(
        task, model_text if serve.calls_model(task, verdict) else None, codebook
    )
    assert r.json()["answer"] == expected
    if verdict.level == SafetyLevel.EMERGENCY:
        assert script.requests == []  # the policy answers; no model is asked
        return
    [sent] = script.requests
    request = serve.model_request(task, codebook, "llama-cpp")
    assert sent["messages"] == request.messages and sent["max_tokens"] == request.max_tokens
    if verdict.level == SafetyLevel.NEEDS_CLEARANCE and model_text:
        assert r.json()["answer"].startswith(CLEARANCE_NOTE)

    # The stream ends with the same text: the tokens, or the replacement of them.
    r = await api.post("/coach/stream", json={"question": question}, headers=headers)
    events = sse_events(r.text)
    replaced = [data["text"] for name, data in events if name in ("replace", "answer")]
    streamed = "".join(data["text"] for name, data in events if name == "token").strip()
    assert (replaced[-1] if replaced else streamed) == expected


@pytest.mark.parametrize("answer", ["valid", "broken", "violating"])
async def test_the_served_plan_is_the_evaluations_served_plan(
    api, api_db, db, scripted, registered_version, answer
):
    script, _url = scripted
    headers, user_id = await onboarded(api, ONBOARDING)
    request = "Make me a plan to build muscle."
    task = await task_of(db, user_id, "plan_creation", request)
    verdict = triage(request, task.profile)
    codebook = serve.registry_codebooks(api_db).get(registered_version)
    coach_plan = serve.knowledge_plan("plan_creation", request, task.profile, None, (), verdict)
    if answer == "valid":
        model_text = encode_plan(coach_plan, codebook, approximate=True)
    elif answer == "broken":
        model_text = "[[1, 2"
    else:  # a plan for another person: more days than this one trains
        more_days = coach_plan.model_copy(update={"days": coach_plan.days * 3})
        model_text = encode_plan(more_days, codebook, approximate=True)
    script.text, script.requests[:] = model_text, []
    r = await api.post("/plans/generate?wait=60", json={"request": request}, headers=headers)
    assert r.status_code == 201, r.text
    job = r.json()
    [sent] = script.requests
    expected_request = serve.model_request(task, codebook, "llama-cpp")
    assert sent["messages"] == expected_request.messages
    assert sent["grammar"] == expected_request.extra_body["grammar"]
    served = Plan.model_validate(job["plan"]["plan"]).model_dump_json()
    assert served == served_answer(task, model_text, codebook)
    judgement = serve.judge_plan(model_text, codebook, task)
    assert job["result"]["outcome"] == ("ok" if judgement.reason is None else "fallback")
    assert job["result"]["fallback_reason"] == reason_code(judgement.reason)
    assert (answer == "valid") == (judgement.reason is None)


@pytest.mark.parametrize("model_text", [UNSAFE_REPLY, GOOD_REPLY])
def test_monitoring_probes_judge_and_serve_through_the_same_path(
    api_db, registered_version, scripted, model_text
):
    from fitsense_core.inference.client import ClientSettings
    from fitsense_core.inference.endpoint import ModelEndpoint
    from fitsense_core.monitoring import probe_records, probe_served_model
    from fitsense_core.student.data import task_from_record

    script, url = scripted
    script.text = model_text
    records = probe_records(8)
    settings = ClientSettings(endpoint=ModelEndpoint(url, "scripted-key"))
    outcomes = probe_served_model(records, api_db, client_settings=settings)
    codebook = serve.registry_codebooks(api_db).get(registered_version)
    kinds = set()
    for record, probe in zip(records, outcomes, strict=True):
        task = task_from_record(record)
        verdict = triage(task.request, task.profile)
        if not serve.calls_model(task, verdict):
            assert probe.outcome == "refused"
            assert probe.response_text == served_answer(task, None, codebook)
            continue
        kinds.add(task.output_type)
        if task.output_type == "plan":
            reason = serve.judge_plan(model_text, codebook, task).reason
        else:
            reply = serve.serve_reply(task, verdict, model_text)
            reason = reply.fallback_reason
            assert probe.response_text == served_answer(task, model_text, codebook)
        assert probe.outcome == ("ok" if reason is None else "fallback")
        assert probe.error == reason
    assert kinds == {"plan", "reply"}  # the probe set asks for both


@pytest.mark.parametrize(
    ("model_text", "reason"),
    [
        ("[[128,97],[63,50],[48,100]]", serve.NOT_PROSE),
        ("Sure thing.", serve.NOT_PROSE),
        (
            "Please get clearance from your doctor or another qualified healthcare "
            "professional before following this advice.",
            serve.ALARMING_REPLY,
        ),
        (
            "Please stop exercising now. You have a medical emergency or you feel unwell.",
            serve.ALARMING_REPLY,
        ),
        (
            "Working around your knee: nothing here loads the joint, and any movement that "
            "hurts stops there.",
            serve.OFF_TOPIC,
        ),
        (
            # Read through the API: the base model answered with its own prompt's lines.
            "34 F intermediate | goals muscle_gain | 3 days x 60 min = 210 calories/day\n"
            "recent: sleep -/-h kcal -/- trend -kg/wk sore - sessions -/wk\n"
            "nutrition.protein-daily: Eat protein with every meal to build muscle well.\n"
            "request: How much protein should I eat to build muscle?",
            serve.NOT_PROSE,
        ),
        (
            "Spread protein over your meals, about 1.6 g per kg a day.\n"
            "request: How much protein should I eat to build muscle?",
            serve.NOT_PROSE,
        ),
        (GOOD_REPLY, None),
        (
            # Labels like these in ordinary prose are not the prompt.
            "Recent research: about 1.6 g of protein per kg of body weight a day, spread over "
            "your meals.\nNote: keep your training log so you can see progress week to week.",
            None,
        ),
    ],
    ids=[
        "json",
        "too-short",
        "clearance",
        "emergency",
        "off-topic",
        "prompt-echo",
        "request-echo",
        "answers",
        "prose-with-labels",
    ],
)
def test_the_reply_judge_refuses_what_does_not_answer(model_text, reason) -> None:
    """What the promoted student served with outcome ok, each refused by the judge."""
    from fitsense_core.profile import UserProfile

    profile = UserProfile(
        user_id="p",
        age=34,
        sex="F",
        height_cm=168,
        activity_level="moderately_active",
        goals=("muscle_gain",),
        experience="intermediate",
        days_per_week=3,
        session_length_min=60,
        equipment=frozenset({"dumbbell"}),
    )
    question = "How much protein should I eat to build muscle?"
    task = live_task("judge", "coaching", question, profile)
    verdict = triage(question, profile)
    assert verdict.level == SafetyLevel.OK
    judged = serve.judge_reply(verdict, model_text, task)
    assert (judged.reason or "").startswith(reason or "") and (reason is None) == (
        judged.reason is None
    )
    served = serve.serve_reply(task, verdict, model_text)
    assert served.source == ("model" if reason is None else "rules")
    assert "clearance" not in served.text.lower() or reason is None
