"""The `arf bench` report: Markdown and HTML with PNG charts, plus the raw records as JSON.

Everything in the report except the control-plane timing section is a function of the
records, and the records are a function of the seeds: the same command gives the same
numbers.
"""

from __future__ import annotations

import dataclasses
import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt

from arf.bench import results as m
from arf.bench.episode import HORIZON_S, RunRecord
from arf.bench.human import load_human_model
from arf.bench.run import BenchConfig, BenchResult, select
from arf.bench.scenarios import CLASSES, packaged_scenarios
from arf.core.errors import InputError

# The LLM-ARF paper's claims (shared/data/baselines.md), as reductions against manual on-call.
CLAIMS = {
    "MTTR": (0.30, 0.55),
    "toil": (0.40, 0.60),
    "alert fatigue": (0.25, 0.45),
}
# ... and the metric each claim is about
CLAIMED_METRICS: dict[str, m.Metric] = {
    "MTTR": m.mttr_s,
    "toil": m.toil_min,
    "alert fatigue": m.pages_per_resolved,
}
CLAIMED_FALSE_RATE = 0.03
Table = list[list[str]]


@dataclasses.dataclass(frozen=True)
class Report:
    markdown: Path
    html: Path
    records: Path
    charts: tuple[Path, ...]


def _headline(records: Sequence[RunRecord]) -> Table:
    rows = [
        [
            "system",
            "MTTD (s)",
            "MTTR (min)",
            "resolved",
            "toil (human min/episode)",
            "false remediation",
            "pages per resolved",
            "raw alerts/episode",
            "compliance",
            "wrong plans proposed / blocked",
        ]
    ]
    for system in m.systems_of(records):
        mine = m.of(records, system)
        rows.append(
            [
                system,
                m.estimate(mine, m.mttd_s).text(0),
                m.estimate(mine, m.mttr_s).text(1, 1 / 60),
                m.estimate(mine, m.resolved_share).text(0, 100, "%"),
                m.estimate(mine, m.toil_min).text(1),
                m.estimate(mine, m.false_rate).text(1, 100, "%"),
                m.estimate(mine, m.pages_per_resolved).text(2),
                m.estimate(mine, m.raw_alerts).text(1),
                _compliance(system, mine),
                f"{sum(r.unsafe_proposed for r in mine)} / {sum(r.unsafe_blocked for r in mine)}",
            ]
        )
    return rows


def _compliance(system: str, records: Sequence[RunRecord]) -> str:
    if any(r.audited for r in records):
        return m.estimate(records, m.compliance_rate).text(0, 100, "%")
    return "n/a (nothing executed)" if system.startswith("ARF") else "n/a (no decision records)"


def _claims(records: Sequence[RunRecord]) -> Table:
    rows = [["system", "metric", "claimed reduction", "measured reduction vs manual"]]
    manual = m.of(records, "manual on-call")
    for system in m.systems_of(records):
        if system == "manual on-call":
            continue
        mine = m.of(records, system)
        for name, metric in CLAIMED_METRICS.items():
            low, high = CLAIMS[name]
            value = m.reduction(metric(manual), metric(mine))
            rows.append(
                [
                    system,
                    name,
                    f"{low:.0%}-{high:.0%}",
                    "n/a" if value is None else f"{value:.0%}",
                ]
            )
        rate = m.false_rate(mine)
        rows.append(
            [
                system,
                "false remediation rate",
                f"< {CLAIMED_FALSE_RATE:.0%}",
                "n/a" if rate is None else f"{rate:.1%}",
            ]
        )
    return rows


def _per_class(records: Sequence[RunRecord], metric: m.Metric, digits: int, scale: float) -> Table:
    systems = m.systems_of(records)
    rows = [["class", *systems]]
    for klass in CLASSES:
        if not any(r.scenario_class == klass for r in records):
            continue
        rows.append(
            [
                klass,
                *(m.estimate(m.of(records, s, klass), metric).text(digits, scale) for s in systems),
            ]
        )
    return rows


def _scenarios(records: Sequence[RunRecord]) -> Table:
    systems = m.systems_of(records)
    rows = [["scenario", "class", *systems]]
    names: list[tuple[str, str]] = []
    for r in records:
        if (r.scenario, r.scenario_class) not in names:
            names.append((r.scenario, r.scenario_class))
    for name, klass in names:
        cells = []
        for system in systems:
            mine = [r for r in m.of(records, system) if r.scenario == name]
            resolved = sum(1 for r in mine if r.resolved_s is not None)
            wrong = sum(r.false_remediations for r in mine)
            cell = f"{resolved}/{len(mine)} resolved"
            if wrong:
                cell += f", {wrong} false"
            if any(r.escalated for r in mine):
                cell += ", escalated"
            cells.append(cell)
        rows.append([name, klass, *cells])
    return rows


def _sensitivity(result: BenchResult) -> Table:
    rows = [
        [
            "human times x",
            "manual MTTR (min)",
            "ARF MTTR (min)",
            "MTTR reduction",
            "manual toil",
            "ARF toil",
            "toil reduction",
        ]
    ]
    variants = {1.0: result.records, **result.sensitivity}
    for factor in sorted(variants):
        records = variants[factor]
        manual = m.of(records, "manual on-call")
        arf = m.of(records, "ARF (evidence)")
        if not manual or not arf:
            continue
        r_mttr = m.reduction(m.mttr_s(manual), m.mttr_s(arf))
        r_toil = m.reduction(m.toil_min(manual), m.toil_min(arf))
        rows.append(
            [
                f"{factor:g}",
                f"{(m.mttr_s(manual) or 0) / 60:.1f}",
                f"{(m.mttr_s(arf) or 0) / 60:.1f}",
                "n/a" if r_mttr is None else f"{r_mttr:.0%}",
                f"{m.toil_min(manual) or 0:.1f}",
                f"{m.toil_min(arf) or 0:.1f}",
                "n/a" if r_toil is None else f"{r_toil:.0%}",
            ]
        )
    return rows


def _performance(records: Sequence[RunRecord]) -> Table:
    rows = [
        ["system", "incidents", "overhead p50 (ms)", "overhead p99 (ms)", "incidents/hour/core"]
    ]
    for system in m.systems_of(records):
        values = [v for r in m.of(records, system) for v in r.overhead_ms]
        if not values:
            continue
        p50, p99 = m.percentile(values, 0.5), m.percentile(values, 0.99)
        mean = sum(values) / len(values)
        rows.append(
            [
                system,
                str(len(values)),
                f"{p50:.1f}" if p50 is not None else "n/a",
                f"{p99:.1f}" if p99 is not None else "n/a",
                f"{3_600_000 / mean:,.0f}" if mean > 0 else "n/a",
            ]
        )
    return rows


# ------------------------------------------------------------------ charts
def _bar_chart(
    path: Path,
    title: str,
    ylabel: str,
    labels: Sequence[str],
    series: dict[str, list[m.Estimate]],
    scale: float = 1.0,
    line: float | None = None,
) -> Path:
    fig, ax = plt.subplots(figsize=(9, 4.2), dpi=100)
    width = 0.8 / max(1, len(series))
    for index, (name, estimates) in enumerate(series.items()):
        xs = [i + index * width for i in range(len(labels))]
        heights = [(e.mean or 0) * scale for e in estimates]
        lows = [
            max(0.0, h - (e.low or e.mean or 0) * scale)
            for h, e in zip(heights, estimates, strict=True)
        ]
        highs = [
            max(0.0, (e.high or e.mean or 0) * scale - h)
            for h, e in zip(heights, estimates, strict=True)
        ]
        ax.bar(xs, heights, width, label=name, yerr=[lows, highs], capsize=2)
    ax.set_xticks([i + width * (len(series) - 1) / 2 for i in range(len(labels))])
    ax.set_xticklabels(labels, rotation=20, ha="right", fontsize=8)
    if line is not None:
        ax.axhline(line, color="black", linestyle="--", linewidth=1, label="claimed bound")
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _claims_chart(path: Path, records: Sequence[RunRecord]) -> Path:
    manual = m.of(records, "manual on-call")
    metrics = CLAIMED_METRICS
    fig, ax = plt.subplots(figsize=(9, 4.2), dpi=100)
    names = list(metrics)
    for i, name in enumerate(names):
        low, high = CLAIMS[name]
        ax.fill_between(
            [i - 0.4, i + 0.4],
            low * 100,
            high * 100,
            color="grey",
            alpha=0.3,
            label="claimed range" if i == 0 else None,
        )
    others = [s for s in m.systems_of(records) if s != "manual on-call"]
    for j, system in enumerate(others):
        mine = m.of(records, system)
        values = [m.reduction(metrics[n](manual), metrics[n](mine)) for n in names]
        ax.scatter(
            [i - 0.25 + 0.5 * j / max(1, len(others)) for i in range(len(names))],
            [100 * (v or 0) for v in values],
            label=system,
            zorder=3,
        )
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names)
    ax.set_ylabel("reduction vs manual on-call (%)")
    ax.set_title("Claimed (grey) and measured reductions")
    ax.axhline(0, color="black", linewidth=0.5)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _charts(folder: Path, records: Sequence[RunRecord]) -> tuple[Path, ...]:
    folder.mkdir(parents=True, exist_ok=True)
    systems = m.systems_of(records)
    classes = [
        c for c in CLASSES if c != "no_fault" and any(r.scenario_class == c for r in records)
    ]
    mttr = {s: [m.estimate(m.of(records, s, c), m.mttr_s) for c in classes] for s in systems}
    overall = {
        "false remediation": [m.estimate(m.of(records, s), m.false_rate) for s in systems],
    }
    toil = {
        "human minutes per episode": [m.estimate(m.of(records, s), m.toil_min) for s in systems]
    }
    fatigue = {
        "pages per resolved": [m.estimate(m.of(records, s), m.pages_per_resolved) for s in systems],
        "raw alerts per episode / 10": [
            dataclasses.replace(
                e,
                mean=None if e.mean is None else e.mean / 10,
                low=None if e.low is None else e.low / 10,
                high=None if e.high is None else e.high / 10,
            )
            for e in (m.estimate(m.of(records, s), m.raw_alerts) for s in systems)
        ],
    }
    return (
        _bar_chart(
            folder / "mttr_by_class.png",
            "MTTR per incident class",
            "minutes",
            classes,
            mttr,
            scale=1 / 60,
        ),
        _bar_chart(
            folder / "false_remediation.png",
            "False remediation rate",
            "%",
            systems,
            overall,
            scale=100,
            line=100 * CLAIMED_FALSE_RATE,
        ),
        _bar_chart(
            folder / "toil.png", "Operational toil", "human minutes per episode", systems, toil
        ),
        _bar_chart(folder / "alert_fatigue.png", "Alert fatigue", "count", systems, fatigue),
        _claims_chart(folder / "claims.png", records),
    )


# ------------------------------------------------------------------ writers
def _md_table(rows: Table) -> str:
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    return "\n".join(lines)


def _html_table(rows: Table) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows[1:]
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _sections(result: BenchResult, charts: Sequence[Path]) -> list[tuple[str, str | Table | Path]]:
    records = result.records
    config = result.config
    human = result.human
    classes = sorted({s.scenario_class for s in result.specs})
    no_fault = {s: m.no_fault_executions(m.of(records, s)) for s in m.systems_of(records)}
    intro = (
        f"`arf bench --seeds {','.join(map(str, config.seeds))}"
        f" --reasoners {','.join(config.reasoners)}`: {len(result.specs)} scenarios"
        f" ({', '.join(classes)}) on a generated platform of {result.services} services"
        f" and 6 IaC resources, {len(config.seeds)} seed(s), a {HORIZON_S / 3600:.0f} h horizon"
        " per episode. Intervals are 95% percentile-bootstrap intervals over seeds"
        " (shown when there are at least two seeds). Definitions: docs/evaluation.md."
    )
    model = (
        f"Human model (`arf/bench/data/human_model.yaml`, fixed before any run):"
        f" {human.responders:g} responders, acknowledge {human.acknowledge_min:g} min,"
        f" diagnose {human.diagnose_min:g} min, fix {human.fix_min:g} min,"
        f" verify {human.verify_min:g} min, wrong first fix {human.wrong_fix_rate:.0%},"
        f" novel failures x{human.novel_factor:g}, findings picked up after"
        f" {human.ticket_delay_min:g} min, approvals read in {human.review_min:g} min."
    )
    controls = "; ".join(f"{s}: {n}" for s, n in no_fault.items())
    caveats = (
        "Read these numbers with their limits. The simulated platform, its fault models and"
        " the evidence engine were written by the same team, so the evidence engine knows"
        " the symptoms this simulator produces: its numbers are an upper bound of what it"
        " would do on a real platform, not a prediction. The manual baseline is a model with"
        " published means and stated assumptions, not measured people. Static runbooks act"
        " on every alert without correlation, as the issue defines them."
    )
    sections: list[tuple[str, str | Table | Path]] = [
        ("", intro),
        ("", model),
        ("Overall", _headline(records)),
        (
            "Executions on no-fault controls",
            f"Remediations executed on no-fault controls: {controls}.",
        ),
        ("Claimed and measured", _claims(records)),
        ("MTTR per incident class (minutes)", _per_class(records, m.mttr_s, 1, 1 / 60)),
        ("False remediation rate per class (%)", _per_class(records, m.false_rate, 1, 100)),
        ("Toil per class (human minutes per episode)", _per_class(records, m.toil_min, 1, 1)),
        ("Sensitivity to the human model", _sensitivity(result)),
        ("Control-plane overhead (excluding reasoner and action)", _performance(records)),
        ("Per scenario", _scenarios(records)),
        ("Limits", caveats),
    ]
    sections[5:5] = [("Chart: " + p.stem.replace("_", " "), p) for p in charts]
    return sections


def write_report(result: BenchResult, folder: Path) -> Report:
    folder.mkdir(parents=True, exist_ok=True)
    charts = _charts(folder / "charts", result.records)
    sections = _sections(result, charts)
    md = ["# ARF evaluation report", ""]
    body = ["<h1>ARF evaluation report</h1>"]
    for title, content in sections:
        if title:
            md += [f"## {title}", ""]
            body.append(f"<h2>{html.escape(title)}</h2>")
        if isinstance(content, Path):
            rel = content.relative_to(folder).as_posix()
            md += [f"![{content.stem}]({rel})", ""]
            body.append(f'<img src="{html.escape(rel)}" alt="{html.escape(content.stem)}">')
        elif isinstance(content, str):
            md += [content, ""]
            body.append(f"<p>{html.escape(content)}</p>")
        else:
            md += [_md_table(content), ""]
            body.append(_html_table(content))
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto;}"
        "table{border-collapse:collapse;font-size:13px;margin:1em 0;}"
        "td,th{border:1px solid #ccc;padding:3px 6px;}img{max-width:100%;}"
    )
    markdown = folder / "report.md"
    markdown.write_text("\n".join(md), "utf-8")
    page = folder / "report.html"
    page.write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>ARF evaluation</title>"
        f"<style>{style}</style></head><body>{''.join(body)}</body></html>",
        "utf-8",
    )
    data = folder / "records.json"
    # the records without timings are a function of the seeds; timings go beside them
    rows = [dataclasses.asdict(dataclasses.replace(r, overhead_ms=())) for r in result.records]
    data.write_text(json.dumps(rows, indent=1, sort_keys=True), "utf-8")
    (folder / "timings.json").write_text(
        json.dumps({_key(r): r.overhead_ms for r in result.records}), "utf-8"
    )
    run = {
        "seeds": list(result.config.seeds),
        "reasoners": list(result.config.reasoners),
        "scenarios": [spec.name for spec in result.specs],
        "services": result.services,
        "sensitivity": {
            str(factor): [
                dataclasses.asdict(dataclasses.replace(r, overhead_ms=())) for r in records
            ]
            for factor, records in result.sensitivity.items()
        },
    }
    (folder / "run.json").write_text(json.dumps(run, indent=1, sort_keys=True), "utf-8")
    return Report(markdown, page, data, charts)


def _key(record: RunRecord) -> str:
    return f"{record.system}/{record.scenario}/{record.seed}"


def _record(row: dict[str, Any]) -> RunRecord:
    values = dict(row)
    for name in ("executed", "overhead_ms"):
        values[name] = tuple(values.get(name) or ())
    return RunRecord(**values)


def load_result(folder: Path) -> BenchResult:
    """A finished run from its folder (records, timings and run description), so the report
    can be written again without running anything."""
    try:
        rows = json.loads((folder / "records.json").read_text("utf-8"))
        timings_file = folder / "timings.json"
        timings = json.loads(timings_file.read_text("utf-8")) if timings_file.exists() else {}
        run_file = folder / "run.json"
        run = json.loads(run_file.read_text("utf-8")) if run_file.exists() else {}
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read a bench run from {folder}: {exc}") from exc
    try:
        records = [_record(row) for row in rows]
        records = [
            dataclasses.replace(r, overhead_ms=tuple(timings.get(_key(r), ()))) for r in records
        ]
        sensitivity = {
            float(factor): [_record(row) for row in group]
            for factor, group in (run.get("sensitivity") or {}).items()
        }
    except (TypeError, ValueError) as exc:
        raise InputError(f"{folder}/records.json: not a bench run: {exc}") from exc
    names = run.get("scenarios") or list(dict.fromkeys(r.scenario for r in records))
    specs = select(packaged_scenarios(), names)
    reasoners = run.get("reasoners") or [
        r.system[5:-1] for r in records if r.system.startswith("ARF (")
    ]
    config = BenchConfig(
        seeds=tuple(run.get("seeds") or sorted({r.seed for r in records})),
        scenarios=tuple(names),
        reasoners=tuple(dict.fromkeys(reasoners)),
        sensitivity=tuple(sensitivity),
    )
    human = load_human_model()
    services = int(run.get("services") or 54)
    return BenchResult(config, human, specs, services, records, sensitivity)
