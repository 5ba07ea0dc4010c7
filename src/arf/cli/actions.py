"""`arf actions list|show|validate|schema`: the action catalog and its format."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.table import Table

from arf.cli.console import HomeOption, handled, out, settings_for
from arf.core.action_pack import ActionManifest
from arf.core.errors import ConfigError
from arf.runtime.plugins import (
    action_row,
    action_sources,
    catalog_of,
    load_catalog,
    load_platforms,
    test_actions,
    validate_paths,
)

actions_app = typer.Typer(
    no_args_is_help=True, help="The action catalog: list, show, validate, and the file format."
)


@actions_app.command("list")
def actions_list(
    home: HomeOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Every registered action: packaged, from plug-ins, from the settings and actions.d."""
    with handled():
        sources = action_sources(settings_for(home))
        catalog_of(sources)  # a name declared twice is an error here too
        platforms = {name: p.operations() for name, p in load_platforms().items()}
        rows = [
            action_row(d, source.origin, platforms)
            for source in sources
            for d in source.definitions
        ]
        if as_json:
            out.print_json(json.dumps(rows))
            return
        table = Table(title=f"{len(rows)} actions")
        table.add_column("name", no_wrap=True)  # the name is typed next: never cut
        for column in ("risk", "rollback", "platforms", "source"):
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(
                *(row[key] for key in ("name", "risk_class", "rollback", "platforms", "source"))
            )
        out.print(table)


@actions_app.command("show")
def actions_show(
    name: Annotated[str, typer.Argument(help="the action's name")],
    home: HomeOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """One action's full declaration, as loaded."""
    with handled():
        definition = load_catalog(settings_for(home)).get(name)
        if definition is None:
            raise ConfigError(f"no action {name!r} (see `arf actions list`)")
        document = definition.manifest.model_dump(mode="json", exclude_defaults=True)
        if as_json:
            out.print_json(json.dumps(document))
            return
        text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
        out.print(
            f"# {definition.source}\n{text}", markup=False, highlight=False, soft_wrap=True, end=""
        )


@actions_app.command("validate")
def actions_validate(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="action files or directories (default: every registered pack)"),
    ] = None,
    home: HomeOption = None,
) -> None:
    """Load and check action packs; the first problem is printed with its file, line and field."""
    with handled():
        settings = settings_for(home)
        catalog = validate_paths(settings, paths) if paths else load_catalog(settings)
        out.print(f"ok: {len(catalog.specs())} action(s) valid")


@actions_app.command("test")
def actions_test(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="action folders with their *.cases.yaml (default: every pack)"),
    ] = None,
    allow_untested: Annotated[
        bool, typer.Option(help="pass even if some action has no case")
    ] = False,
    home: HomeOption = None,
) -> None:
    """Run table-driven action cases (pre-state and parameters -> operations, rollback,
    effect, or the refusal) and list actions no case exercises."""
    with handled():
        _, report = test_actions(settings_for(home), paths or ())
        table = Table(title="Action tests")
        table.add_column("action", no_wrap=True)
        for column in ("case", "result"):
            table.add_column(column, overflow="fold")
        for result in report.results:
            verdict = "ok" if result.passed else "FAIL: " + "; ".join(result.failures)
            table.add_row(result.action, result.case, verdict)
        out.print(table)
        passed = len(report.results) - report.failed
        out.print(f"{passed} passed, {report.failed} failed", markup=False, highlight=False)
        if report.untested:
            out.print(
                f"actions no case exercises: {', '.join(report.untested)}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
        if report.failed or (report.untested and not allow_untested):
            raise typer.Exit(1)


@actions_app.command("schema")
def actions_schema() -> None:
    """The JSON Schema of an action file (format arf/action/v1)."""
    schema = ActionManifest.model_json_schema()
    out.print(
        json.dumps(schema, indent=2, sort_keys=True), markup=False, highlight=False, soft_wrap=True
    )
