"""Optional parts of the install: what needs them, and how to tell people they are missing.

``pip install ece-extension-uploader`` gives the command line that works against
real AWS and ECE. The local stand-ins (moto server, the ECE emulator) behind
``ece-uploader sandbox`` and ``demo`` come with the ``sandbox`` extra; nothing
else imports them, so the light commands neither need nor load them.
"""

from __future__ import annotations

import importlib.util

SANDBOX_EXTRA = "ece-extension-uploader[sandbox]"
# The top-level modules the sandbox extra installs (flask comes with moto[server]).
SANDBOX_MODULES = ("moto", "flask", "werkzeug", "cryptography", "jsonschema")


def sandbox_extra_missing() -> str | None:
    """None when the sandbox's modules are installed, else a message saying what to install."""
    missing = [name for name in SANDBOX_MODULES if importlib.util.find_spec(name) is None]
    if not missing:
        return None
    return (
        f"the local stand-ins are not installed (missing: {', '.join(missing)}): "
        f"install {SANDBOX_EXTRA}, e.g. pip install '{SANDBOX_EXTRA}' "
        "or, from a checkout, pipx install '.[sandbox]'"
    )
