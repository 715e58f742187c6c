"""``ece-uploader``: the product's command line, for people and scripts.

Exit codes: 0 success, 1 a negative answer (archive rejected, handler raised,
demo check failed), 2 usage or I/O error, 3 ``publish --wait`` saw no outcome in time.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from ece_uploader import demo, validate
from ece_uploader.commands import publish, redrive, replay, rollback, rollout, status
from ece_uploader.extras import sandbox_extra_missing
from ece_uploader.local import (
    TemplateError,
    invoke,
    read_env_file,
    read_function,
    stdout_redirected,
)

EXIT_OK = 0
EXIT_NEGATIVE = 1
EXIT_USAGE = 2


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ece-uploader", description="Check and publish Elastic Cloud Enterprise extensions."
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    validate.register(subparsers)
    _register_invoke(subparsers)
    _register_sandbox(subparsers)
    demo.register(subparsers)
    status.register(subparsers)
    publish.register(subparsers)
    replay.register(subparsers)
    redrive.register(subparsers)
    rollout.register(subparsers)
    rollback.register(subparsers)
    return parser


def _register_invoke(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "invoke", help="run the function in-process, like `sam local invoke -e EVENT`"
    )
    parser.add_argument("--event", "-e", type=Path, required=True, help="event JSON file")
    parser.add_argument(
        "--env-vars", "-n", type=Path, help="SAM env-vars JSON, or a sandbox description"
    )
    parser.add_argument("--template", "-t", type=Path, default=None)
    parser.add_argument("--function", help="logical id, when the template has several")
    parser.set_defaults(func=_run_invoke)


def _run_invoke(args: argparse.Namespace) -> int:
    template = args.template or demo.default_template()
    try:
        event = json.loads(args.event.read_text())
        spec = read_function(template, args.function)
        overrides = read_env_file(args.env_vars, spec.logical_id) if args.env_vars else {}
    except (OSError, ValueError, TemplateError) as exc:
        print(f"ece-uploader invoke: {exc}", file=sys.stderr)
        return EXIT_USAGE
    with stdout_redirected(sys.stderr.fileno()):  # logs and metrics to stderr, as SAM does
        try:
            result = invoke(event, spec, overrides)
        except Exception as exc:
            error = {"errorType": type(exc).__name__, "errorMessage": str(exc)}
            failed = True
        else:
            failed = False
    if failed:
        print(json.dumps(error))
        return EXIT_NEGATIVE
    print(json.dumps(result))
    return EXIT_OK


def _register_sandbox(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "sandbox", help="serve moto and the ECE emulator on loopback until interrupted"
    )
    parser.add_argument("--info", type=Path, help="write the sandbox description here")
    parser.add_argument("--tls", action="store_true", help="serve the ECE emulator over HTTPS")
    parser.set_defaults(func=_run_sandbox)


def _run_sandbox(args: argparse.Namespace) -> int:
    if missing := sandbox_extra_missing():
        print(f"ece-uploader sandbox: {missing}", file=sys.stderr)
        return EXIT_USAGE
    from ece_uploader.sandbox import Sandbox  # moto is heavy: only this command pays for it

    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    with Sandbox(tls=args.tls) as sandbox:
        description = json.dumps(sandbox.info(), indent=2)
        if args.info:
            args.info.write_text(description + "\n")
            print(f"sandbox ready: {args.info}", file=sys.stderr, flush=True)
        else:
            print(description, flush=True)
        stop.wait()
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
