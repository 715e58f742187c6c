"""The packaged spec is what the extraction makes of ECE's full spec, and it stands alone."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from ece_uploader.emulator import default_spec, load_spec
from ece_uploader.emulator.spec_subset import (
    SERVED_OPERATIONS,
    SubsetError,
    extract_subset,
    main,
    render,
)

REPO = Path(__file__).resolve().parents[2]
# The shared copy of ECE's full API document sits beside the repository.
FULL_SPEC = Path(
    os.environ.get("ECE_FULL_SPEC", REPO.parent / "shared" / "ece-api" / "ece-apidocs-full.json")
)


def all_refs(node: object) -> list[str]:
    if isinstance(node, dict):
        return [
            ref
            for key, value in node.items()
            for ref in ([value] if key == "$ref" else all_refs(value))
        ]
    if isinstance(node, list):
        return [ref for item in node for ref in all_refs(item)]
    return []


def test_the_packaged_subset_is_extracted_from_the_full_spec() -> None:
    if not FULL_SPEC.is_file():
        pytest.skip(f"ECE's full spec is not at {FULL_SPEC} (set ECE_FULL_SPEC): not compared")
    full = json.loads(FULL_SPEC.read_text(encoding="utf-8"))

    assert load_spec() == extract_subset(full)


def test_the_packaged_subset_serves_what_the_emulator_serves() -> None:
    spec = load_spec()

    assert {
        template: tuple(m for m in item if m in {"get", "put", "post", "delete"})
        for template, item in spec["paths"].items()
    } == dict(SERVED_OPERATIONS)
    assert set(default_spec().operations) == {
        "list-extensions",
        "create-extension",
        "get-extension",
        "update-extension",
        "upload-extension",
        "delete-extension",
        "get-deployment",
        "update-deployment",
    }


def test_every_reference_of_the_packaged_subset_resolves() -> None:
    spec = load_spec()
    names = {ref.removeprefix("#/definitions/") for ref in all_refs(spec)}

    assert names <= set(spec["definitions"])
    assert {"DeploymentGetResponse", "DeploymentUpdateRequest", "ElasticsearchClusterPlan"} <= names


SMALL: dict[str, Any] = {
    "swagger": "2.0",
    "info": {"title": "t"},
    "host": "example",
    "basePath": "/api/v1",
    "paths": {
        "/a": {
            "get": {"responses": {"200": {"schema": {"$ref": "#/definitions/A"}}}},
            "delete": {"responses": {"200": {"schema": {"$ref": "#/definitions/Unused"}}}},
        },
        "/b": {"get": {"responses": {}}},
    },
    "definitions": {
        "A": {"properties": {"b": {"items": {"$ref": "#/definitions/B"}}}},
        "B": {"properties": {"a": {"$ref": "#/definitions/A"}}},
        "Unused": {},
    },
}


def test_the_extraction_keeps_the_served_methods_and_their_definitions() -> None:
    subset = extract_subset(SMALL, {"/a": ("get",)})

    assert subset == {
        "swagger": "2.0",
        "info": {"title": "t"},
        "basePath": "/api/v1",
        "paths": {"/a": {"get": SMALL["paths"]["/a"]["get"]}},
        "definitions": {"A": SMALL["definitions"]["A"], "B": SMALL["definitions"]["B"]},
    }


@pytest.mark.parametrize(
    ("served", "definitions", "problem"),
    [
        ({"/c": ("get",)}, SMALL["definitions"], "no path /c"),
        ({"/b": ("put",)}, SMALL["definitions"], "no ['put'] on /b"),
        ({"/a": ("get",)}, {"A": SMALL["definitions"]["A"]}, "no definition B"),
    ],
)
def test_the_extraction_refuses_an_incomplete_full_spec(
    served: dict[str, tuple[str, ...]], definitions: dict[str, Any], problem: str
) -> None:
    with pytest.raises(SubsetError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        extract_subset({**SMALL, "definitions": definitions}, served)


def test_the_command_writes_the_subset(tmp_path: Path) -> None:
    every_method = {m: {"responses": {}} for m in ("get", "put", "post", "delete")}
    full_doc = {**SMALL, "paths": {template: every_method for template in SERVED_OPERATIONS}}
    full = tmp_path / "full.json"
    full.write_text(json.dumps(full_doc), encoding="utf-8")
    target = tmp_path / "subset.json"

    assert main([str(full), str(target)]) == 0
    assert target.read_text(encoding="utf-8") == render(extract_subset(full_doc))
    assert "delete" not in json.loads(target.read_text())["paths"]["/deployments/{deployment_id}"]
