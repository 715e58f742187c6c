"""The ECE API the emulator serves, as its Swagger 2.0 spec describes it.

The spec is package data (``ece-emulator-swagger.json``): the served operations
of ECE's full API document with every definition they use, unchanged, as
:mod:`ece_uploader.emulator.spec_subset` extracts them. :class:`ApiSpec` routes
requests to operations (a literal path segment wins over a template one, so
``/deployments/extensions`` is never read as a deployment id), checks
requests against the operation's parameters, and checks responses against the
operation's response schemas and headers. Problems are returned as sentences;
nothing here raises on a non-conformant message.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any
from urllib.parse import unquote, urlsplit

import jsonschema  # type: ignore[import-untyped]

SPEC_PACKAGE = "ece_uploader.emulator"
SPEC_FILE = "ece-emulator-swagger.json"
ERROR_CODES_HEADER = "x-cloud-error-codes"
# Codes ECE answers on any operation (authentication, routing); the spec lists
# only the operation-specific ones.
GENERIC_CODE_PREFIX = "root."

_INTEGER = re.compile(r"[+-]?[0-9]+")
_HTTP_METHODS = frozenset({"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH"})
_BOOLEANS = frozenset({"true", "false"})
_TIMESTAMP_HEADERS = ("x-cloud-resource-created", "x-cloud-resource-last-modified")


def load_spec() -> dict[str, Any]:
    """A fresh copy of the packaged Swagger document."""
    text = resources.files(SPEC_PACKAGE).joinpath(SPEC_FILE).read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


@functools.cache
def default_spec() -> ApiSpec:
    """The packaged spec, parsed once."""
    return ApiSpec(load_spec())


def _check_date_time(value: object) -> bool:
    if isinstance(value, str):
        if "T" not in value:
            raise ValueError("not a date-time")
        if dt.datetime.fromisoformat(value).tzinfo is None:
            raise ValueError("date-time without a time zone")
    return True


def _check_uri(value: object) -> bool:
    if isinstance(value, str):
        parts = urlsplit(value)
        if not parts.scheme or not parts.netloc:
            raise ValueError("not an absolute URL")
    return True


_FORMATS = jsonschema.FormatChecker(formats=())
_FORMATS.checks("date-time", raises=ValueError)(_check_date_time)
_FORMATS.checks("uri", raises=ValueError)(_check_uri)


def media_type(content_type: str | None) -> str:
    """``multipart/form-data`` from ``multipart/form-data; boundary=x``."""
    return (content_type or "").split(";", 1)[0].strip().lower()


@dataclass(frozen=True)
class BodyProblem:
    """One way a JSON request body departs from its schema."""

    field: str | None
    message: str
    # True for properties the schema does not declare: a departure from the
    # spec that ECE tolerates, so it is recorded but not refused.
    undeclared: bool = False

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


@dataclass(frozen=True)
class Operation:
    """One method of one path of the spec."""

    operation_id: str
    method: str
    path: str
    definition: Mapping[str, Any] = field(repr=False)

    @property
    def consumes(self) -> tuple[str, ...]:
        return tuple(self.definition.get("consumes", ()))

    @property
    def produces(self) -> tuple[str, ...]:
        return tuple(self.definition.get("produces", ()))

    @property
    def statuses(self) -> frozenset[int]:
        return frozenset(int(code) for code in self.definition["responses"] if code.isdigit())

    def parameters(self, location: str) -> dict[str, Mapping[str, Any]]:
        """Parameters declared ``in`` the given location, by name."""
        return {
            param["name"]: param
            for param in self.definition.get("parameters", ())
            if param.get("in") == location
        }

    @property
    def body_schema(self) -> Mapping[str, Any] | None:
        for param in self.definition.get("parameters", ()):
            if param.get("in") == "body":
                schema: Mapping[str, Any] = param["schema"]
                return schema
        return None


@dataclass(frozen=True)
class RouteMatch:
    """A request path matched to a path of the spec."""

    path: str
    path_params: dict[str, str]
    # None when the path exists but not with the request's method.
    operation: Operation | None
    allowed_methods: tuple[str, ...]


def _specificity(template: str) -> tuple[bool, ...]:
    """Sorts literal segments before template ones, segment by segment."""
    return tuple(segment.startswith("{") for segment in template.split("/"))


def _template_regex(template: str) -> re.Pattern[str]:
    pattern = ""
    for literal, name in re.findall(r"([^{]*)(?:\{(\w+)\})?", template):
        pattern += re.escape(literal)
        if name:
            pattern += f"(?P<{name}>[^/]+)"
    return re.compile(pattern)


class ApiSpec:
    """Routing and conformance checks for the operations of a Swagger 2.0 document."""

    def __init__(self, document: Mapping[str, Any] | None = None) -> None:
        self.document: Mapping[str, Any] = document if document is not None else load_spec()
        self.base_path: str = self.document.get("basePath", "")
        self._definitions: Mapping[str, Any] = self.document.get("definitions", {})
        self._operations: dict[str, Operation] = {}
        self._routes: list[tuple[re.Pattern[str], str, dict[str, Operation]]] = []
        for template, item in self.document["paths"].items():
            by_method: dict[str, Operation] = {}
            for method, definition in item.items():
                if method.upper() not in _HTTP_METHODS:
                    continue
                operation = Operation(
                    definition["operationId"], method.upper(), template, definition
                )
                by_method[operation.method] = operation
                self._operations[operation.operation_id] = operation
            self._routes.append((_template_regex(template), template, by_method))
        self._routes.sort(key=lambda route: _specificity(route[1]))

    @property
    def operations(self) -> Mapping[str, Operation]:
        return dict(self._operations)

    def operation(self, operation_id: str) -> Operation:
        try:
            return self._operations[operation_id]
        except KeyError:
            raise KeyError(f"the spec has no operation {operation_id!r}") from None

    def match(self, method: str, raw_path: str) -> RouteMatch | None:
        """The spec path a raw (still percent-encoded) request path names, if any."""
        if not raw_path.startswith(self.base_path + "/"):
            return None
        relative = raw_path[len(self.base_path) :]
        for regex, template, by_method in self._routes:
            found = regex.fullmatch(relative)
            if found is not None:
                params = {name: unquote(value) for name, value in found.groupdict().items()}
                return RouteMatch(
                    path=template,
                    path_params=params,
                    operation=by_method.get(method.upper()),
                    allowed_methods=tuple(sorted(by_method)),
                )
        return None

    # -- requests ---------------------------------------------------------

    def check_query(self, operation: Operation, query: Mapping[str, Sequence[str]]) -> list[str]:
        declared = operation.parameters("query")
        problems: list[str] = []
        for name, values in query.items():
            param = declared.get(name)
            if param is None:
                problems.append(f"query parameter {name!r} is not declared by the spec")
                continue
            if len(values) > 1:
                problems.append(f"query parameter {name!r} is repeated")
            if param.get("type") == "boolean" and any(v not in _BOOLEANS for v in values):
                problems.append(f"query parameter {name!r} must be true or false")
            if param.get("type") == "integer" and not all(_INTEGER.fullmatch(v) for v in values):
                problems.append(f"query parameter {name!r} must be an integer")
        for name, param in declared.items():
            if param.get("required") and name not in query:
                problems.append(f"required query parameter {name!r} is missing")
        return problems

    def check_content_type(
        self,
        operation: Operation,
        content_type: str | None,
        *,
        has_body: bool,
        also_accepted: Iterable[str] = (),
    ) -> list[str]:
        consumes = operation.consumes
        if not consumes:
            return ["the operation takes no request body"] if has_body else []
        accepted = {*consumes, *also_accepted}
        if not has_body:
            return ["the request has no body"]
        media = media_type(content_type)
        if media not in accepted:
            shown = content_type or "none"
            return [f"Content-Type {shown!r} is not one of {sorted(accepted)}"]
        return []

    def check_accept(self, operation: Operation, accept: str | None) -> list[str]:
        if not accept or not operation.produces:
            return []
        ranges = {media_type(item) for item in accept.split(",")}
        for produced in operation.produces:
            kind = produced.split("/", 1)[0]
            if ranges & {produced, f"{kind}/*", "*/*"}:
                return []
        return [f"Accept {accept!r} excludes {list(operation.produces)}"]

    def check_body(self, operation: Operation, body: object) -> list[BodyProblem]:
        """How a JSON body departs from the operation's body schema."""
        schema = operation.body_schema
        if schema is None:
            return []
        problems = [
            BodyProblem(name, message)
            for name, message in _describe(self._validator(schema).iter_errors(body))
        ]
        resolved = self._resolve(schema)
        properties = resolved.get("properties")
        if isinstance(body, dict) and isinstance(properties, dict):
            problems.extend(
                BodyProblem(name, "property is not declared by the spec", undeclared=True)
                for name in sorted(set(body) - set(properties))
            )
        return problems

    def check_form_parts(self, operation: Operation, part_names: Sequence[str]) -> list[str]:
        declared = operation.parameters("formData")
        problems = [
            f"form part {name!r} is required"
            for name, param in declared.items()
            if param.get("required") and name not in part_names
        ]
        problems.extend(
            f"form part {name!r} is not declared by the spec"
            for name in sorted(set(part_names) - set(declared))
        )
        problems.extend(
            f"form part {name!r} is sent more than once"
            for name in sorted({n for n in part_names if part_names.count(n) > 1})
        )
        return problems

    # -- responses --------------------------------------------------------

    def validate_response(
        self,
        operation_id: str,
        status: int,
        headers: Mapping[str, str],
        body: bytes | str | object,
        *,
        allow_generic_errors: bool = True,
    ) -> list[str]:
        """How a response departs from what the spec documents for the operation.

        ``body`` is the raw body (bytes or text, parsed as JSON) or an already
        parsed JSON value. Declared response headers must be present (the
        ``x-cloud-resource-created``/``-last-modified`` ones as ISO date-times);
        ``x-cloud-error-codes`` must list the codes of the body's errors, each in
        the header's enum. With ``allow_generic_errors``, an undocumented error
        status is accepted when it is a ``BasicFailedReply`` carrying only generic
        ``root.*`` codes (ECE answers those on every operation).
        """
        operation = self.operation(operation_id)
        responses: Mapping[str, Any] = operation.definition["responses"]
        lowered = {name.lower(): value for name, value in headers.items()}
        problems: list[str] = []

        instance: object = body
        if isinstance(body, bytes | str):
            try:
                instance = json.loads(body)
            except ValueError:
                return [f"{status}: the body is not JSON"]

        response = responses.get(str(status), responses.get("default"))
        if response is None:
            if allow_generic_errors and status >= 400 and _generic_codes_only(instance):
                response = {
                    "schema": {"$ref": "#/definitions/BasicFailedReply"},
                    "headers": {ERROR_CODES_HEADER: {"type": "string"}},
                }
            else:
                return [f"status {status} is not documented for {operation_id}"]

        media = media_type(lowered.get("content-type"))
        if operation.produces and media not in operation.produces:
            problems.append(f"Content-Type {media or 'none'!r} is not one of {operation.produces}")

        schema = response.get("schema")
        if schema is not None:
            problems.extend(
                f"body {name or '(root)'}: {message}"
                for name, message in _describe(self._validator(schema).iter_errors(instance))
            )

        for name, declared in response.get("headers", {}).items():
            value = lowered.get(name.lower())
            if value is None:
                problems.append(f"header {name} is missing")
            elif name.lower() == ERROR_CODES_HEADER:
                problems.extend(_check_error_codes(value, declared.get("enum"), instance))
            elif name.lower() in _TIMESTAMP_HEADERS:
                try:
                    _check_date_time(value)
                except ValueError:
                    problems.append(f"header {name} is not an ISO date-time: {value!r}")
        return [f"{status}: {problem}" for problem in problems]

    # -- schemas ----------------------------------------------------------

    def _validator(self, schema: Mapping[str, Any]) -> Any:
        document = {"allOf": [schema], "definitions": self._definitions}
        return jsonschema.Draft4Validator(document, format_checker=_FORMATS)

    def _resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        ref = schema.get("$ref")
        prefix = "#/definitions/"
        if isinstance(ref, str) and ref.startswith(prefix):
            resolved: Mapping[str, Any] = self._definitions[ref[len(prefix) :]]
            return resolved
        return schema


def _describe(errors: Iterable[Any]) -> list[tuple[str | None, str]]:
    """(field, message) for each schema error, one per missing required property."""
    described: dict[tuple[str | None, str], None] = {}
    for error in errors:
        path = [str(part) for part in error.absolute_path]
        if error.validator == "required" and isinstance(error.instance, dict):
            for name in error.validator_value:
                if name not in error.instance:
                    described[".".join([*path, name]), "is required"] = None
        else:
            described[".".join(path) or None, error.message] = None
    return list(described)


def _body_codes(instance: object) -> list[str] | None:
    if not isinstance(instance, dict) or not isinstance(instance.get("errors"), list):
        return None
    return [str(e.get("code")) for e in instance["errors"] if isinstance(e, dict)]


def _generic_codes_only(instance: object) -> bool:
    codes = _body_codes(instance)
    return bool(codes) and all(code.startswith(GENERIC_CODE_PREFIX) for code in codes or ())


def _check_error_codes(value: str, enum: Sequence[str] | None, instance: object) -> list[str]:
    codes = [code.strip() for code in value.split(",") if code.strip()]
    if not codes:
        return [f"header {ERROR_CODES_HEADER} is empty"]
    problems = [
        f"error code {code!r} is not documented for this response"
        for code in codes
        if enum and code not in enum and not code.startswith(GENERIC_CODE_PREFIX)
    ]
    body_codes = _body_codes(instance)
    if body_codes is not None and set(body_codes) != set(codes):
        problems.append(f"header {ERROR_CODES_HEADER} {codes} differs from the body's {body_codes}")
    return problems
