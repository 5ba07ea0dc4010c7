"""What every `arf` command shares: consoles, the error boundary, settings and runtime."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from arf.core.errors import ArfError
from arf.runtime.container import Runtime, build_runtime
from arf.runtime.settings import LoadedSettings, Settings, load, load_settings, require_data

out = Console()
err = Console(stderr=True)

HomeOption = Annotated[
    Path | None, typer.Option("--home", help="ARF home (default $ARF_HOME or ./.arf)")
]


@contextmanager
def handled() -> Iterator[None]:
    try:
        yield
    except ArfError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        err.print("interrupted")
        raise typer.Exit(130) from None


def report_findings(findings: Sequence[tuple[bool, str]], clean: str) -> None:
    """Print lint findings (warning?, text); exit 1 if any is not a warning, else say `clean`
    when there were none."""
    for warning, text in findings:
        out.print(
            f"warning: {text}" if warning else text, markup=False, highlight=False, soft_wrap=True
        )
    if any(not warning for warning, _ in findings):
        raise typer.Exit(1)
    if not findings:
        out.print(clean, markup=False, highlight=False)


def settings_for(home: Path | None) -> Settings:
    return load_settings(home=home)


def loaded_settings_for(home: Path | None) -> LoadedSettings:
    return load(home=home)


@contextmanager
def runtime_for(home: Path | None, *, read_only: bool = False) -> Iterator[Runtime]:
    """The runtime of a home. A command that only reads (`read_only`) refuses a home with no
    data instead of creating an empty one (a mistyped ARF_HOME would show "no incidents")."""
    settings = settings_for(home)
    if read_only:
        require_data(settings)
    runtime = build_runtime(settings)
    try:
        yield runtime
    finally:
        runtime.close()
