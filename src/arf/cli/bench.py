"""`arf bench`: the evaluation on the simulated platform (scenarios x seeds x systems)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from arf.cli.console import err, handled, out
from arf.core.errors import ConfigError, InputError


def _numbers(text: str, kind: type[int] | type[float], what: str) -> tuple[float, ...]:
    try:
        return tuple(kind(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise InputError(
            f"{what}: expected a comma-separated list of numbers, got {text!r}"
        ) from None


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def bench(
    seeds: Annotated[str, typer.Option(help="comma-separated seeds")] = "1,2,3",
    scenarios: Annotated[
        str, typer.Option(help="comma-separated scenario names (default: all)")
    ] = "",
    reasoners: Annotated[
        str, typer.Option(help="ARF reasoners to compare: evidence, local, merged")
    ] = "evidence",
    sensitivity: Annotated[
        str, typer.Option(help="human-model time factors for the sensitivity table")
    ] = "0.5,2",
    out_dir: Annotated[Path, typer.Option("--out", help="report folder")] = Path(".arf/bench"),
    cache: Annotated[
        Path | None, typer.Option(help="diagnosis cache shared between runs (model reasoners)")
    ] = None,
    llm: Annotated[str, typer.Option(help="model for the local and merged reasoners")] = "local",
    human_model: Annotated[
        Path | None, typer.Option(help="a human-model YAML instead of the packaged one")
    ] = None,
    quiet: Annotated[bool, typer.Option(help="no per-episode progress lines")] = False,
    rerender: Annotated[
        Path | None,
        typer.Option("--from", help="write the report again from a finished run's folder"),
    ] = None,
) -> None:
    """Run the evaluation and write report.md, report.html, charts/ and records.json."""
    with handled():
        try:  # matplotlib only when needed, and only in the `bench` extra
            from arf.bench.report import load_result, write_report
        except ModuleNotFoundError as exc:
            if (exc.name or "").partition(".")[0] != "matplotlib":
                raise
            raise ConfigError(
                "`arf bench` draws its charts with matplotlib, which the `bench` extra installs:"
                " .venv/bin/pip install -e '.[bench]' (`make test` installs it)"
            ) from exc
        from arf.bench.run import BenchConfig, run_bench

        if rerender is not None:
            report = write_report(load_result(rerender), out_dir)
            out.print(f"report: {report.markdown}", markup=False, highlight=False)
            return

        config = BenchConfig(
            seeds=tuple(int(s) for s in _numbers(seeds, int, "--seeds")),
            scenarios=_names(scenarios),
            reasoners=_names(reasoners),
            llm=llm,
            sensitivity=tuple(float(f) for f in _numbers(sensitivity, float, "--sensitivity")),
            cache=cache,
            human_model=human_model,
        )
        started = time.perf_counter()

        def progress(line: str) -> None:
            if not quiet or not line.startswith("  "):
                err.print(line, markup=False, highlight=False)

        result = run_bench(config, progress)
        report = write_report(result, out_dir)
        out.print(
            f"{len(result.records)} episodes in {time.perf_counter() - started:.1f} s;"
            f" report: {report.markdown} and {report.html}",
            markup=False,
            highlight=False,
        )
