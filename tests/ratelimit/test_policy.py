"""Policies from settings: rates, several windows, penalties, outage modes."""

from __future__ import annotations

import pytest

from sheepfold.ratelimit import PenaltyPolicy, RateLimitPolicy, RateLimitWindow


@pytest.mark.parametrize(
    ("text", "limit", "seconds"),
    [
        ("100/minute", 100, 60),
        ("10/second", 10, 1),
        ("1000/hour", 1000, 3600),
        ("5/day", 5, 86400),
        ("5/30seconds", 5, 30),
        ("2 per 10 s", 2, 10),
        ("7/2minutes", 7, 120),
    ],
)
def test_a_rate_is_parsed_into_a_window(text, limit, seconds):
    assert RateLimitWindow.parse(text) == RateLimitWindow(limit, seconds)


@pytest.mark.parametrize("text", ["lots", "100", "100/fortnight", "0/minute", "-1/minute", ""])
def test_a_bad_rate_is_refused_saying_what_is_expected(text):
    with pytest.raises(ValueError, match=r"expected a rate such as '100/minute'|limit must be at least 1"):
        RateLimitWindow.parse(text)


def test_a_policy_from_settings_holds_its_windows_penalty_and_outage_mode():
    policy = RateLimitPolicy.from_settings(
        "login",
        {
            "limit": ["5/minute", "20/hour"],
            "penalty": {"base": 60, "factor": 3, "max": 600, "forget_after": 86400},
            "on_outage": "closed",
        },
        expected_instances=4,
    )
    assert policy.windows == (RateLimitWindow(5, 60), RateLimitWindow(20, 3600))
    assert policy.penalty == PenaltyPolicy(base=60, factor=3, max=600, forget_after=86400)
    assert (policy.on_outage, policy.expected_instances, policy.longest) == ("closed", 4, 3600)


def test_penalties_grow_by_the_factor_up_to_the_cap():
    penalty = PenaltyPolicy(base=10, factor=3, max=100)
    assert [penalty.block_for(n) for n in (1, 2, 3, 4)] == [10, 30, 90, 100]


def test_per_instance_divides_every_limit_and_never_reaches_zero():
    policy = RateLimitPolicy.from_settings("p", {"limit": ["10/second", "3/minute"]}, expected_instances=4)
    assert [w.limit for w in policy.per_instance().windows] == [2, 1]


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({}, r"ratelimit\.policies\.p\.limit: expected a rate or a list of rates"),
        ({"limit": "1/minute", "on_outage": "maybe"}, r"ratelimit\.policies\.p: on_outage must be one of"),
        ({"limit": "1/minute", "penalty": {"base": 0}}, r"ratelimit\.policies\.p\.penalty: penalty\.base"),
        ({"limit": "1/minute", "penalty": {"bass": 1}}, r"ratelimit\.policies\.p\.penalty: .*bass"),
    ],
)
def test_a_bad_policy_names_its_key(section, message):
    with pytest.raises(ValueError, match=message):
        RateLimitPolicy.from_settings("p", section)


def test_changing_a_policys_numbers_changes_its_fingerprint():
    one = RateLimitPolicy("p", (RateLimitWindow(1, 60),))
    assert one.fingerprint != RateLimitPolicy("p", (RateLimitWindow(2, 60),)).fingerprint
    assert one.fingerprint != RateLimitPolicy("p", (RateLimitWindow(1, 60),), PenaltyPolicy(base=1)).fingerprint
