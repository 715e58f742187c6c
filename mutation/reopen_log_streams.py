"""A pytest plugin for mutation runs: mutmut runs pytest many times in one process.

A log handler made during one run (the function's Powertools logger is made at import)
keeps that run's captured stdout, closed when the run ends; the next run would then fail
writing to it. Each run starts by pointing such handlers at its own stdout.
"""

from __future__ import annotations

import logging
import sys

import pytest


def pytest_sessionstart(session: pytest.Session) -> None:
    known = logging.Logger.manager.loggerDict.values()
    loggers = [logging.getLogger(), *(item for item in known if isinstance(item, logging.Logger))]
    for logger in loggers:
        for handler in logger.handlers:
            stream = getattr(handler, "stream", None)
            if isinstance(handler, logging.StreamHandler) and getattr(stream, "closed", False):
                handler.stream = sys.stdout
