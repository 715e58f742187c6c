"""``python -m ece_uploader.emulator``: serve the emulator until SIGINT or SIGTERM.

Prints one JSON line on stdout once it listens::

    {"url": ..., "api_url": ..., "admin_url": ..., "ca_bundle": ..., "pid": ...,
     "extensions": [...]}

Credentials are never printed. ``ECE_EMULATOR_API_KEY`` adds an API key without
putting it on the command line.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from .deployments import DEFAULT_PLAN_DURATION_SECONDS
from .models import EXTENSION_TYPES
from .server import EceEmulator

API_KEY_ENV = "ECE_EMULATOR_API_KEY"


def _user(text: str) -> tuple[str, str]:
    name, sep, password = text.partition(":")
    if not sep or not name:
        raise argparse.ArgumentTypeError("expected USER:PASSWORD")
    return name, password


def _extension(text: str) -> tuple[str, str, str]:
    name, _, rest = text.partition(":")
    extension_type, _, version = rest.partition(":")
    extension_type = extension_type or "plugin"
    if not name or extension_type not in EXTENSION_TYPES:
        raise argparse.ArgumentTypeError("expected NAME[:plugin|bundle[:VERSION]]")
    return name, extension_type, version or "8.15.0"


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise argparse.ArgumentTypeError("expected a non-negative number of seconds")
    return seconds


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ece_uploader.emulator", description="Serve the ECE emulator."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--api-key", action="append", default=[], help="repeatable")
    parser.add_argument(
        "--basic-user", action="append", default=[], type=_user, help="USER:PASSWORD, repeatable"
    )
    parser.add_argument("--tls", action="store_true", help="HTTPS with a generated CA")
    parser.add_argument("--storage-dir", help="where uploads go (default: a temporary dir)")
    parser.add_argument(
        "--no-zip-check", action="store_true", help="accept uploads that are not zips"
    )
    parser.add_argument(
        "--extension",
        action="append",
        default=[],
        type=_extension,
        help="create NAME[:TYPE[:VERSION]] at start, repeatable",
    )
    parser.add_argument(
        "--plan-duration",
        type=_seconds,
        default=DEFAULT_PLAN_DURATION_SECONDS,
        help="how long a deployment plan runs, in seconds (default %(default)s)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    keys = list(args.api_key)
    if os.environ.get(API_KEY_ENV):
        keys.append(os.environ[API_KEY_ENV])
    emulator = EceEmulator(
        api_keys=keys,
        basic_users=dict(args.basic_user),
        tls=args.tls,
        host=args.host,
        port=args.port,
        storage_dir=args.storage_dir,
        require_zip=not args.no_zip_check,
        plan_duration=args.plan_duration,
    )
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    with emulator:
        extensions = [emulator.create_extension(*spec) for spec in args.extension]
        ca_bundle = emulator.ca_bundle_path
        info = {
            "url": emulator.url,
            "api_url": emulator.api_url,
            "admin_url": f"{emulator.url}/_emulator",
            "ca_bundle": None if ca_bundle is None else str(ca_bundle),
            "pid": os.getpid(),
            "extensions": extensions,
        }
        sys.stdout.write(json.dumps(info) + "\n")
        sys.stdout.flush()
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
