"""A pytest plugin for mutation runs: a mutant's tests run fastest first.

mutmut runs each mutant against every test that called the mutated function, with
``-x``: the first failure ends the run. Its test list comes from a set, in no useful
order; run in the order of their measured time (mutmut's stats of the clean run), a
mutant that the quick tests kill costs a second, not the whole integration suite.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    from mutmut.state import state

    durations = state().duration_by_test
    if durations:
        items.sort(key=lambda item: durations.get(item.nodeid, 0.0))
