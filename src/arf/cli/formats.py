"""`arf formats`: the registered signal formats (built-in and from plug-ins)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from arf.cli.console import handled, out
from arf.runtime.plugins import load_formats


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
