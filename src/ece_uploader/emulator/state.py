"""The emulator's state: credentials, extensions, stored files and the logs.

Every method is safe to call from any thread. Extensions handed out are copies.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
import secrets
import threading
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

from .body import SpooledFile
from .faults import FaultScript
from .models import ExtensionState, RequestRecord, StoredFile, UploadMode, UploadRecord, utc_now

_ID_LOW = 10**9
_ID_SPAN = 9 * 10**9
_TICK = dt.timedelta(milliseconds=1)
# Passed to update_extension for a field the request left out.
KEEP = object()


class EmulatorState:
    """Extensions, their files, credentials, faults and the request log."""

    def __init__(
        self,
        files_dir: Path,
        *,
        api_keys: Iterable[str] = (),
        basic_users: Mapping[str, str] | None = None,
    ) -> None:
        self.files_dir = files_dir
        self.faults = FaultScript()
        self._lock = threading.Lock()
        self._extensions: dict[str, ExtensionState] = {}
        self._uploads: list[UploadRecord] = []
        self._requests: list[RequestRecord] = []
        self._violations: list[str] = []
        self._api_keys: tuple[bytes, ...] = ()
        self._basic_users: dict[str, bytes] = {}
        self.set_api_keys(api_keys)
        self.set_basic_users(basic_users or {})

    # -- credentials ------------------------------------------------------

    def set_api_keys(self, keys: Iterable[str]) -> None:
        """Replace the accepted API keys; the old ones stop working at once."""
        self._api_keys = tuple(key.encode() for key in keys if key)

    def set_basic_users(self, users: Mapping[str, str]) -> None:
        """Replace the accepted basic-auth users (name to password)."""
        self._basic_users = {name: password.encode() for name, password in users.items()}

    def authenticate(self, header: str | None) -> tuple[str | None, bool]:
        """(scheme shown in the log, accepted?) for an ``Authorization`` header."""
        if not header:
            return None, False
        scheme, _, value = header.strip().partition(" ")
        credentials = value.strip().encode()
        if scheme.lower() == "apikey":
            keys = self._api_keys
            return "ApiKey", any(hmac.compare_digest(credentials, key) for key in keys)
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credentials, validate=True)
            except (ValueError, binascii.Error):
                return "Basic", False
            user, sep, password = decoded.partition(b":")
            expected = self._basic_users.get(user.decode("utf-8", "replace"))
            ok = bool(sep) and expected is not None and hmac.compare_digest(password, expected)
            return "Basic", ok
        return "unknown", False

    # -- extensions -------------------------------------------------------

    def create_extension(
        self,
        *,
        name: str,
        extension_type: str,
        version: str,
        description: str | None = None,
        download_url: str | None = None,
        file: SpooledFile | None = None,
    ) -> ExtensionState:
        with self._lock:
            extension_id = self._new_id()
            now = utc_now()
            extension = ExtensionState(
                id=extension_id,
                name=name,
                extension_type=extension_type,
                version=version,
                created=now,
                modified=now,
                description=description,
                download_url=download_url,
            )
            if file is not None:
                extension.file = self._store(extension_id, file, now)
            self._extensions[extension_id] = extension
            return replace(extension)

    def get_extension(self, extension_id: str) -> ExtensionState | None:
        with self._lock:
            extension = self._extensions.get(extension_id)
            return None if extension is None else replace(extension)

    def list_extensions(self) -> list[ExtensionState]:
        with self._lock:
            return [replace(e) for e in self._extensions.values()]

    def update_extension(
        self,
        extension_id: str,
        *,
        name: str,
        extension_type: str,
        version: str,
        description: str | object | None = KEEP,
        download_url: str | object | None = KEEP,
        file: SpooledFile | None = None,
    ) -> ExtensionState | None:
        """Replace the metadata; ``description``/``download_url`` left out are kept."""
        with self._lock:
            extension = self._extensions.get(extension_id)
            if extension is None:
                if file is not None:
                    file.discard()
                return None
            moment = _after(extension.modified)
            extension.name = name
            extension.extension_type = extension_type
            extension.version = version
            if description is not KEEP:
                extension.description = description if isinstance(description, str) else None
            if download_url is not KEEP:
                extension.download_url = download_url if isinstance(download_url, str) else None
            old = extension.file
            if file is not None:
                extension.file = self._store(extension_id, file, moment)
            extension.modified = moment
            extension.resource_version += 1
            result = replace(extension)
        if file is not None and old is not None:
            old.path.unlink(missing_ok=True)
        return result

    def commit_upload(
        self,
        extension_id: str,
        file: SpooledFile,
        *,
        mode: UploadMode,
        filename: str | None,
        content_type: str | None,
    ) -> ExtensionState | None:
        """Make ``file`` the extension's file; None (file dropped) if it is gone."""
        with self._lock:
            extension = self._extensions.get(extension_id)
            if extension is None:
                file.discard()
                return None
            moment = _after(extension.modified)
            old = extension.file
            extension.file = self._store(extension_id, file, moment)
            extension.modified = moment
            extension.resource_version += 1
            self._uploads.append(
                UploadRecord(
                    extension_id=extension_id,
                    size=file.size,
                    sha256=file.sha256,
                    mode=mode,
                    filename=filename,
                    content_type=content_type,
                    received_at=moment,
                )
            )
            result = replace(extension)
        if old is not None:
            old.path.unlink(missing_ok=True)
        return result

    def delete_extension(self, extension_id: str) -> ExtensionState | None:
        with self._lock:
            extension = self._extensions.pop(extension_id, None)
        if extension is not None and extension.file is not None:
            extension.file.path.unlink(missing_ok=True)
        return extension

    def open_file(self, extension_id: str, token: str | None = None) -> tuple[BinaryIO, int] | None:
        """An open handle on the extension's stored file and its size.

        With ``token``, only if it is the token of the current download URL.
        """
        with self._lock:
            extension = self._extensions.get(extension_id)
            stored = None if extension is None else extension.file
            if stored is None or (token is not None and token != stored.token):
                return None
            return stored.path.open("rb"), stored.size

    def stored_path(self, extension_id: str) -> Path | None:
        with self._lock:
            extension = self._extensions.get(extension_id)
            return None if extension is None or extension.file is None else extension.file.path

    # -- logs -------------------------------------------------------------

    def record_request(self, record: RequestRecord) -> None:
        with self._lock:
            self._requests.append(record)

    def add_violations(self, violations: Iterable[str]) -> None:
        with self._lock:
            self._violations.extend(violations)

    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return [
                replace(r, query=dict(r.query), headers=dict(r.headers)) for r in self._requests
            ]

    def violations(self) -> list[str]:
        with self._lock:
            return list(self._violations)

    def uploads(self, extension_id: str | None = None) -> list[UploadRecord]:
        with self._lock:
            return [u for u in self._uploads if extension_id in (None, u.extension_id)]

    def reset(self) -> None:
        """Forget extensions, files, logs and faults (credentials stay)."""
        with self._lock:
            files = [e.file for e in self._extensions.values() if e.file is not None]
            self._extensions.clear()
            self._uploads.clear()
            self._requests.clear()
            self._violations.clear()
        self.faults.clear()
        for stored in files:
            stored.path.unlink(missing_ok=True)

    # -- helpers (lock held) ----------------------------------------------

    def _new_id(self) -> str:
        while True:
            candidate = str(_ID_LOW + secrets.randbelow(_ID_SPAN))
            if candidate not in self._extensions:
                return candidate

    def _store(self, extension_id: str, file: SpooledFile, moment: dt.datetime) -> StoredFile:
        target = self.files_dir / f"{extension_id}-{secrets.token_hex(6)}.zip"
        file.path.replace(target)
        return StoredFile(target, file.size, file.sha256, moment, secrets.token_urlsafe(16))


def _after(previous: dt.datetime) -> dt.datetime:
    """Now, or a millisecond after ``previous`` if the clock has not moved past it."""
    now = utc_now()
    return now if now > previous else previous + _TICK
