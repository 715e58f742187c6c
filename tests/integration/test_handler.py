"""The Lambda entry point itself: environment, context, EMF metrics on stdout."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ece_uploader.emulator import EceEmulator
from ece_uploader.local import invoke, read_function
from ece_uploader.samples import bundle_zip, traversal_zip
from extension_uploader.app import RetryableEventError
from extension_uploader.telemetry import metrics

from .conftest import TAG, Put, s3_event

ROOT = Path(__file__).resolve().parents[2]
SPEC = read_function(ROOT / "template.yaml")


def emf_blobs(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith('{"_aws"')]


def values(field: Any) -> list[float]:
    """EMF writes one value as a number and several as a list."""
    return field if isinstance(field, list) else [field]


def test_handler_emits_emf_metrics_with_low_cardinality_dimensions(
    put: Callable[..., Put],
    ece: EceEmulator,
    bundle: str,
    function_env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    metrics.clear_metrics()
    other = str(ece.create_extension(name="other", extension_type="bundle", version="*")["id"])
    good = put("metrics/good.zip", bundle_zip(), {TAG: bundle})
    bad = put("metrics/bad.zip", traversal_zip(), {TAG: other})
    env = function_env

    result = invoke(s3_event(good, bad), SPEC, env)

    assert [r["status"] for r in result["results"]] == ["uploaded", "rejected"]
    blobs = emf_blobs(capsys.readouterr().out)
    main = [b for b in blobs if "Uploaded" in b]
    assert len(main) == 1
    [directive] = main[0]["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "ECEExtensionUploader"
    assert directive["Dimensions"] == [["service"]]
    names = {metric["Name"]: metric["Unit"] for metric in directive["Metrics"]}
    assert names == {
        "Uploaded": "Count",
        "Rejected": "Count",
        "ProcessingTime": "Milliseconds",
        "UploadedBytes": "Bytes",
    }
    assert values(main[0]["Uploaded"]) == [1.0] and values(main[0]["Rejected"]) == [1.0]
    assert values(main[0]["UploadedBytes"]) == [len(bundle_zip())]
    assert len(values(main[0]["ProcessingTime"])) == 2
    [by_reason] = [b for b in blobs if "RejectedByReason" in b]
    assert by_reason["reason"] == "zip.unsafe_path"
    assert by_reason["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service", "reason"]]
    for blob in blobs:  # keys and extension ids never become dimensions
        assert bundle not in json.dumps(blob["_aws"]) and "metrics/" not in json.dumps(blob)


def test_handler_picks_up_a_changed_environment(
    put: Callable[..., Put], ece: EceEmulator, bundle: str, function_env: dict[str, str]
) -> None:
    obj = put("env/x.zip", bundle_zip(), {TAG: bundle})
    env = function_env
    dry = invoke(s3_event(obj), SPEC, env | {"DRY_RUN": "true"})
    assert dry["results"][0]["reason"] == "upload.dry_run"
    real = invoke(s3_event(obj), SPEC, env)
    assert real["results"][0]["status"] == "uploaded"


@pytest.mark.filterwarnings("ignore:No application metrics to publish")  # raised before any
def test_missing_settings_fail_loudly(bucket: str) -> None:
    with pytest.raises(ValueError, match="ECE_API_URL"):
        invoke({"Records": []}, SPEC, {"ECE_SECRET_ID": "x"})


def test_malformed_event_is_counted_by_reason_and_raised(
    function_env: dict[str, str], ece: EceEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    metrics.clear_metrics()
    env = function_env
    with pytest.raises(RetryableEventError):
        invoke(
            {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put"}]},
            SPEC,
            env,
        )
    blobs = emf_blobs(capsys.readouterr().out)
    [by_reason] = [b for b in blobs if "FailedByReason" in b]
    assert by_reason["reason"] == "event.malformed"
    assert any(values(b.get("Failed", [])) == [1.0] for b in blobs if "Failed" in b)


def test_a_temporary_folder_too_small_for_the_largest_zip_is_warned_at_cold_start(
    make_runtime: Callable[..., Any], function_logs: Callable[[], list[dict[str, Any]]]
) -> None:
    free = shutil.disk_usage(tempfile.gettempdir()).free
    make_runtime({"MAX_ZIP_BYTES": str(free)})  # twice that cannot fit
    make_runtime({"MAX_ZIP_BYTES": "1024"})
    warnings = [line for line in function_logs() if "temporary folder" in line["message"]]
    assert len(warnings) == 1 and warnings[0]["max_zip_bytes"] == free
