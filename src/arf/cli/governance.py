"""`arf policy ...` (test, lint, simulate, suggest, calibration) and `arf control ...` (kill
switch, shadow)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from arf.cli.console import (
    HomeOption,
    err,
    handled,
    out,
    report_findings,
    runtime_for,
    settings_for,
)
from arf.core.errors import InputError
from arf.core.records import Controls
from arf.runtime import governance_ops, operations
from arf.runtime.plugins import load_catalog

policy_app = typer.Typer(
    no_args_is_help=True, help="Policy tooling: test, lint, simulate, suggest, calibration."
)
control_app = typer.Typer(no_args_is_help=True, help="Operator controls: kill switch, shadow mode.")


@policy_app.command("test")
def policy_test(
    directory: Annotated[
        Path | None,
        typer.Argument(help="a folder with one policy file and case files (default: the pack)"),
    ] = None,
    allow_uncovered: Annotated[
        bool, typer.Option(help="pass even if some rule is exercised by no case")
    ] = False,
) -> None:
    """Run table-driven policy cases (input -> route, rules, reason) and report rule coverage."""
    with handled():
        bundle, report = governance_ops.policy_suite(directory)
        table = Table(title=f"Policy tests: {bundle.version} ({bundle.origin})")
        for column in ("case", "route", "result"):
            table.add_column(column)
        for result in report.results:
            table.add_row(
                result.case.name,
                result.route,
                "ok" if result.passed else "FAIL: " + "; ".join(result.failures),
            )
        out.print(table)
        covered = len(report.covered & {r.rule_id for r in bundle.rules})
        out.print(
            f"{report.passed} passed, {report.failed} failed; rules exercised:"
            f" {covered}/{report.rules}",
            markup=False,
            highlight=False,
        )
        if report.uncovered:
            err.print(
                "rules no case exercised: " + ", ".join(report.uncovered),
                markup=False,
                highlight=False,
            )
        if report.failed or (report.uncovered and not allow_uncovered):
            raise typer.Exit(1)


@policy_app.command("lint")
def policy_lint(
    policy: Annotated[
        Path | None, typer.Argument(help="the policy file (default: the packaged pack)")
    ] = None,
    home: HomeOption = None,
) -> None:
    """Every load error at once, plus unreachable, shadowed and duplicate rules; warns about
    catalogued actions no rule reading the action's attributes covers."""
    with handled():
        actions = load_catalog(settings_for(home)).specs()
        findings = governance_ops.lint_policy(policy, actions)
        report_findings(
            [
                (
                    f.warning,
                    f"{f.kind}: {f.rule_id} ({f'line {f.line}' if f.line else 'file'}):"
                    f" {f.message}",
                )
                for f in findings
            ],
            "no findings",
        )


@policy_app.command("simulate")
def policy_simulate(
    candidate: Annotated[Path, typer.Option("--policy", help="the candidate policy file")],
    since: Annotated[str, typer.Option(help="how far back, e.g. 30d, 12h")] = "30d",
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
    home: HomeOption = None,
) -> None:
    """Replay stored decisions under a candidate policy and list what would change."""
    with handled(), runtime_for(home, read_only=True) as runtime:
        if fmt not in ("table", "json"):
            raise InputError("--format takes table or json")
        replayed = governance_ops.simulate(runtime, operations.parse_window(since), candidate)
        changed = [r for r in replayed if r.changed]
        if fmt == "json":
            rows = [
                {
                    "decision_id": r.decision_id,
                    "incident_id": r.incident_id,
                    "decided_at": r.decided_at.isoformat(),
                    "recorded": r.recorded,
                    "replayed": r.replayed,
                    "rules": list(r.rules),
                    "filled": list(r.filled),
                }
                for r in changed
            ]
            out.print(json.dumps(rows, indent=2), markup=False, highlight=False)
            return
        table = Table(title=f"Decisions since {since} whose route would change")
        for column in ("incident", "decided", "recorded", "under candidate", "deciding rules"):
            table.add_column(column)
        for r in changed:
            table.add_row(
                r.incident_id,
                r.decided_at.strftime("%Y-%m-%d %H:%M"),
                r.recorded,
                r.replayed,
                ", ".join(r.rules),
            )
        out.print(table)
        filled = sum(1 for r in replayed if r.filled)
        out.print(
            f"{len(replayed)} decisions replayed, {len(changed)} would change"
            + (f"; {filled} recorded by an older ARF had fields set to neutral" if filled else ""),
            markup=False,
            highlight=False,
        )


@policy_app.command("suggest")
def policy_suggest(
    since: Annotated[str, typer.Option(help="how far back, e.g. 90d")] = "90d",
    home: HomeOption = None,
) -> None:
    """Propose autonomy changes from verified outcomes. Nothing is applied."""
    with handled(), runtime_for(home, read_only=True) as runtime:
        proposals = governance_ops.suggestions(runtime, operations.parse_window(since))
        if not proposals:
            out.print(f"no suggestions from the outcomes of the last {since}")
            return
        for proposal in proposals:
            out.print(
                f"{proposal.action} on {proposal.service} -> {proposal.proposal}:"
                f" {proposal.evidence}\n  service catalog: {proposal.snippet}",
                markup=False,
                highlight=False,
            )
        out.print("(suggestions only: ARF never changes its own policy or catalog)")


@policy_app.command("calibration")
def policy_calibration(
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    home: HomeOption = None,
) -> None:
    """How each reasoner's claimed confidence compares with verified outcomes, and what
    governance routes a claim on now (docs/policy.md, "Confidence calibration")."""
    with handled(), runtime_for(home, read_only=True) as runtime:
        rules, rows = governance_ops.calibration(runtime)
        if as_json:
            out.print_json(
                json.dumps(
                    {
                        "settings": dataclasses.asdict(rules),
                        "bins": [dataclasses.asdict(r) for r in rows],
                    }
                )
            )
            return
        if not rows:
            out.print(f"no finished remediation plans in the last {rules.window_days} days")
            return
        table = Table(title=f"Confidence calibration (last {rules.window_days} days)")
        for column in ("provenance", "claimed", "plans", "verified", "mean claimed", "routed on"):
            table.add_column(column)
        for row in rows:
            table.add_row(
                row.provenance,
                f"{row.low:.1f}-{row.high:.1f}",
                str(row.plans),
                f"{row.verified} ({row.verified / row.plans:.0%})",
                f"{row.mean_claimed:.2f}",
                f"{row.routed:.2f}" if row.calibrated else "as claimed",
            )
        out.print(table)
        if not rules.enabled:
            out.print("calibration is off in the policy: plans are routed on what they claim")
        elif not all(r.calibrated for r in rows):
            out.print(
                f"'as claimed': fewer than {rules.min_outcomes} finished plans of that provenance"
            )


def _change(home: Path | None, change: governance_ops.ControlChange) -> None:
    with handled(), runtime_for(home) as runtime:
        identity = operations.identify(runtime, operations.token_from(runtime))
        controls = governance_ops.change_controls(runtime, identity, change)
        _show(controls)


def _show(controls: Controls) -> None:
    stopped = "ON (nothing executes)" if controls.stopped else "off"
    out.print(
        f"kill switch: {stopped}\n"
        f"stopped services: {', '.join(controls.stopped_services) or '-'}\n"
        f"shadow mode: {'on' if controls.shadow else 'off'}\n"
        f"last change: {controls.changed_by or '-'}"
        + (f" at {controls.changed_at.isoformat()}" if controls.changed_at else "")
        + (f": {controls.reason}" if controls.reason else ""),
        markup=False,
        highlight=False,
    )


ReasonOption = Annotated[str, typer.Option("--reason", help="why (recorded in the ledger)")]
ServiceOption = Annotated[
    str | None, typer.Option("--service", help="only this service (default: everything)")
]


@control_app.command("status")
def control_status(home: HomeOption = None) -> None:
    """Show the kill switch and shadow mode."""
    with handled(), runtime_for(home, read_only=True) as runtime:
        _show(governance_ops.get_controls(runtime))


@control_app.command("stop")
def control_stop(
    reason: ReasonOption, service: ServiceOption = None, home: HomeOption = None
) -> None:
    """Kill switch: stop all execution (or one service's). Pending plans wait; running ones
    finish their current step and stop."""
    _change(home, governance_ops.ControlChange(stop=True, service=service, reason=reason))


@control_app.command("resume")
def control_resume(
    reason: ReasonOption, service: ServiceOption = None, home: HomeOption = None
) -> None:
    """Release the kill switch (globally, or for one service)."""
    _change(home, governance_ops.ControlChange(stop=False, service=service, reason=reason))


@control_app.command("shadow")
def control_shadow(
    mode: Annotated[str, typer.Argument(help="on or off")],
    reason: ReasonOption,
    home: HomeOption = None,
) -> None:
    """Shadow mode: decide and record everything, execute nothing."""
    if mode not in ("on", "off"):
        err.print("error: shadow takes on or off")
        raise typer.Exit(2)
    _change(home, governance_ops.ControlChange(shadow=mode == "on", reason=reason))
