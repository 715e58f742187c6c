"""Which extensions an object may target: ALLOWED_EXTENSION_IDS and EXTENSION_ROUTES."""

from __future__ import annotations

import pytest

from extension_uploader.access import AccessConfigError, TargetPolicy


def test_star_allows_any_id() -> None:
    assert TargetPolicy.parse("*", None).permits("any/key.zip", "123")


def test_a_list_allows_only_its_ids() -> None:
    policy = TargetPolicy.parse(" 111, 222 ,", None)
    assert policy.permits("k.zip", "111") and policy.permits("k.zip", "222")
    assert not policy.permits("k.zip", "333")
    assert not policy.permits("k.zip", "11")  # no prefix matching of ids


def test_routes_narrow_by_the_longest_matching_prefix() -> None:
    routes = '{"bundles/": ["111"], "bundles/team-a/": ["222"], "plugins/": ["*"]}'
    policy = TargetPolicy.parse("*", routes)
    assert policy.permits("bundles/x.zip", "111")
    assert not policy.permits("bundles/x.zip", "222")
    assert policy.permits("bundles/team-a/x.zip", "222")
    assert not policy.permits("bundles/team-a/x.zip", "111")  # the longer prefix decides
    assert policy.permits("plugins/p.zip", "999")


def test_with_routes_a_key_under_no_route_may_target_nothing() -> None:
    policy = TargetPolicy.parse("*", '{"bundles/": ["*"]}')
    assert not policy.permits("elsewhere/x.zip", "111")


def test_routes_never_widen_the_allow_list() -> None:
    policy = TargetPolicy.parse("111", '{"": ["*"]}')
    assert policy.permits("x.zip", "111") and not policy.permits("x.zip", "222")


@pytest.mark.parametrize(
    ("allowed", "routes", "message"),
    [
        (" , ", None, "names no extension id"),
        ("*", "not json", "not JSON"),
        ("*", '["bundles/"]', "JSON object"),
        ("*", '{"bundles/": "111"}', "list of extension ids"),
        ("*", '{"bundles/": [111]}', "list of extension ids"),
    ],
)
def test_bad_settings_are_refused_with_a_clear_message(
    allowed: str, routes: str | None, message: str
) -> None:
    with pytest.raises(AccessConfigError, match=message):
        TargetPolicy.parse(allowed, routes)
