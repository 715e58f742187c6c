"""``make sam-check``: the template is deployable and the artifact ``sam build`` makes runs.

1. ``sam validate --lint`` and ``cfn-lint`` on ``template.yaml`` (tools from .venv-tools),
   and the dashboard body is valid JSON.
2. ``sam build`` with Python 3.13 (Lambda's runtime) on PATH as ``python3.13``, from the
   hashed lock ``functions/requirements.txt``. Where no Python 3.13 exists this says so
   and skips steps 2 to 5 only.
3. Bytecode compiled into the artifact (what a deploy should ship: no compile at cold
   start), then every ``.so`` checked: x86-64, CPython 3.13 ABI, no glibc symbol newer
   than 2.34 (Amazon Linux 2023, the python3.13 runtime).
4. The artifact's size, and its cold import time against a bare ``import boto3``, each
   in fresh, isolated Python 3.13 interpreters that see only the standard library and
   the build folder.
5. The handler, imported from the build folder the same way (as ``/var/task``), runs on
   an S3 ObjectCreated event against the local sandbox (moto and the ECE emulator,
   ``ece-uploader sandbox``), with the sandbox's ``env`` as the function's environment;
   the object must end tagged ``ece-upload-status=uploaded``.

Exits non-zero on any failure. Run it with the project's .venv Python (boto3 and the
sample zips come from there).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
TOOLS_BIN = ROOT / ".venv-tools" / "bin"
VENV_BIN = ROOT / ".venv" / "bin"
FUNCTION = "UploaderFunction"
BUILD = ROOT / ".aws-sam" / "build" / FUNCTION
REGION = "us-east-1"
MAX_GLIBC = (2, 34)  # Amazon Linux 2023 (python3.13 runtime)
MAX_UNZIPPED_BYTES = 262_144_000  # Lambda's limit for a function's unzipped code
IMPORT_RUNS = 5
SANDBOX_START_SECONDS = 120
TEST_KEY = "bundles/sam-check synonyms.zip"  # a space: the event URL-encodes it as S3 does

# Runs inside the clean interpreter. ``-I`` ignores PYTHONPATH (and every PYTHON*
# variable), and ``-S`` leaves out site-packages, so the build folder is put first on
# sys.path by hand, as Lambda's bootstrap does for /var/task.
RUNNER = r"""
import json, sys, time
task_root, mode, out = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, task_root)
started = time.perf_counter()
if mode == "boto3":
    import boto3
    report = {"import_s": time.perf_counter() - started, "boto3": boto3.__file__}
else:
    from extension_uploader.app import lambda_handler
    import boto3
    report = {"import_s": time.perf_counter() - started, "boto3": boto3.__file__}
    outside = sorted(
        name for name, module in list(sys.modules.items())
        if (getattr(module, "__file__", None) or "").startswith(sys.base_prefix + "/lib/")
        and "site-packages" in module.__file__
    )
    report["from_site_packages"] = outside
    if mode == "invoke":
        event = json.loads(open(sys.argv[4]).read())

        class Context:
            function_name = "ece-extension-uploader-sam-check"
            function_version = "$LATEST"
            invoked_function_arn = (
                "arn:aws:lambda:us-east-1:123456789012:function:ece-extension-uploader-sam-check"
            )
            memory_limit_in_mb = 1024
            aws_request_id = "00000000-0000-4000-8000-000000000000"
            log_group_name = "/aws/lambda/ece-extension-uploader-sam-check"
            log_stream_name = "sam-check"

            def __init__(self):
                self._deadline = time.monotonic() + 900

            def get_remaining_time_in_millis(self):
                return int((self._deadline - time.monotonic()) * 1000)

        report["result"] = lambda_handler(event, Context())
with open(out, "w") as handle:
    json.dump(report, handle, default=str)
"""


class CheckFailed(Exception):
    pass


def main() -> int:
    started = time.monotonic()
    try:
        check_template()
        python = find_python313()
        if python is None:
            print(
                "\nsam-check: no Python 3.13 here (looked for python3.13 on PATH and in "
                "~/.pyenv/versions/3.13.*): sam build and the artifact checks skipped"
            )
            return 0
        build(python)
        check_shared_objects()
        sizes = artifact_sizes()
        with Sandbox() as sandbox:
            imports = import_times(python, sandbox.env)
            run_handler(python, sandbox)
    except CheckFailed as failure:
        print(f"\nsam-check FAILED: {failure}", file=sys.stderr)
        return 1
    print("\n== summary")
    print(f"artifact  {sizes}")
    print(f"imports   {imports}")
    print(f"sam-check passed in {time.monotonic() - started:.0f} s")
    return 0


# --------------------------------------------------------------------- steps


def check_template() -> None:
    for tool in ("sam", "cfn-lint"):
        if not (TOOLS_BIN / tool).exists():
            raise CheckFailed(f"{TOOLS_BIN / tool} is missing: run `make tools`")
    step("sam validate --lint")
    run([str(TOOLS_BIN / "sam"), "validate", "--lint", "--region", REGION, "-t", str(TEMPLATE)])
    step("cfn-lint")
    run([str(TOOLS_BIN / "cfn-lint"), str(TEMPLATE)])
    step("dashboard body")
    check_dashboard()


def check_dashboard() -> None:
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node, deep=True)
        if isinstance(node, yaml.MappingNode):
            return loader.construct_mapping(node, deep=True)
        return loader.construct_scalar(node)  # type: ignore[arg-type]

    Loader.add_multi_constructor("!", intrinsic)
    template = yaml.load(TEMPLATE.read_text(), Loader=Loader)  # noqa: S506 - SafeLoader subclass
    body = template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]
    text = body[0] if isinstance(body, list) else body
    try:
        widgets = json.loads(re.sub(r"\$\{[^}]+\}", "x", text))["widgets"]
    except (ValueError, KeyError) as error:
        raise CheckFailed(f"the dashboard body is not valid JSON: {error}") from None
    print(f"{len(widgets)} widgets")


def find_python313() -> Path | None:
    candidates = sorted(
        Path.home().glob(".pyenv/versions/3.13.*/bin/python3.13"),
        key=lambda p: [int(n) for n in re.findall(r"\d+", p.parent.parent.name)],
        reverse=True,
    )
    on_path = shutil.which("python3.13")
    if on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        try:
            found = subprocess.run(  # noqa: S603 - our own probe of a local interpreter
                [str(candidate), "-c", "import sys; print(sys.executable); print(sys.version)"],
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            ).stdout.splitlines()
        except (OSError, subprocess.SubprocessError):
            continue  # e.g. a pyenv shim whose version is not selected
        if found and found[1].startswith("3.13."):
            return Path(found[0])
    return None


def build(python: Path) -> None:
    step(f"sam build with {python}")
    probe = subprocess.run(  # noqa: S603
        [str(python), "-m", "pip", "--version"], capture_output=True, text=True, check=False
    )
    if probe.returncode != 0:
        raise CheckFailed(f"{python} has no pip, which sam build needs")
    with tempfile.TemporaryDirectory(prefix="sam-check-bin-") as bin_dir:
        (Path(bin_dir) / "python3.13").symlink_to(python)
        env = {
            **os.environ,
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            "SAM_CLI_TELEMETRY": "0",
        }
        # --no-cached: samconfig.toml's cache is for people; the check builds afresh.
        run([str(TOOLS_BIN / "sam"), "build", "--no-cached", "-t", str(TEMPLATE)], env=env)
    if not (BUILD / "extension_uploader" / "app.py").exists():
        raise CheckFailed(f"sam build left no {BUILD}/extension_uploader/app.py")
    step("bytecode into the artifact")
    run(
        [
            str(python),
            "-m",
            "compileall",
            "-q",
            "-j0",
            "--invalidation-mode",
            "unchecked-hash",
            str(BUILD),
        ]
    )


def check_shared_objects() -> None:
    step(f"shared objects: x86-64, CPython 3.13, glibc <= {'.'.join(map(str, MAX_GLIBC))}")
    objdump = shutil.which("objdump")
    if objdump is None:
        raise CheckFailed("objdump is missing (binutils): cannot check the .so files")
    libraries = sorted(p for p in BUILD.rglob("*.so*") if p.is_file() and ".so" in p.name)
    problems = []
    newest: tuple[int, ...] = (0,)
    for library in libraries:
        name = library.relative_to(BUILD)
        header = library.read_bytes()[:20]
        if header[:4] != b"\x7fELF" or int.from_bytes(header[18:20], "little") != 62:
            problems.append(f"{name}: not an x86-64 ELF file")
            continue
        abi = re.search(r"\.cpython-(\d+)", library.name)
        if abi and abi.group(1) != "313":
            problems.append(f"{name}: built for CPython {abi.group(1)}, not 313")
        symbols = run([objdump, "-T", str(library)], quiet=True)
        versions = {
            tuple(int(n) for n in v.split("."))
            for v in re.findall(r"GLIBC_(\d+(?:\.\d+)+)", symbols)
        }
        needed = max(versions, default=(0,))
        newest = max(newest, needed)
        shown = ".".join(map(str, needed)) if versions else "none"
        print(f"  glibc {shown:<6} {name}")
        if needed > MAX_GLIBC:
            problems.append(f"{name}: needs glibc {shown}")
    if problems:
        raise CheckFailed("; ".join(problems))
    print(f"{len(libraries)} shared objects, newest glibc symbol {'.'.join(map(str, newest))}")


def artifact_sizes() -> str:
    step("artifact size")
    files = [p for p in BUILD.rglob("*") if p.is_file()]
    unzipped = sum(p.stat().st_size for p in files)
    with tempfile.TemporaryDirectory(prefix="sam-check-zip-") as tmp:
        archive = Path(tmp) / "function.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
            for path in files:
                zipped.write(path, path.relative_to(BUILD))
        zipped_size = archive.stat().st_size
    summary = (
        f"{unzipped / 2**20:.1f} MiB unzipped in {len(files)} files "
        f"(Lambda allows {MAX_UNZIPPED_BYTES / 2**20:.0f} MiB), "
        f"{zipped_size / 2**20:.1f} MiB zipped"
    )
    print(summary)
    if unzipped > MAX_UNZIPPED_BYTES:
        raise CheckFailed(f"the artifact is too large: {summary}")
    return summary


def import_times(python: Path, env: dict[str, str]) -> str:
    step(f"cold imports, best of {IMPORT_RUNS} fresh interpreters (with bytecode)")
    timings: dict[str, list[float]] = {"boto3": [], "handler": []}
    for _ in range(IMPORT_RUNS):
        for mode, seconds in timings.items():
            report = run_isolated(python, mode, env)
            seconds.append(report["import_s"])
            if mode == "handler" and report["from_site_packages"]:
                raise CheckFailed(f"imported outside the artifact: {report['from_site_packages']}")
            if not str(report["boto3"]).startswith(str(BUILD)):
                raise CheckFailed(f"boto3 came from {report['boto3']}, not the artifact")
    handler, boto3 = min(timings["handler"]), min(timings["boto3"])
    summary = (
        f"handler {handler * 1000:.0f} ms, bare boto3 {boto3 * 1000:.0f} ms "
        f"({handler / boto3:.1f}x; median {statistics.median(timings['handler']) * 1000:.0f} "
        f"vs {statistics.median(timings['boto3']) * 1000:.0f} ms)"
    )
    print(summary)
    return summary


def run_handler(python: Path, sandbox: Sandbox) -> None:
    step("handler on an S3 ObjectCreated event, against the sandbox")
    from ece_uploader.samples import bundle_zip

    info, env = sandbox.info, sandbox.env
    bundle = next(
        (e for e in info["extensions"].values() if e.get("extension_type") == "bundle"), None
    )
    if bundle is None:
        raise CheckFailed(f"the sandbox made no bundle extension: {info['extensions']}")
    tag = env.get("EXTENSION_ID_TAG") or "ece-extension-id"
    body = bundle_zip()
    s3 = sandbox.s3()
    put = s3.put_object(
        Bucket=info["bucket"],
        Key=TEST_KEY,
        Body=body,
        Tagging=f"{quote_plus(tag)}={quote_plus(str(bundle['id']))}",
    )
    version = put.get("VersionId")
    event = {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": env.get("AWS_REGION", REGION),
                "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "sam-check",
                    "bucket": {
                        "name": info["bucket"],
                        "arn": f"arn:aws:s3:::{info['bucket']}",
                    },
                    "object": {
                        "key": quote_plus(TEST_KEY),
                        "size": len(body),
                        "eTag": put["ETag"].strip('"'),
                        **({"versionId": version} if version else {}),
                        "sequencer": f"{time.time_ns():X}",
                    },
                },
            }
        ]
    }
    report = run_isolated(python, "invoke", env, event=event)
    print(f"handler returned {json.dumps(report.get('result'))[:400]}")
    address: dict[str, Any] = {"Bucket": info["bucket"], "Key": TEST_KEY}
    if version:
        address["VersionId"] = version
    tags = {t["Key"]: t["Value"] for t in s3.get_object_tagging(**address)["TagSet"]}
    print(f"tags on {TEST_KEY!r} ({version}): {tags}")
    if tags.get("ece-upload-status") != "uploaded":
        raise CheckFailed(
            f"the object is not tagged ece-upload-status=uploaded: {tags}; "
            f"sandbox log: {sandbox.log_path}"
        )


# ------------------------------------------------------------------- helpers


def run_isolated(
    python: Path, mode: str, env: dict[str, str], event: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One fresh interpreter: stdlib and the build folder only, the given environment."""
    with tempfile.TemporaryDirectory(prefix="sam-check-run-") as tmp:
        out = Path(tmp) / "report.json"
        argv = [str(python), "-I", "-S", "-c", RUNNER, str(BUILD), mode, str(out)]
        if event is not None:
            (Path(tmp) / "event.json").write_text(json.dumps(event))
            argv.append(str(Path(tmp) / "event.json"))
        # Verbatim: the sandbox's env is the function's environment. Only what the Lambda
        # platform itself sets is added.
        child_env = {
            **env,
            "LAMBDA_TASK_ROOT": str(BUILD),
            "AWS_LAMBDA_FUNCTION_NAME": "ece-extension-uploader-sam-check",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        }
        completed = subprocess.run(  # noqa: S603 - our own runner in our own interpreter
            argv, cwd=BUILD, env=child_env, capture_output=True, text=True, check=False
        )
        if completed.returncode != 0 or not out.exists():
            raise CheckFailed(
                f"the {mode} run failed (exit {completed.returncode}):\n"
                f"{completed.stdout[-4000:]}\n{completed.stderr[-4000:]}"
            )
        if mode == "invoke":
            print(_tail(completed.stdout + completed.stderr, 12))
        report: dict[str, Any] = json.loads(out.read_text())
        return report


class Sandbox:
    """``ece-uploader sandbox`` in the background, stopped (SIGINT, by its pid) on exit."""

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="sam-check-sandbox-")
        self.info_path = Path(self._tmp.name) / "sandbox.json"
        self.log_path = Path(tempfile.gettempdir()) / "sam-check-sandbox.log"
        self._process: subprocess.Popen[bytes] | None = None
        self.info: dict[str, Any] = {}

    @property
    def env(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.info["env"].items()}

    def s3(self) -> Any:
        import boto3

        env = self.env
        return boto3.client(
            "s3",
            endpoint_url=self.info["aws_endpoint_url"],
            region_name=env.get("AWS_REGION", REGION),
            aws_access_key_id=env.get("AWS_ACCESS_KEY_ID", "testing"),
            aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY", "testing"),
            aws_session_token=env.get("AWS_SESSION_TOKEN"),
        )

    def __enter__(self) -> Sandbox:
        step("sandbox")
        command = [str(VENV_BIN / "ece-uploader"), "sandbox", "--info", str(self.info_path)]
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(  # noqa: S603
                command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True
            )
        deadline = time.monotonic() + SANDBOX_START_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self.__exit__()
                raise CheckFailed(f"the sandbox exited early: {_tail(self._read_log(), 20)}")
            if self.info_path.exists():
                try:
                    self.info = json.loads(self.info_path.read_text())
                    break
                except ValueError:
                    pass  # still being written
            time.sleep(0.2)
        else:
            self.__exit__()
            raise CheckFailed(f"the sandbox did not start in {SANDBOX_START_SECONDS} s")
        print(f"sandbox up: AWS {self.info['aws_endpoint_url']}, ECE {self.info['ece_api_url']}")
        return self

    def __exit__(self, *exc: object) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
            print("sandbox stopped")
        self._tmp.cleanup()

    def _read_log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def step(title: str) -> None:
    print(f"\n== {title}", flush=True)


def run(argv: list[str], env: dict[str, str] | None = None, quiet: bool = False) -> str:
    completed = subprocess.run(  # noqa: S603 - fixed tools, our arguments
        argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    output = (completed.stdout + completed.stderr).strip()
    if completed.returncode != 0:
        raise CheckFailed(f"{' '.join(argv[:3])} ... exited {completed.returncode}:\n{output}")
    if output and not quiet:
        print(_tail(output, 40))
    return completed.stdout


def _tail(text: str, lines: int) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


if __name__ == "__main__":
    sys.exit(main())
