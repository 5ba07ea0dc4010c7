"""`arf formats` and `arf platforms`: what the registries hold (built-ins and plug-ins')."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from arf.cli.console import handled, out
from arf.runtime.plugins import load_formats, load_platforms


def formats_command(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """The signal formats `arf ingest --format` and POST /api/v1/signals/FORMAT accept."""
    with handled():
        table = load_formats()
        rows = [
            {
                "name": item.name,
                "description": item.description,
                "detected": item.detect is not None,
                "text": item.text,
            }
            for item in (table.get(name) for name in table.names())
        ]
        if as_json:
            out.print_json(json.dumps(rows))
            return
        shown = Table(title=f"{len(rows)} signal formats")
        shown.add_column("name", no_wrap=True)
        shown.add_column("what", overflow="fold")
        shown.add_column("detected", no_wrap=True)
        for row in rows:
            shown.add_row(
                str(row["name"]), str(row["description"]), "yes" if row["detected"] else "name it"
            )
        out.print(shown)


def platforms_command(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """The platforms the `platform` setting (ARF_PLATFORM) may name."""
    with handled():
        rows = [
            {
                "name": platform.name,
                "description": platform.description,
                "operations": None if (ops := platform.operations()) is None else sorted(ops),
            }
            for platform in sorted(load_platforms().values(), key=lambda p: p.name)
        ]
        if as_json:
            out.print_json(json.dumps(rows))
            return
        shown = Table(title=f"{len(rows)} platforms")
        shown.add_column("name", no_wrap=True)
        shown.add_column("what", overflow="fold")
        shown.add_column("operations", overflow="fold")
        for row in rows:
            operations = row["operations"]
            listed = "as its platform file binds" if operations is None else ", ".join(operations)
            shown.add_row(str(row["name"]), str(row["description"]), listed or "none here")
        out.print(shown)
