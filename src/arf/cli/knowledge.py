"""`arf knowledge list|lint`: the runbooks ARF reasons with, and what is wrong with them."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from arf.cli.console import HomeOption, handled, out, report_findings, settings_for
from arf.reasoning.knowledge import lint_knowledge
from arf.runtime.plugins import load_catalog
from arf.runtime.reasoners import team_knowledge

knowledge_app = typer.Typer(
    no_args_is_help=True, help="Runbooks as knowledge: list them, lint them."
)


@knowledge_app.command("list")
def knowledge_list(
    home: HomeOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Every runbook in the order they are tried: the team's, then the packaged ones."""
    with handled():
        knowledge = team_knowledge(settings_for(home))
        rows = [
            {
                "id": r.meta.id,
                "title": r.meta.title,
                "matches": {k: list(v) for k, v in r.meta.match.model_dump().items() if v},
                "actions": [a.action for a in r.meta.actions],
                "source": r.source,
            }
            for r in knowledge.runbooks
        ]
        if as_json:
            out.print_json(json.dumps(rows))
            return
        table = Table(title=f"{len(rows)} runbooks")
        table.add_column("id", no_wrap=True)
        for column in ("matches", "actions", "source"):
            table.add_column(column, overflow="fold")
        for row in rows:
            matches = row["matches"]
            assert isinstance(matches, dict)
            shown = "; ".join(f"{k}: {', '.join(v)}" for k, v in matches.items())
            actions = row["actions"]
            assert isinstance(actions, list)
            table.add_row(str(row["id"]), shown, ", ".join(actions) or "-", str(row["source"]))
        out.print(table)


@knowledge_app.command("lint")
def knowledge_lint(home: HomeOption = None) -> None:
    """Load every runbook (a broken one is an error naming file, line and field), then report
    suggested actions the catalog lacks, parameters they refuse, and shadowed runbooks."""
    with handled():
        settings = settings_for(home)
        knowledge = team_knowledge(settings)
        specs = {spec.name: spec for spec in load_catalog(settings).specs()}
        findings = lint_knowledge(knowledge, specs)
        report_findings(
            [(f.warning, f"{f.kind}: {f.runbook} ({f.source}): {f.message}") for f in findings],
            f"ok: {len(knowledge.runbooks)} runbook(s), no findings",
        )
