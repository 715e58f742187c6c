"""Run the function in-process the way ``sam local invoke`` would.

The handler, its timeout and its environment come from ``template.yaml``; an
env-vars file in SAM's format (``{"Parameters": {...}, "<LogicalId>": {...}}``)
or a sandbox description (``{"env": {...}}``) overrides them.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DEFAULT_TEMPLATE = "template.yaml"
FUNCTION_TYPE = "AWS::Serverless::Function"


class TemplateError(ValueError):
    """When template.yaml has no function this command can run."""


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    handler: str
    code_uri: Path
    timeout_seconds: int
    memory_mb: int
    environment: dict[str, str]


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation's short-form tags (``!Ref``, ``!Sub``...) as plain mappings."""


def _cfn_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _cfn_tag)


def read_function(template: Path, logical_id: str | None = None) -> FunctionSpec:
    document = yaml.load(template.read_text(), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    resources = document.get("Resources", {})
    functions = {
        name: body for name, body in resources.items() if body.get("Type") == FUNCTION_TYPE
    }
    if not functions:
        raise TemplateError(f"{template} declares no {FUNCTION_TYPE}")
    if logical_id is None:
        if len(functions) > 1:
            raise TemplateError(
                f"{template} has several functions: name one of {sorted(functions)}"
            )
        logical_id = next(iter(functions))
    if logical_id not in functions:
        raise TemplateError(f"{template} has no function {logical_id}")
    properties = functions[logical_id].get("Properties", {})
    defaults = {
        name: str(spec.get("Default", "")) for name, spec in document.get("Parameters", {}).items()
    }
    variables = properties.get("Environment", {}).get("Variables", {})
    return FunctionSpec(
        logical_id=logical_id,
        handler=properties["Handler"],
        code_uri=template.parent / properties.get("CodeUri", "."),
        timeout_seconds=int(_resolve(properties.get("Timeout", 3), defaults)),
        memory_mb=int(_resolve(properties.get("MemorySize", 128), defaults)),
        environment={name: _resolve(value, defaults) for name, value in variables.items()},
    )


def _resolve(value: Any, parameters: Mapping[str, str]) -> str:
    """A literal, or ``!Ref`` to a parameter (its default); anything else is left empty."""
    if isinstance(value, dict):
        ref = value.get("Ref")
        return parameters.get(ref, "") if isinstance(ref, str) else ""
    return str(value)


def read_env_file(path: Path, logical_id: str) -> dict[str, str]:
    """SAM's env-vars format, or the ``env`` of a sandbox description."""
    document = json.loads(path.read_text())
    if not isinstance(document, dict):
        raise ValueError(f"{path} is not a JSON object")
    if isinstance(document.get("env"), dict):
        return {key: str(value) for key, value in document["env"].items()}
    merged: dict[str, str] = {}
    for section in ("Parameters", logical_id):
        values = document.get(section, {})
        merged.update({key: str(value) for key, value in values.items()})
    return merged


class LocalContext:
    """What the Lambda runtime hands the handler, with a real countdown."""

    def __init__(self, spec: FunctionSpec) -> None:
        self.function_name = spec.logical_id
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = spec.memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:local:000000000000:function:{spec.logical_id}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{spec.logical_id}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + spec.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@contextmanager
def function_environment(spec: FunctionSpec, overrides: Mapping[str, str]) -> Iterator[None]:
    """The function's environment for the duration of the call, as it was afterwards."""
    saved = dict(os.environ)
    os.environ.update(spec.environment | dict(overrides))
    code_uri = str(spec.code_uri.resolve())
    sys.path.insert(0, code_uri)
    try:
        yield
    finally:
        sys.path.remove(code_uri)
        os.environ.clear()
        os.environ.update(saved)


def load_handler(spec: FunctionSpec) -> Callable[[Any, Any], Any]:
    module_name, _, function_name = spec.handler.rpartition(".")
    module = importlib.import_module(module_name)
    handler: Callable[[Any, Any], Any] = getattr(module, function_name)
    return handler


def invoke(event: Any, spec: FunctionSpec, env_overrides: Mapping[str, str]) -> Any:
    """Call the handler once with ``event``; exceptions propagate as they would in Lambda."""
    with function_environment(spec, env_overrides):
        handler = load_handler(spec)
        return handler(event, LocalContext(spec))


@contextmanager
def stdout_redirected(target_fd: int) -> Iterator[None]:
    """Send everything written to standard output (Powertools' logs and EMF) to ``target_fd``.

    Works at the file-descriptor level, so it catches handlers that captured
    ``sys.stdout`` when they were created.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(target_fd, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
