"""`arf lab up|down|status|inject`: the real lab on loopback (see docs/lab.md)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from arf.cli.console import err, handled, out, runtime_for
from arf.core.errors import InputError
from arf.core.states import TERMINAL_STATES
from arf.lab import stack
from arf.runtime import operations

lab_app = typer.Typer(
    no_args_is_help=True,
    help="The real lab: Prometheus, Alertmanager,"
    " real services, a Git IaC repository and ARF, on loopback.",
)
DirOption = Annotated[Path, typer.Option("--dir", help="the lab's folder")]
DEFAULT_DIR = Path(".arf-lab")


@lab_app.command("up")
def lab_up(
    folder: DirOption = DEFAULT_DIR,
    base_port: Annotated[int, typer.Option(help="first of 7 consecutive loopback ports")] = 18080,
    checkov: Annotated[str | None, typer.Option(help="the checkov command")] = None,
) -> None:
    """Start the lab and print where to watch it."""
    with handled():
        lab = stack.up(folder, base_port, checkov, progress=lambda m: err.print(m, markup=False))
        home = lab.arf_home
        out.print(f"ARF            {lab.arf_url}  (incidents: arf incidents --home {home})")
        out.print(f"Prometheus     http://127.0.0.1:{lab.ports['prometheus']}/alerts")
        out.print(f"Alertmanager   http://127.0.0.1:{lab.ports['alertmanager']}")
        out.print(f"deploy API     http://127.0.0.1:{lab.ports['deployer']}")
        out.print(f"IaC repository {lab.iac}")
        out.print(f"logs           {lab.root / 'logs'} (tail -f {lab.root / 'logs' / 'arf.log'})")
        out.print(f"faults         arf lab inject {{{','.join(stack.FAULTS)}}} --dir {folder}")


@lab_app.command("down")
def lab_down(folder: DirOption = DEFAULT_DIR) -> None:
    """Stop every process of the lab and remove its folder."""
    with handled():
        stack.down(folder, progress=lambda m: err.print(m, markup=False))


@lab_app.command("status")
def lab_status(folder: DirOption = DEFAULT_DIR) -> None:
    """Which of the lab's processes run."""
    with handled():
        for name, state in stack.status(stack.Lab.load(folder)).items():
            out.print(f"{name:14} {state}")


@lab_app.command("inject")
def lab_inject(
    fault: Annotated[str, typer.Argument(help=f"one of {', '.join(stack.FAULTS)}")],
    folder: DirOption = DEFAULT_DIR,
    wait: Annotated[float, typer.Option(help="seconds to wait until it is undone (0: don't)")] = 0,
) -> None:
    """Make a fault happen; with --wait, report when the platform is healthy again and ARF
    has closed every incident (wait before the next fault: two faults at once are one
    incident when their services depend on each other)."""
    with handled():
        lab = stack.Lab.load(folder)
        if fault not in stack.FAULTS:
            raise InputError(f"unknown fault {fault!r}; known: {', '.join(stack.FAULTS)}")
        started, injected = time.monotonic(), datetime.now(UTC)
        out.print(stack.inject(lab, fault))
        if wait <= 0:
            return
        while time.monotonic() - started < wait:
            time.sleep(2)
            with runtime_for(lab.arf_home) as runtime:
                incidents = operations.list_incidents(runtime)
            fresh = [i for i in incidents if i.opened_at >= injected]
            closed = all(i.state in TERMINAL_STATES for i in incidents)
            if fresh and closed and stack.undone(lab, fault):
                latest = max(fresh, key=lambda i: i.opened_at)
                out.print(
                    f"undone after {time.monotonic() - started:.0f} s:"
                    f" {latest.incident_id} {latest.outcome.value}"
                )
                return
        raise InputError(f"{fault} was not undone within {wait:.0f} s")
