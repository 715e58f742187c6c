"""The command line installs on its own: the local stand-ins are an extra, loaded only by
``sandbox`` and ``demo``.

``pip install ece-extension-uploader`` (or ``pipx install .``) must give a working
``ece-uploader validate|publish|status|invoke|...`` without moto, werkzeug,
cryptography or jsonschema; ``[sandbox]`` adds them. Checked here without
building anything: pyproject is read, and the commands are imported and run in a
fresh interpreter where those modules cannot be imported at all.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

from ece_uploader.extras import SANDBOX_EXTRA, SANDBOX_MODULES

ROOT = Path(__file__).resolve().parents[2]
SANDBOX_ONLY = {"moto", "werkzeug", "cryptography", "jsonschema"}
LIGHT_MODULES = (
    "ece_uploader.cli",
    "ece_uploader.validate",
    "ece_uploader.commands.status",
    "ece_uploader.commands.publish",
)


def project() -> dict[str, Any]:
    document: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return document


def name_of(requirement: str) -> str:
    """``moto[server]==5.2.5`` -> ``moto``."""
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match, requirement
    return match.group(0).lower().replace("_", "-")


def run_python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


def test_the_stand_ins_are_the_sandbox_extra_not_dependencies() -> None:
    # Given pyproject's dependencies and extras
    meta = project()
    required = {name_of(r) for r in meta["dependencies"]}
    sandbox = {name_of(r) for r in meta["optional-dependencies"]["sandbox"]}
    # Then the stand-ins come only with [sandbox], and the command line's own needs stay
    assert sandbox >= SANDBOX_ONLY
    assert not required & sandbox
    assert {"boto3", "aws-lambda-powertools", "requests", "zipfile-deflate64", "pyyaml"} <= required


def test_the_command_line_pins_what_the_function_pins() -> None:
    # The CLI runs the function's own checks: the same versions, not a drifting copy.
    requirements = ROOT / "functions/extension_uploader/requirements.txt"
    pins = [
        line.strip()
        for line in requirements.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert pins
    assert set(pins) <= set(project()["dependencies"])


def test_every_package_is_in_the_distribution() -> None:
    # An editable install finds any package on disk; a wheel holds only those listed.
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    on_disk = set()
    for name, directory in setuptools["package-dir"].items():
        root = ROOT / directory
        for init in root.rglob("__init__.py"):
            relative = init.parent.relative_to(root).parts
            on_disk.add(".".join((name, *relative)))
    assert listed == on_disk


def test_the_function_needs_none_of_the_stand_ins() -> None:
    requirements = (ROOT / "functions/extension_uploader/requirements.txt").read_text()
    names = {name_of(line) for line in requirements.splitlines() if line.strip()[:1].isalnum()}
    assert not names & SANDBOX_ONLY


def test_the_extra_check_names_every_stand_in() -> None:
    assert set(SANDBOX_MODULES) >= SANDBOX_ONLY
    name = project()["name"]
    assert f"{name}[sandbox]" == SANDBOX_EXTRA


IMPORTED = """
import json, sys
for name in sys.argv[1:]:
    __import__(name)
print(json.dumps(sorted(sys.modules)))
"""


def test_light_commands_import_none_of_the_stand_ins() -> None:
    # When the CLI and the light commands are imported in a fresh interpreter
    done = run_python(IMPORTED, *LIGHT_MODULES)
    assert done.returncode == 0, done.stderr
    # Then none of the stand-ins' modules was loaded
    loaded = {name.split(".")[0] for name in json.loads(done.stdout)}
    assert not loaded & (SANDBOX_ONLY | set(SANDBOX_MODULES)), sorted(loaded & SANDBOX_ONLY)


# Runs the command line where the stand-ins cannot be imported (as after a plain
# `pip install .`): a None in sys.modules makes `import moto` fail.
WITHOUT_EXTRA = """
import contextlib, io, json, sys
for name in {blocked!r}:
    sys.modules[name] = None
from ece_uploader import cli

def run(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(argv)
        except SystemExit as exit:
            code = exit.code
    return {{"code": code, "stdout": out.getvalue(), "stderr": err.getvalue()}}

parser = cli.build_parser()
commands = sorted(parser._subparsers._group_actions[0].choices)
results = {{"commands": commands}}
results["help"] = {{command: run([command, "--help"])["code"] for command in commands}}
results["validate"] = run(["validate", sys.argv[1]])
results["sandbox"] = run(["sandbox"])
results["demo"] = run(["demo"])
print(json.dumps(results))
"""


def test_commands_work_without_the_sandbox_extra(tmp_path: Path) -> None:
    from ece_uploader.samples import bundle_zip

    # Given a zip, and an interpreter where the stand-ins are missing
    archive = tmp_path / "synonyms.zip"
    archive.write_bytes(bundle_zip())
    blocked = sorted(SANDBOX_ONLY | set(SANDBOX_MODULES))
    # When the commands run there
    done = run_python(WITHOUT_EXTRA.format(blocked=blocked), str(archive))
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    # Then every command parses, validate gives its verdict
    assert {"validate", "publish", "status", "invoke", "sandbox", "demo"} <= set(
        results["commands"]
    )
    assert results["help"] == dict.fromkeys(results["commands"], 0)
    assert results["validate"]["code"] == 0, results["validate"]
    assert "ACCEPTED" in results["validate"]["stdout"]
    # And sandbox and demo say what to install, and exit 2
    for command in ("sandbox", "demo"):
        assert results[command]["code"] == 2, results[command]
        assert results[command]["stderr"].startswith(f"ece-uploader {command}: ")
        assert f"install {SANDBOX_EXTRA}" in results[command]["stderr"]
