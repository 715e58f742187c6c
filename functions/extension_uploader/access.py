"""Which extensions an object may target: the allow-list and the per-prefix routes. Pure.

``ALLOWED_EXTENSION_IDS`` bounds every object (``*`` on purpose for all);
``EXTENSION_ROUTES`` narrows by key prefix, the longest matching prefix wins,
and once routes are set, a key under no route may target nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

ANY = "*"
MAX_ROUTES = 100


class AccessConfigError(ValueError):
    """When ``ALLOWED_EXTENSION_IDS`` or ``EXTENSION_ROUTES`` cannot be read: fix the setting."""


@dataclass(frozen=True)
class IdSet:
    """Some extension ids, or any (``*``)."""

    ids: frozenset[str] = frozenset()
    any: bool = False

    def __contains__(self, extension_id: object) -> bool:
        return self.any or extension_id in self.ids

    @classmethod
    def of(cls, values: Iterable[str]) -> IdSet:
        cleaned = {value.strip() for value in values if value.strip()}
        return cls(any=True) if ANY in cleaned else cls(frozenset(cleaned))


@dataclass(frozen=True)
class TargetPolicy:
    allowed: IdSet
    routes: tuple[tuple[str, IdSet], ...] = ()  # longest prefix first

    def permits(self, key: str, extension_id: str) -> bool:
        if extension_id not in self.allowed:
            return False
        if not self.routes:
            return True
        for prefix, ids in self.routes:
            if key.startswith(prefix):
                return extension_id in ids
        return False

    @classmethod
    def parse(cls, allowed: str, routes: str | None) -> TargetPolicy:
        allowed_ids = IdSet.of(allowed.split(","))
        if not allowed_ids.any and not allowed_ids.ids:
            raise AccessConfigError("ALLOWED_EXTENSION_IDS names no extension id (use * for any)")
        return cls(allowed_ids, _parse_routes(routes) if routes and routes.strip() else ())


def _parse_routes(text: str) -> tuple[tuple[str, IdSet], ...]:
    try:
        document = json.loads(text)
    except ValueError:
        raise AccessConfigError("EXTENSION_ROUTES is not JSON") from None
    if not isinstance(document, dict) or len(document) > MAX_ROUTES:
        raise AccessConfigError(
            f"EXTENSION_ROUTES must be a JSON object of at most {MAX_ROUTES} key prefixes"
        )
    routes = []
    for prefix, ids in document.items():
        if not isinstance(ids, list) or not all(isinstance(value, str) for value in ids):
            raise AccessConfigError(
                f"EXTENSION_ROUTES[{prefix!r}] must be a list of extension ids or ['*']"
            )
        routes.append((prefix, IdSet.of(ids)))
    return tuple(sorted(routes, key=lambda route: len(route[0]), reverse=True))
