"""`arf config show|reference`: the settings in force, and the reference of every setting."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from arf.cli.console import HomeOption, handled, loaded_settings_for, out
from arf.runtime.settings import reference_markdown, shown, variable

config_app = typer.Typer(
    no_args_is_help=True, help="Settings: what is in force, and the reference."
)


@config_app.command("show")
def config_show(
    home: HomeOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """The settings in force and where each came from (environment, file, default)."""
    with handled():
        loaded = loaded_settings_for(home)
        rows = [
            (name, variable(name), shown(name, getattr(loaded.settings, name)), source)
            for name, source in loaded.sources.items()
        ]
        if as_json:
            out.print_json(
                json.dumps(
                    {
                        name: {"variable": var, "value": value, "source": source}
                        for name, var, value, source in rows
                    }
                )
            )
            return
        table = Table(title=f"Settings ({loaded.settings.home})")
        for column in ("variable", "value", "source"):
            table.add_column(column, overflow="fold")
        for _, var, value, source in rows:
            table.add_row(var, value, source)
        out.print(table)


@config_app.command("reference")
def config_reference() -> None:
    """Every setting: its variable, type, default and meaning (Markdown)."""
    out.print(reference_markdown(), markup=False, highlight=False, soft_wrap=True, end="")
