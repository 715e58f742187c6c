"""The part of ECE's full Swagger spec that the emulator serves, extracted.

The emulator packages ``ece-emulator-swagger.json``: the operations it serves
(:data:`SERVED_OPERATIONS`) copied unchanged from ECE's full API document, with
every definition they reference, directly or through other definitions. Make it
again after the full spec or the served operations change::

    python -m ece_uploader.emulator.spec_subset path/to/ece-apidocs-full.json \\
        src/ece_uploader/emulator/ece-emulator-swagger.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

# Path template -> the methods the emulator serves there (lower case, as in Swagger).
SERVED_OPERATIONS: Mapping[str, tuple[str, ...]] = {
    "/deployments/extensions": ("get", "post"),
    "/deployments/extensions/{extension_id}": ("get", "post", "put", "delete"),
    "/deployments/{deployment_id}": ("get", "put"),
}
# Top-level keys kept, in this order; the rest (host, schemes, tags...) describe
# the real service, not the emulator.
KEPT_KEYS = ("swagger", "info", "basePath", "securityDefinitions", "security")
DEFINITION_REF = "#/definitions/"
_PATH_ITEM_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch"})


class SubsetError(ValueError):
    """When the full spec lacks a served operation or a referenced definition: fix the input."""


def _refs(node: object) -> Iterator[str]:
    """Every ``$ref`` string inside a JSON value."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _definition_name(ref: str) -> str:
    if not ref.startswith(DEFINITION_REF):
        raise SubsetError(f"unsupported $ref {ref!r} (only {DEFINITION_REF}... is handled)")
    return ref[len(DEFINITION_REF) :]


def extract_subset(
    full: Mapping[str, Any],
    served: Mapping[str, Sequence[str]] = SERVED_OPERATIONS,
) -> dict[str, Any]:
    """The Swagger document of the ``served`` operations of ``full``, self-contained."""
    paths: dict[str, Any] = {}
    for template, methods in served.items():
        item = full.get("paths", {}).get(template)
        if item is None:
            raise SubsetError(f"the full spec has no path {template}")
        kept: dict[str, Any] = {}
        for key, value in item.items():
            if key not in _PATH_ITEM_METHODS or key in methods:
                kept[key] = value
        missing = [m for m in methods if m not in item]
        if missing:
            raise SubsetError(f"the full spec has no {missing} on {template}")
        paths[template] = kept

    available: Mapping[str, Any] = full.get("definitions", {})
    needed: set[str] = set()
    pending = [_definition_name(ref) for ref in _refs(paths)]
    while pending:
        name = pending.pop()
        if name in needed:
            continue
        if name not in available:
            raise SubsetError(f"the full spec has no definition {name}")
        needed.add(name)
        pending.extend(_definition_name(ref) for ref in _refs(available[name]))

    subset: dict[str, Any] = {key: full[key] for key in KEPT_KEYS if key in full}
    subset["paths"] = paths
    subset["definitions"] = {name: available[name] for name in sorted(needed)}
    return subset


def render(document: Mapping[str, Any]) -> str:
    """The packaged file's text for a document."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ece_uploader.emulator.spec_subset", description=__doc__.split("\n")[0]
    )
    parser.add_argument("full_spec", type=Path, help="ECE's full Swagger 2.0 JSON document")
    parser.add_argument("output", type=Path, nargs="?", help="where to write (default: stdout)")
    args = parser.parse_args(argv)
    full = json.loads(args.full_spec.read_text(encoding="utf-8"))
    text = render(extract_subset(full))
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
