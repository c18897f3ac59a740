"""The plan validator takes any JSON a client or a model sends: whatever the shape, it
answers with violations and never raises (schemathesis once found a dict where a
set_number belongs raising TypeError)."""

from __future__ import annotations

import copy
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fitsense_core.coach.plans import create_plan
from fitsense_core.plan_contract import Plan, validate_plan
from fitsense_core.profile import UserProfile
from fitsense_core.reference import EQUIPMENT_BY_CODE

PROFILE = UserProfile(
    "u",
    35,
    "M",
    178,
    "moderately_active",
    ("strength",),
    "intermediate",
    3,
    60,
    frozenset(EQUIPMENT_BY_CODE),
)
VALID = json.loads(create_plan(PROFILE).model_dump_json())

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _paths(child, (*prefix, i))


PATHS = [p for p in _paths(VALID) if p]


def test_the_coachs_plan_is_valid() -> None:
    assert validate_plan(VALID, PROFILE.athlete()).valid


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PATHS), json_values)
def test_any_value_anywhere_gives_violations_not_exceptions(path, value) -> None:
    data = copy.deepcopy(VALID)
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    for athlete in (None, PROFILE.athlete()):
        result = validate_plan(data, athlete)
        if result.valid:
            Plan.model_validate(data)  # "valid" means the model accepts it
        else:
            assert all(v.path and v.reason for v in result.violations)


@settings(max_examples=100, deadline=None)
@given(json_values)
def test_any_document_gives_violations_not_exceptions(value) -> None:
    result = validate_plan(value, PROFILE.athlete())
    assert not result.valid
