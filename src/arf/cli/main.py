"""`arf`: the command line. Thin: parses, calls the runtime, renders.

Every expected failure prints one line `error: ...` on stderr and exits 1; usage errors exit 2.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC
from importlib import metadata
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich import box
from rich.markdown import Markdown
from rich.table import Table

from arf.cli.actions import actions_app
from arf.cli.bench import bench
from arf.cli.config import config_app
from arf.cli.console import HomeOption, err, handled, out, runtime_for, settings_for
from arf.cli.governance import control_app, policy_app
from arf.cli.knowledge import knowledge_app
from arf.cli.lab import lab_app
from arf.cli.registries import formats_command, platforms_command
from arf.core.errors import InputError, IntegrityError
from arf.core.records import IncidentState, Verdict
from arf.runtime import compliance_report, ledger_ops, operations, reasoning_eval
from arf.runtime.audit import compliance_of
from arf.runtime.demo import prepare_demo_home, run_demo
from arf.runtime.ingest import Ingestor, read_payload_file
from arf.runtime.metrics import Metrics, metrics_of
from arf.runtime.pull import pull_prometheus
from arf.runtime.retention import apply_retention
from arf.signals.formats import ParseOptions

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="ARF: governed autonomous remediation."
)
audit_app = typer.Typer(no_args_is_help=True, help="Audit ledger commands.")
app.add_typer(audit_app, name="audit")
report_app = typer.Typer(no_args_is_help=True, help="Reports.")
app.add_typer(report_app, name="report")
pull_app = typer.Typer(no_args_is_help=True, help="Pull signals from systems ARF asks.")
app.add_typer(pull_app, name="pull")
app.add_typer(policy_app, name="policy")
app.add_typer(control_app, name="control")
app.add_typer(lab_app, name="lab")
app.add_typer(config_app, name="config")
app.add_typer(actions_app, name="actions")
app.add_typer(knowledge_app, name="knowledge")
app.command("formats")(formats_command)
app.command("platforms")(platforms_command)
app.command("bench")(bench)


def _version(shown: bool) -> None:
    if shown:
        out.print(f"arf {metadata.version('arf')}", markup=False, highlight=False)
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="print the version"),
    ] = False,
) -> None:
    """ARF: governed autonomous remediation."""


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f} s" if value < 120 else f"{value / 60:.1f} min"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def render_metrics(metrics: Metrics) -> Table:
    table = Table(title="Metrics", show_header=True)
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_row("incidents (resolved)", f"{metrics.incidents} ({metrics.resolved})")
    table.add_row("MTTD", _seconds(metrics.mttd_s))
    table.add_row("MTTR", _seconds(metrics.mttr_s))
    table.add_row(
        "toil (human min / incident)",
        "-"
        if metrics.toil_minutes_per_incident is None
        else f"{metrics.toil_minutes_per_incident:.1f}",
    )
    table.add_row("false remediation rate", _rate(metrics.false_remediation_rate))
    table.add_row(
        "alert fatigue (notifications / resolved)",
        "-"
        if metrics.notifications_per_resolved is None
        else f"{metrics.notifications_per_resolved:.2f}",
    )
    table.add_row(
        "raw alerts / incident",
        "-"
        if metrics.raw_alerts_per_incident is None
        else f"{metrics.raw_alerts_per_incident:.1f}",
    )
    table.add_row("governance compliance rate", _rate(metrics.compliance_rate))
    return table


@app.command()
def demo(home: HomeOption = None) -> None:
    """Run the demo incidents through all eight lifecycle steps on the simulated platform."""
    with handled():
        base = settings_for(home).home
        prepare_demo_home(base)
        out.print(f"fresh demo home at {base} (database, simulated platform, demo approver)")
        with runtime_for(base) as runtime:
            report = run_demo(runtime, lambda line: out.print(line, markup=False, highlight=False))
            table = Table(title="Incidents", show_lines=False)
            table.add_column("scenario", no_wrap=True)
            table.add_column("incident", no_wrap=True)
            table.add_column("alerts", justify="right")
            table.add_column("top hypothesis", overflow="ellipsis", no_wrap=True, max_width=34)
            table.add_column("plan", overflow="fold", min_width=26)
            for column in ("route", "outcome", "TTD", "TTR"):
                table.add_column(column, no_wrap=True)
            for row in report.rows:
                table.add_row(
                    row.scenario,
                    row.incident_id,
                    str(row.raw_alerts),
                    row.top_hypothesis,
                    row.plan,
                    row.route,
                    row.outcome,
                    _seconds(row.ttd_s),
                    _seconds(row.ttr_s),
                )
            out.print(table)
            out.print(render_metrics(metrics_of(runtime)))
            signed = ledger_ops.checkpoint(runtime)
            log = ledger_ops.verify(runtime)
            out.print(
                f"ledger: {log.entries} entries, {'verified' if log.ok else 'BROKEN'};"
                f" signed checkpoint at size {signed.checkpoint.size if signed else '-'}"
            )
            for incident_id in report.pending:
                out.print(
                    f"[bold]{incident_id}[/bold] waits for approval. Review it with"
                    f" `arf show {incident_id}`, then `arf approve {incident_id}` or"
                    f" `arf reject {incident_id} --reason ...`"
                )
            if base != Path(".arf"):
                out.print(f"(set ARF_HOME={base} or pass --home {base} to the commands above)")


@app.command()
def ingest(
    file: Annotated[Path, typer.Argument(help="a JSON payload, or JSON lines for logs")],
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="the payload's format (`arf formats` lists them); detected when omitted",
        ),
    ] = None,
    service: Annotated[
        str | None, typer.Option(help="for plain-text logs: the service they come from")
    ] = None,
    mapping: Annotated[
        Path | None, typer.Option(help="for --format json: the field mapping (YAML)")
    ] = None,
    home: HomeOption = None,
) -> None:
    """Ingest signals from a file (Alertmanager webhook, CloudEvent, Checkov JSON, logs)."""
    with handled(), runtime_for(home) as runtime:
        kind, payload = read_payload_file(file, fmt, runtime.formats)
        options = ParseOptions.build(service, mapping)
        report = Ingestor(runtime).ingest(kind, payload, options=options)
        out.print(f"{kind}: {report.summary()}", markup=False, highlight=False)
        for index, reason in report.rejected:
            err.print(f"rejected item {index}: {reason}", markup=False, highlight=False)
        if report.rejected and not (report.accepted or report.duplicates or report.resolved):
            raise typer.Exit(1)


@pull_app.command("prometheus")
def pull_prometheus_alerts(
    url: Annotated[str, typer.Argument(help="Prometheus base URL, e.g. http://127.0.0.1:9090")],
    home: HomeOption = None,
) -> None:
    """Store Prometheus' active (firing) alerts and resolve pulled alerts that are gone."""
    with handled(), runtime_for(home) as runtime, httpx.Client() as client:
        report = pull_prometheus(runtime, url, client)
        out.print(f"prometheus: {report.summary()}", markup=False, highlight=False)


@app.command("run")
def run_pending(home: HomeOption = None) -> None:
    """Advance every incident that can move (assemble, diagnose, decide, execute, verify)."""
    with handled(), runtime_for(home) as runtime:
        steps = operations.advance(runtime)
        ledger_ops.checkpoint(runtime)
        out.print(f"{steps} lifecycle step(s) taken")


@app.command()
def incidents(
    home: HomeOption = None,
    state: Annotated[
        list[str] | None, typer.Option("--state", help="only incidents in this state (repeatable)")
    ] = None,
    service: Annotated[
        str | None, typer.Option("--service", help="only incidents of this service")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """List incidents (newest last)."""
    with handled(), runtime_for(home, read_only=True) as runtime:
        known = [s.value for s in IncidentState]
        unknown = [s for s in state or () if s not in known]
        if unknown:
            raise InputError(f"unknown state {unknown[0]!r} (known: {', '.join(known)})")
        listed = [
            incident
            for incident in operations.list_incidents(runtime)
            if (not state or incident.state.value in state)
            and (service is None or service in incident.services)
        ]
        if as_json:
            out.print_json(json.dumps([i.model_dump(mode="json") for i in listed]))
            return
        # Readable at 80 columns: no vertical rules, one space between columns.
        table = Table(box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False, collapse_padding=True)
        table.add_column("incident", no_wrap=True)  # the id a user types next, never cut
        for column in ("state", "outcome", "severity"):
            table.add_column(column, overflow="fold")
        table.add_column("services", min_width=12)  # wraps between names
        table.add_column("opened (UTC)", no_wrap=True)
        for incident in listed:
            table.add_row(
                incident.incident_id,
                incident.state.value,
                incident.outcome.value,
                incident.severity.value,
                ", ".join(incident.services),
                incident.opened_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
            )
        out.print(table)


@app.command()
def show(
    incident_id: str,
    home: HomeOption = None,
    raw: Annotated[bool, typer.Option("--markdown", help="print raw Markdown")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the explanation as JSON")] = False,
) -> None:
    """Explain an incident: rationale, evidence, impact, rollback, confidence, matched rules."""
    with handled(), runtime_for(home, read_only=True) as runtime:
        if as_json:
            document = operations.explain_data(runtime, incident_id)
            out.print(json.dumps(document, indent=2), markup=False, highlight=False)
            return
        text = operations.explain(runtime, incident_id)
        if raw or not sys.stdout.isatty():
            out.print(text, markup=False, highlight=False)
        else:
            out.print(Markdown(text))


def _answer(
    incident_id: str, verdict: Verdict, reason: str, plan_hash: str | None, home: Path | None
) -> None:
    with handled(), runtime_for(home) as runtime:
        identity = operations.identify(runtime, operations.token_from(runtime))
        result = operations.answer(runtime, incident_id, identity, verdict, reason, plan_hash)
        ledger_ops.checkpoint(runtime)
        out.print(
            f"{verdict.value} recorded for {incident_id} by {identity.name}"
            f" (plan {result.approval.plan_hash[:12]}); incident is now"
            f" {result.incident.state.value}"
            + (f": {result.incident.outcome_reason}" if result.incident.outcome_reason else ""),
            markup=False,
            highlight=False,
        )


@app.command()
def request(
    service: str,
    reason: Annotated[str, typer.Option("--reason", help="what you see and want fixed")],
    home: HomeOption = None,
) -> None:
    """Ask ARF to remediate a service. You will not be able to approve its plan yourself."""
    with handled(), runtime_for(home) as runtime:
        identity = operations.identify(runtime, operations.token_from(runtime))
        report = operations.request_remediation(runtime, identity, service, reason)
        ledger_ops.checkpoint(runtime)
        out.print(
            f"requested by {identity.name}: {report.summary()}", markup=False, highlight=False
        )


@app.command()
def approve(
    incident_id: str,
    plan_hash: Annotated[
        str | None,
        typer.Option("--plan-hash", help="the plan hash (or a 12+ digit prefix) you reviewed"),
    ] = None,
    home: HomeOption = None,
) -> None:
    """Approve the decided plan of an incident (identity from ARF_TOKEN or credentials)."""
    _answer(incident_id, Verdict.APPROVE, "", plan_hash, home)


@app.command()
def reject(
    incident_id: str,
    reason: Annotated[str, typer.Option("--reason", help="why the plan is rejected")],
    home: HomeOption = None,
) -> None:
    """Reject the decided plan of an incident; it is escalated to a person."""
    _answer(incident_id, Verdict.REJECT, reason, None, home)


@audit_app.command("verify")
def audit_verify(home: HomeOption = None) -> None:
    """Verify the chain, the Merkle tree and every published checkpoint; names the first bad
    entry. Also reports executed actions whose ledger trail is incomplete."""
    with handled(), runtime_for(home, read_only=True) as runtime:
        report = ledger_ops.verify(runtime)
        if not report.ok:
            first = f"at entry {report.first_bad_seq}" if report.first_bad_seq else ""
            err.print(
                f"error: ledger verification failed {first}: {report.problems[0]}",
                markup=False,
                highlight=False,
            )
            raise typer.Exit(1)
        compliance = compliance_of(runtime)
        out.print(
            f"ledger intact: {report.entries} entries, head {report.head_hash[:16]};"
            f" {report.checkpoints} signed checkpoint(s), latest at size"
            f" {report.latest_checkpoint}"
        )
        if report.checkpoints == 0:
            out.print(
                "no signed checkpoint published yet: truncation of the tail would not be"
                " detected (run `arf audit keygen`, then `arf audit checkpoint`)"
            )
        out.print(
            f"executed actions with a complete ledger trail: {compliance.compliant}/"
            f"{compliance.executed}"
        )
        for incident_id, problems in compliance.problems.items():
            out.print(f"  {incident_id}: {'; '.join(problems)}", markup=False)


@audit_app.command("keygen")
def audit_keygen(
    name: Annotated[str, typer.Option(help="the key's name in signatures")] = "arf-ledger",
    home: HomeOption = None,
) -> None:
    """Create the checkpoint signing key (or rotate to a new one) and publish its public key."""
    with handled(), runtime_for(home) as runtime:
        signer = ledger_ops.create_signing_key(runtime, name)
        out.print(
            f"signing key {runtime.settings.ledger_key_path} (mode 600); verifier key"
            f" added to {runtime.settings.keyring_path}:",
            markup=False,
        )
        out.print(signer.verifier_key(), markup=False, highlight=False)


@audit_app.command("checkpoint")
def audit_checkpoint(home: HomeOption = None) -> None:
    """Sign the ledger's current tree head and publish it to the witness."""
    with handled(), runtime_for(home) as runtime:
        signed = ledger_ops.checkpoint(runtime)
        if signed is None:
            err.print("error: no signing key; run `arf audit keygen` first")
            raise typer.Exit(1)
        out.print(signed.note, markup=False, highlight=False)


@audit_app.command("retention")
def audit_retention(
    older_than: Annotated[
        float | None,
        typer.Option(help="days; default ARF_RETENTION_DAYS", min=0.001),
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="count what would expire, delete nothing")] = False,
    home: HomeOption = None,
) -> None:
    """Expire raw signals no active incident needs, last seen before the cut-off; the expiry
    is a ledger entry with their digests (never a silent delete), then a signed checkpoint."""
    with handled(), runtime_for(home) as runtime:
        report = apply_retention(runtime, older_than, dry_run)
        verb = "would expire" if report.dry_run else "expired"
        out.print(
            f"{verb} {report.signals} signal(s) last seen before {report.before.isoformat()}"
            f" (digest {report.digest[:16]})",
            markup=False,
        )
        if report.ledger_seq is not None:
            signed = "signed checkpoint published" if report.signed else "no signing key"
            out.print(f"tombstone: ledger entry {report.ledger_seq}; {signed}", markup=False)


@audit_app.command("prove")
def audit_prove(
    seq: Annotated[int, typer.Argument(help="the ledger entry's sequence number")],
    out_file: Annotated[Path | None, typer.Option("--out", help="write the bundle here")] = None,
    home: HomeOption = None,
) -> None:
    """An inclusion proof for one entry, checkable without ARF's database (`check-proof`)."""
    with handled(), runtime_for(home, read_only=True) as runtime:
        text = json.dumps(ledger_ops.prove(runtime, seq), indent=2)
        if out_file is None:
            out.print(text, markup=False, highlight=False)
        else:
            out_file.write_text(text + "\n", "utf-8")
            out.print(f"inclusion proof of entry {seq} written to {out_file}")


@audit_app.command("check-proof")
def audit_check_proof(
    bundle: Annotated[Path, typer.Argument(help="a bundle from `arf audit prove`")],
    keyring: Annotated[Path, typer.Option(help="the published keyring (verifier keys)")],
) -> None:
    """Check an inclusion bundle offline, with only the bundle and the published keyring."""
    with handled():
        entry, size = ledger_ops.check_proof(bundle, keyring)
        out.print(
            f"entry {entry.seq} ({entry.kind}, incident {entry.incident_id}) is in the"
            f" signed log of size {size}",
            markup=False,
        )


@audit_app.command("consistency")
def audit_consistency(
    old: Annotated[int, typer.Argument(help="the older tree size")],
    new: Annotated[int, typer.Argument(help="the newer tree size")],
    home: HomeOption = None,
) -> None:
    """A consistency proof that the log of size NEW extends the log of size OLD."""
    with handled(), runtime_for(home, read_only=True) as runtime:
        out.print(
            json.dumps(ledger_ops.consistency(runtime, old, new), indent=2),
            markup=False,
            highlight=False,
        )


@audit_app.command("export")
def audit_export(
    out_file: Annotated[Path, typer.Option("--out", help="JSON lines file to write")],
    home: HomeOption = None,
) -> None:
    """Export every entry as JSON lines, each with its inclusion proof."""
    with handled(), runtime_for(home, read_only=True) as runtime:
        count = 0
        with out_file.open("w", encoding="utf-8") as handle:
            for item in ledger_ops.export(runtime):
                handle.write(json.dumps(item, separators=(",", ":")) + "\n")
                count += 1
        out.print(f"{count} entries written to {out_file}")


@report_app.command("compliance")
def report_compliance(
    since: Annotated[str, typer.Option(help="window, e.g. 30d, 12h")] = "30d",
    fmt: Annotated[str, typer.Option("--format", help="md or json")] = "md",
    out_file: Annotated[Path | None, typer.Option("--out", help="write here")] = None,
    home: HomeOption = None,
) -> None:
    """Per executed action: decision, approvals, steps, verification, rollback; the compliance
    rate from an independent pass over the ledger; the controls mapping."""
    with handled(), runtime_for(home, read_only=True) as runtime:
        if fmt not in ("md", "json"):
            raise InputError("--format must be md or json")
        verified = ledger_ops.verify(runtime)
        if not verified.ok:
            raise IntegrityError(f"the ledger does not verify: {verified.problems[0]}")
        now = runtime.clock.now()
        report = compliance_report.build(
            ledger_ops.entries(runtime), now - operations.parse_window(since), now
        )
        text = (
            json.dumps(compliance_report.as_json(report), indent=2)
            if fmt == "json"
            else compliance_report.as_markdown(report)
        )
        if out_file is None:
            out.print(text, markup=False, highlight=False)
        else:
            out_file.write_text(text, "utf-8")
            out.print(f"compliance report written to {out_file}")


eval_app = typer.Typer(no_args_is_help=True, help="Evaluations.")
app.add_typer(eval_app, name="eval")


@eval_app.command("reasoning")
def eval_reasoning(
    reasoner: Annotated[
        str, typer.Option(help="evidence, llm, merged, or all (comma-separated allowed)")
    ] = "evidence",
    llm: Annotated[
        str | None, typer.Option(help="model backend, e.g. local or openai:MODEL (else ARF_LLM)")
    ] = None,
    cases: Annotated[int | None, typer.Option(help="only the first N cases")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
    out_file: Annotated[Path | None, typer.Option("--out", help="also write the JSON here")] = None,
    home: HomeOption = None,
) -> None:
    """Score reasoners on the scenario cases: top-1/top-3 root cause, correct and
    wrong-but-tempting action rates, calibration (Brier, ECE), tokens and latency per case."""
    with handled():
        modes = ["evidence", "llm", "merged"] if reasoner == "all" else reasoner.split(",")
        unknown = [m for m in modes if m not in ("evidence", "llm", "merged")]
        if unknown or fmt not in ("table", "json"):
            raise InputError("--reasoner takes evidence, llm, merged or all; --format table|json")
        settings = settings_for(home)
        if llm is not None:
            settings = settings.model_copy(update={"llm": llm})
        quiet = fmt == "json"
        scores = reasoning_eval.run_eval(
            settings,
            modes,
            limit=cases,
            progress=(lambda _line: None)
            if quiet
            else lambda line: err.print(line, markup=False, highlight=False),
        )
        document = json.dumps([s.as_dict() for s in scores], indent=2)
        if out_file is not None:
            out_file.write_text(document, "utf-8")
        if quiet:
            out.print(document, markup=False, highlight=False)
            return
        table = Table(title="Reasoning evaluation (demo scenario cases)")
        table.add_column("metric")
        for score in scores:
            table.add_column(score.reasoner, justify="right")
        rows: list[tuple[str, Callable[[reasoning_eval.ReasonerScore], str]]] = [
            ("cases", lambda s: str(s.cases)),
            ("top-1 root cause", lambda s: f"{s.top1:.0%}"),
            ("top-3 root cause", lambda s: f"{s.top3:.0%}"),
            ("correct action", lambda s: f"{s.correct_action:.0%}"),
            ("wrong but tempting action", lambda s: f"{s.tempting_wrong:.0%}"),
            ("Brier score (top hypothesis)", lambda s: f"{s.brier:.3f}"),
            ("ECE (5 bins)", lambda s: f"{s.ece:.3f}"),
            ("tokens per case", lambda s: f"{s.tokens_per_case:.0f}"),
            ("latency per case", lambda s: f"{s.latency_ms_per_case / 1000:.1f} s"),
            ("gave up", lambda s: str(s.failures)),
        ]
        for label, cell in rows:
            table.add_row(label, *(cell(s) for s in scores))
        out.print(table)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8080,
    home: HomeOption = None,
) -> None:
    """Serve the HTTP API (Alertmanager webhook receiver, incidents, approvals)."""
    from arf.api.server import serve as run_server  # web framework only when serving

    with handled():
        run_server(settings_for(home), host, port)


def run() -> None:
    app()


if __name__ == "__main__":
    run()
