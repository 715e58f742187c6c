"""Sample archives for the demo and the tests: legitimate and broken ones."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

FIXED_TIME = (2026, 11, 28, 9, 15, 0)


def _zip(entries: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = method
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def bundle_zip() -> bytes:
    """A synonyms bundle in the conventional layout."""
    return _zip(
        {
            "dictionaries/synonyms.txt": b"laptop, notebook\nsofa, couch, settee\n" * 20,
            "dictionaries/stopwords.txt": b"a\nan\nthe\n",
        }
    )


def plugin_zip(es_version: str = "8.15.0", name: str = "analysis-demo") -> bytes:
    """A classic plugin: descriptor at the root and a jar."""
    descriptor = (
        f"description=A sample analysis plugin\nversion=1.0.0\nname={name}\n"
        f"classname=org.example.analysis.DemoPlugin\njava.version=17\n"
        f"elasticsearch.version={es_version}\n"
    ).encode()
    jar = _zip(
        {
            "META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\r\nCreated-By: ece-uploader\r\n\r\n",
            "org/example/analysis/DemoPlugin.class": bytes(range(256)) * 4,
        }
    )
    return _zip({"plugin-descriptor.properties": descriptor, f"{name}-1.0.0.jar": jar})


def traversal_zip() -> bytes:
    """An entry that would escape the extraction directory."""
    return _zip({"dictionaries/ok.txt": b"fine\n", "../../config/evil.yml": b"owned: true\n"})


def corrupt_zip() -> bytes:
    """A stored entry whose bytes no longer match its CRC-32."""
    data = bytearray(_zip({"dictionaries/words.txt": b"hello world\n" * 50}, zipfile.ZIP_STORED))
    offset = data.index(b"hello world")
    data[offset] ^= 0xFF
    return bytes(data)


@dataclass(frozen=True)
class DemoSample:
    key: str
    data: bytes
    # name of a sandbox extension, "unknown", "not-allowed", or None for no tag
    extension: str | None
    expected_status: str
    expected_reason: str


UNKNOWN_EXTENSION_ID = "9999999999"
NOT_ALLOWED_EXTENSION_ID = "1111111111"  # outside the sandbox's ALLOWED_EXTENSION_IDS


def demo_samples() -> list[DemoSample]:
    return [
        DemoSample("bundles/synonyms v1.zip", bundle_zip(), "synonyms", "uploaded", "ok"),
        DemoSample(
            "plugins/analysis-demo+8.15.0.zip", plugin_zip(), "analysis-demo", "uploaded", "ok"
        ),
        DemoSample(
            "incoming/untagged.zip", bundle_zip(), None, "rejected", "tag.missing_extension_id"
        ),
        DemoSample(
            "incoming/traversal 100%.zip",
            traversal_zip(),
            "synonyms",
            "rejected",
            "zip.unsafe_path",
        ),
        DemoSample(
            "incoming/corrupt-données.zip", corrupt_zip(), "synonyms", "rejected", "zip.corrupt"
        ),
        DemoSample(
            "incoming/unknown-extension.zip",
            bundle_zip(),
            "unknown",
            "failed",
            "ece.extensions.not_found",
        ),
        DemoSample(
            "incoming/not-allowed.zip",
            bundle_zip(),
            "not-allowed",
            "rejected",
            "tag.extension_not_allowed",
        ),
    ]
