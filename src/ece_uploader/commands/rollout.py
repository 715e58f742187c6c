"""``ece-uploader rollout``: roll the deployments that use an extension onto its current file.

ECE fetches bundles and plugins only when a node starts: after the file of an
extension in use is replaced, running nodes keep the old one and any node that
restarts takes the new one. Elastic's advice is a no-op plan (the current plan,
unchanged), which rolls the deployment. This command issues it, opt-in.

Without ``--apply`` it is a dry run: for every deployment that uses the
extension (``--deployment`` narrows to some), it shows the Elasticsearch
resources, whether a plan is pending, the health, what it would submit, and asks
ECE to validate that request (``validate_only=true``). Nothing changes.

With ``--apply`` it submits the current plan of each deployment, one at a time,
and follows each plan to its end. It never cancels a plan: a deployment with a
plan pending is waited for (``--wait``) or skipped. It stops at the first
failure (a refused update, a plan that ended failed, a timeout) and says which
deployments were rolled, which failed and which were not attempted.

Exit 0: every deployment rolled (or, dry run, every request validated);
1: a failure, a refusal, a skipped deployment; 2: usage, or ECE could not say
which deployments use the extension.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ece_uploader.commands.common import (
    EXIT_NEGATIVE,
    EXIT_OK,
    Context,
    UsageError,
    add_common_arguments,
    fail,
    print_json,
    print_table,
)

if TYPE_CHECKING:
    from ece_uploader.deployments import Deployment, DeploymentsClient

COMMAND = "rollout"
COLUMNS = (
    "deployment",
    "name",
    "elasticsearch",
    "pending",
    "health",
    "uses",
    "submits",
    "result",
    "detail",
)
DEFAULT_TIMEOUT_SECONDS = 3600.0

Result = Literal["valid", "invalid", "rolled", "failed", "skipped", "not attempted"]
SUCCESSES = frozenset({"valid", "rolled"})


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from ece_uploader.deployments import DEFAULT_POLL_SECONDS

    parser = subparsers.add_parser(
        COMMAND,
        help="re-apply the current plan of the deployments that use an extension (dry run first)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--extension", metavar="ID", required=True, help="the extension's id")
    parser.add_argument(
        "--deployment",
        metavar="D",
        action="append",
        default=[],
        help="only this deployment (repeatable); it must use the extension",
    )
    parser.add_argument(
        "--apply", action="store_true", help="submit the plans (without it: a dry run)"
    )
    parser.add_argument(
        "--wait",
        action="store_true",
        help="wait for a pending plan to end instead of skipping its deployment",
    )
    parser.add_argument(
        "--poll-seconds",
        type=float,
        default=DEFAULT_POLL_SECONDS,
        metavar="S",
        help=f"first pause between looks at a plan, then longer up to 60"
        f" (default {DEFAULT_POLL_SECONDS:g})",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_SECONDS,
        metavar="S",
        help=f"longest wait per deployment, in seconds (default {DEFAULT_TIMEOUT_SECONDS:g})",
    )
    add_common_arguments(parser)
    parser.set_defaults(func=run)


@dataclass
class DeploymentRollout:
    """One deployment: what it is, what would be (or was) submitted, and how it went."""

    deployment_id: str
    name: str | None = None
    elasticsearch: list[dict[str, Any]] = field(default_factory=list)
    pending: bool | None = None
    health: str | None = None
    uses: list[str] = field(default_factory=list)
    request: dict[str, Any] | None = None
    result: Result = "not attempted"
    detail: str | None = None

    def describe(self, deployment: Deployment, extension_id: str) -> None:
        from ece_uploader.deployments import extension_uses

        self.name = deployment.name
        self.pending = deployment.pending
        self.elasticsearch = [
            {"ref_id": r.ref_id, "id": r.id, "region": r.region, "status": r.status}
            for r in deployment.elasticsearch
        ]
        self.health = _health(deployment)
        self.uses = [
            use
            for r in deployment.elasticsearch
            for use in extension_uses(r.current_plan, extension_id)
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "deployment_id": self.deployment_id,
            "name": self.name,
            "elasticsearch": self.elasticsearch,
            "pending_plan": self.pending,
            "health": self.health,
            "uses": self.uses,
            "request": self.request,
            "result": self.result,
            "detail": self.detail,
        }

    def row(self) -> dict[str, Any]:
        return {
            "deployment": self.deployment_id,
            "name": self.name,
            "elasticsearch": ", ".join(
                f"{r['ref_id']} {r['id']} {r['region']}" for r in self.elasticsearch
            ),
            "pending": None if self.pending is None else ("yes" if self.pending else "no"),
            "health": self.health,
            "uses": "; ".join(self.uses),
            "submits": _summary(self.request),
            "result": self.result,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Options:
    extension_id: str
    only: tuple[str, ...]
    apply: bool
    wait: bool
    poll_seconds: float
    timeout_seconds: float


def run(args: argparse.Namespace) -> int:
    try:
        options = _options(args)
        context = Context.from_args(args)
        client = deployments_client(context)
        targets = select(client, options)
    except UsageError as exc:
        return fail(COMMAND, str(exc))
    if not targets:
        _progress(f"no deployment uses extension {options.extension_id}: nothing to roll")
    rollouts = (
        apply(client, targets, options) if options.apply else dry_run(client, targets, options)
    )
    return show(rollouts, options, as_json=args.json)


def _options(args: argparse.Namespace) -> Options:
    from extension_uploader.ece import is_safe_extension_id

    for value in (args.extension, *args.deployment):
        if not is_safe_extension_id(value):
            raise UsageError(f"not an ECE id: {value!r}")
    if args.poll_seconds <= 0 or args.timeout <= 0:
        raise UsageError("--poll-seconds and --timeout must be positive")
    return Options(
        extension_id=args.extension,
        only=tuple(dict.fromkeys(args.deployment)),
        apply=args.apply,
        wait=args.wait,
        poll_seconds=args.poll_seconds,
        timeout_seconds=args.timeout,
    )


def deployments_client(context: Context) -> DeploymentsClient:
    """A deployments client with the function's settings and secret."""
    from urllib.parse import urlsplit

    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    from ece_uploader.deployments import DeploymentsClient
    from extension_uploader.credentials import CredentialStore

    api_url = context.setting("ECE_API_URL")
    allow_http = context.env.get("ECE_ALLOW_HTTP", "false").strip().lower() == "true"
    if urlsplit(api_url).scheme != "https" and not allow_http:
        raise UsageError(
            "ECE_API_URL is not https://, so the API key would travel in clear:"
            " use https://, or set ECE_ALLOW_HTTP=true for a network you trust"
        )
    credentials = CredentialStore(
        context.setting("ECE_SECRET_ID"),
        SecretsProvider(boto3_client=context.client("secretsmanager")),
    )
    return DeploymentsClient(
        api_url,
        credentials,
        tls_verify=context.env.get("ECE_TLS_VERIFY", "true").lower() != "false",
        ca_bundle=context.env.get("ECE_CA_BUNDLE") or None,
    )


def select(client: DeploymentsClient, options: Options) -> list[str]:
    """The deployments to roll: those ECE says use the extension, narrowed by ``--deployment``."""
    from extension_uploader import reasons
    from extension_uploader.credentials import SecretError
    from extension_uploader.ece_errors import EceError

    try:
        using = client.extension_deployments(options.extension_id)
    except EceError as exc:
        if exc.reason == reasons.ECE_EXTENSION_NOT_FOUND:
            raise UsageError(f"ECE knows no extension {options.extension_id}") from None
        raise UsageError(
            f"cannot ask ECE which deployments use the extension: {_why(exc)}"
        ) from None
    except SecretError as exc:
        raise UsageError(f"cannot read the ECE credentials: {exc}") from None
    if not options.only:
        return using
    strangers = [d for d in options.only if d not in using]
    if strangers:
        raise UsageError(
            f"extension {options.extension_id} is not used by {', '.join(strangers)}"
            " (ECE lists: " + (", ".join(using) or "none") + ")"
        )
    return list(options.only)


def dry_run(
    client: DeploymentsClient, targets: list[str], options: Options
) -> list[DeploymentRollout]:
    """Describe each deployment and have ECE validate its no-op plan; nothing changes."""
    from ece_uploader.deployments import PlanError, noop_update
    from extension_uploader.credentials import SecretError
    from extension_uploader.ece_errors import EceError

    rollouts = []
    for deployment_id in targets:
        rollout = DeploymentRollout(deployment_id)
        rollouts.append(rollout)
        try:
            deployment = client.get_deployment(deployment_id)
            rollout.describe(deployment, options.extension_id)
            rollout.request = noop_update(deployment)
            _progress(f"{deployment_id}: asking ECE to validate the current plan")
            client.update(
                deployment_id,
                rollout.request,
                validate_only=True,
                version=deployment.resource_version,
            )
        except PlanError as exc:
            rollout.result, rollout.detail = "invalid", str(exc)
            continue
        except (EceError, SecretError) as exc:
            rollout.result, rollout.detail = "invalid", _why(exc)
            continue
        rollout.result = "valid"
        if deployment.pending:
            rollout.detail = "a plan is pending: --apply " + (
                "would wait for it" if options.wait else "would skip it (add --wait to wait)"
            )
        else:
            rollout.detail = "ECE validated the current plan"
    return rollouts


def apply(
    client: DeploymentsClient,
    targets: list[str],
    options: Options,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> list[DeploymentRollout]:
    """Re-apply each deployment's current plan, one at a time; stop at the first failure."""
    rollouts = [DeploymentRollout(deployment_id) for deployment_id in targets]
    for rollout in rollouts:
        try:
            _roll(client, rollout, options, sleep=sleep, clock=clock)
        except KeyboardInterrupt:
            rollout.result = "failed"
            rollout.detail = "interrupted (a plan already submitted keeps running in ECE)"
            _progress(f"{rollout.deployment_id}: {rollout.detail}")
        if rollout.result == "failed":
            rest = [r.deployment_id for r in rollouts if r.result == "not attempted"]
            if rest:
                _progress(f"stopping after the failure: not attempted {', '.join(rest)}")
            break
    return rollouts


def _roll(
    client: DeploymentsClient,
    rollout: DeploymentRollout,
    options: Options,
    *,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> None:
    from ece_uploader.deployments import (
        PlanError,
        PlanTimeout,
        noop_update,
        plan_outcome,
        wait_for_plans,
    )
    from extension_uploader.credentials import SecretError
    from extension_uploader.ece_errors import EceError

    deployment_id = rollout.deployment_id
    end = clock() + options.timeout_seconds

    def watch(what: str) -> Deployment:
        def told(deployment: Deployment, pause: float) -> None:
            _progress(f"{deployment_id}: {what}; looking again in {pause:.3g} s")

        return wait_for_plans(
            lambda: client.get_deployment(deployment_id, for_plan=False),
            timeout_seconds=max(0.0, end - clock()),
            poll_seconds=options.poll_seconds,
            sleep=sleep,
            clock=clock,
            on_wait=told,
        )

    submitted = False
    try:
        before = client.get_deployment(deployment_id)
        rollout.describe(before, options.extension_id)
        if before.pending:
            if not options.wait:
                rollout.result = "skipped"
                rollout.detail = (
                    "a plan is pending in ECE: not cancelled; rerun with --wait to wait for it"
                )
                _progress(f"{deployment_id}: skipped, {rollout.detail}")
                return
            _progress(f"{deployment_id}: a plan is pending; waiting for it (never cancelled)")
            watch("the plan already pending is still running")
            before = client.get_deployment(deployment_id)
            rollout.describe(before, options.extension_id)
            if any(r.plans_healthy is False for r in before.elasticsearch):
                _progress(f"{deployment_id}: that plan ended failed; the current plan stays")
        rollout.request = noop_update(before)
        _progress(f"{deployment_id}: submitting the current plan again")
        client.update(
            deployment_id, rollout.request, validate_only=False, version=before.resource_version
        )
        submitted = True
        watch("the plan is running")
        after = client.get_deployment(deployment_id)
        rollout.describe(after, options.extension_id)
    except PlanError as exc:
        rollout.result, rollout.detail = "failed", str(exc)
    except PlanTimeout:
        rollout.result = "failed"
        whose = "the plan submitted" if submitted else "the plan that was pending"
        rollout.detail = (
            f"{whose} had not ended within --timeout {options.timeout_seconds:g} s;"
            " it keeps running in ECE (not cancelled)"
        )
    except (EceError, SecretError) as exc:
        rollout.result = "failed"
        stage = "while following the plan" if submitted else "ECE refused or could not be asked"
        rollout.detail = f"{stage}: {_why(exc)}"
    else:
        outcome = plan_outcome(before, after)
        rollout.result = "rolled" if outcome.status == "success" else "failed"
        rollout.detail = outcome.detail
    _progress(f"{deployment_id}: {rollout.result}: {rollout.detail}")


def show(rollouts: list[DeploymentRollout], options: Options, *, as_json: bool = False) -> int:
    ok = all(r.result in SUCCESSES for r in rollouts)
    if as_json:
        by = {
            result: [r.deployment_id for r in rollouts if r.result == result]
            for result in ("rolled", "failed", "skipped", "not attempted", "valid", "invalid")
        }
        print_json(
            {
                "extension_id": options.extension_id,
                "mode": "apply" if options.apply else "dry_run",
                "ok": ok,
                "deployments": [r.to_json() for r in rollouts],
                "rolled": by["rolled"],
                "failed": by["failed"],
                "skipped": by["skipped"],
                "not_attempted": by["not attempted"],
                "validated": by["valid"],
                "invalid": by["invalid"],
            }
        )
    elif rollouts:
        print_table([r.row() for r in rollouts], COLUMNS)
    else:
        print(f"no deployment uses extension {options.extension_id}")
    return EXIT_OK if ok else EXIT_NEGATIVE


def _summary(request: dict[str, Any] | None) -> str | None:
    """What a no-op request re-applies, in a few words: version and topology per resource."""
    if request is None:
        return None
    parts = []
    for payload in request["resources"]["elasticsearch"]:
        plan = payload["plan"]
        version = (plan.get("elasticsearch") or {}).get("version", "?")
        topology = ",".join(str(t.get("id", "?")) for t in plan.get("cluster_topology") or [])
        parts.append(f"{payload['ref_id']}: current plan ({version}; {topology or 'no topology'})")
    return "; ".join(parts)


def _health(deployment: Deployment) -> str:
    parts = ["healthy" if deployment.healthy else "unhealthy"]
    for resource in deployment.elasticsearch:
        if resource.status:
            parts.append(f"{resource.ref_id} {resource.status}")
        if resource.plans_healthy is False:
            parts.append(f"{resource.ref_id} last plan failed")
    return ", ".join(parts)


def _why(exc: Exception) -> str:
    from extension_uploader.ece_errors import EceError

    if isinstance(exc, EceError):  # "reason (HTTP status)", then ECE's own words
        return f"{exc}: {exc.server_message}" if exc.server_message else str(exc)
    return f"{getattr(exc, 'reason', type(exc).__name__)}: {exc}"


def _progress(message: str) -> None:
    print(f"ece-uploader {COMMAND}: {message}", file=sys.stderr, flush=True)
