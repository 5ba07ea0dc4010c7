"""Several reasoners on one snapshot, merged with provenance.

Every reasoner runs on the same snapshot, in parallel, under one deadline. Hypotheses that
name the same category on the same service are merged: agreement raises confidence
(`c = c_max + (1 - c_max) * AGREEMENT * c_second`), a hypothesis that another reasoner which
answered did not put forward is discounted (`c * DISAGREEMENT`), and both are written into
the diagnosis' notes for the explanation. A reasoner that fails or times out is noted; the
others still produce a diagnosis. Only when every reasoner fails does the merge fail.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime

from arf.core.canonical import canonical_json
from arf.core.clock import Clock
from arf.core.errors import ReasoningError
from arf.core.ports import Reasoner
from arf.core.records import (
    ActionSpec,
    ContextSnapshot,
    Diagnosis,
    Hypothesis,
    RemediationPlan,
)

AGREEMENT = 0.5
DISAGREEMENT = 0.8


@dataclass
class _Group:
    members: list[tuple[str, Hypothesis]] = field(default_factory=list)

    def reasoners(self) -> tuple[str, ...]:
        return tuple(sorted({name for name, _ in self.members}))


def _key(hypothesis: Hypothesis) -> tuple[str, str]:
    return hypothesis.category.value, hypothesis.service or ""


def merge_diagnoses(
    results: Sequence[Diagnosis],
    failures: Sequence[str],
    *,
    diagnosis_id: str,
    snapshot: ContextSnapshot,
    created_at: datetime,
) -> Diagnosis:
    """One diagnosis from several, with provenance and agreement notes."""
    groups: dict[tuple[str, str], _Group] = {}
    for result in results:
        for hypothesis in result.hypotheses:
            groups.setdefault(_key(hypothesis), _Group()).members.append(
                (result.reasoner, hypothesis)
            )
    answered = {r.reasoner for r in results}
    merged: list[tuple[float, tuple[str, str], Hypothesis]] = []
    for key, group in groups.items():
        ranked = sorted(group.members, key=lambda m: -m[1].confidence)
        best = ranked[0][1]
        names = group.reasoners()
        confidence = best.confidence
        if len(names) >= 2:
            second = next(h.confidence for n, h in ranked if n != ranked[0][0])
            confidence = confidence + (1 - confidence) * AGREEMENT * second
        elif len(answered) >= 2:
            confidence = confidence * DISAGREEMENT
        evidence: list[str] = []
        for _, hypothesis in ranked:
            evidence.extend(e for e in hypothesis.evidence_ids if e not in evidence)
        rejected: list[str] = []
        for _, hypothesis in ranked:
            rejected.extend(r for r in hypothesis.rejected_alternatives if r not in rejected)
        support = sorted({s for _, hypothesis in ranked for s in hypothesis.support})
        merged.append(
            (
                confidence,
                key,
                best.model_copy(
                    update={
                        "confidence": round(min(confidence, 0.99), 4),
                        "evidence_ids": tuple(evidence[:50]),
                        "rejected_alternatives": tuple(rejected[:20]),
                        "reasoners": names,
                        "support": tuple(support),
                    }
                ),
            )
        )
    merged.sort(key=lambda m: (-m[0], m[1]))
    new_ids: dict[tuple[str, str], str] = {}
    hypotheses: list[Hypothesis] = []
    for index, (_, key, hypothesis) in enumerate(merged[:20], start=1):
        new_ids[key] = f"{diagnosis_id}-h{index}"
        hypotheses.append(hypothesis.model_copy(update={"hypothesis_id": new_ids[key]}))
    confidence_of = {h.hypothesis_id: h.confidence for h in hypotheses}
    plans = _merge_plans(results, new_ids, confidence_of, diagnosis_id)
    return Diagnosis(
        diagnosis_id=diagnosis_id,
        incident_id=snapshot.incident_id,
        snapshot_hash=snapshot.content_hash(),
        reasoner="merged",
        model_id=", ".join(r.model_id for r in results if r.model_id),
        hypotheses=tuple(hypotheses),
        plans=plans,
        created_at=created_at,
        latency_ms=max((r.latency_ms for r in results), default=0.0),
        tokens_in=sum(r.tokens_in for r in results),
        tokens_out=sum(r.tokens_out for r in results),
        cost_usd=sum(r.cost_usd for r in results),
        prompt_version=", ".join(sorted({r.prompt_version for r in results if r.prompt_version})),
        notes=tuple(_notes(results, failures))[:20],
    )


def _merge_plans(
    results: Sequence[Diagnosis],
    new_ids: dict[tuple[str, str], str],
    confidence_of: dict[str, float],
    diagnosis_id: str,
) -> tuple[RemediationPlan, ...]:
    seen: dict[str, tuple[int, RemediationPlan, set[str]]] = {}
    position = 0
    for result in results:
        old_to_key = {h.hypothesis_id: _key(h) for h in result.hypotheses}
        for plan in result.plans:
            ids = tuple(
                dict.fromkeys(
                    new_ids[old_to_key[h]]
                    for h in plan.hypothesis_ids
                    if h in old_to_key and old_to_key[h] in new_ids
                )
            )
            if not ids:
                continue
            steps_key = canonical_json([s.model_dump(mode="json") for s in plan.steps])
            if steps_key in seen:
                index, kept, sources = seen[steps_key]
                sources.add(result.reasoner)
                boosted = kept.confidence + (1 - kept.confidence) * AGREEMENT * plan.confidence
                seen[steps_key] = (index, kept.model_copy(update={"confidence": boosted}), sources)
                continue
            seen[steps_key] = (
                position,
                plan.model_copy(update={"hypothesis_ids": ids}),
                {result.reasoner},
            )
            position += 1
    ordered = sorted(
        seen.values(),
        key=lambda item: (
            -max(confidence_of.get(h, 0.0) for h in item[1].hypothesis_ids),
            -len(item[1].hypothesis_ids),
            item[0],
        ),
    )
    return tuple(
        plan.model_copy(
            update={
                "plan_id": f"{diagnosis_id}-p{index}",
                "confidence": round(min(plan.confidence, 0.99), 4),
            }
        )
        for index, (_, plan, _) in enumerate(ordered[:10], start=1)
    )


def _notes(results: Sequence[Diagnosis], failures: Sequence[str]) -> list[str]:
    notes = list(failures)
    tops = {
        r.reasoner: (top.category.value, top.service or "")
        for r in results
        if (top := r.top_hypothesis()) is not None
    }
    silent = sorted(r.reasoner for r in results if not r.hypotheses)
    if len(set(tops.values())) == 1 and len(tops) >= 2 and not silent:
        category, service = next(iter(tops.values()))
        notes.append(
            f"agreement: {' and '.join(sorted(tops))} all name {category}"
            f" on {service or 'the incident'}"
        )
    elif len(tops) + len(silent) >= 2:
        named = "; ".join(
            f"{name} names {c} on {s or 'the incident'}" for name, (c, s) in sorted(tops.items())
        )
        notes.append(
            "disagreement: "
            + named
            + (f"; {', '.join(silent)} found nothing" if silent else "")
            + " (confidence of unshared hypotheses lowered)"
        )
    return notes


class MergedReasoner:
    """Runs every reasoner on the snapshot under one deadline and merges their diagnoses."""

    def __init__(
        self, reasoners: Sequence[Reasoner], clock: Clock, timeout_s: float = 240.0
    ) -> None:
        if not reasoners:
            raise ValueError("a merged reasoner needs at least one reasoner")
        self._reasoners = tuple(reasoners)
        self._clock = clock
        self._timeout_s = timeout_s

    @property
    def name(self) -> str:
        return "merged"

    def diagnose(
        self, snapshot: ContextSnapshot, catalog: Sequence[ActionSpec], diagnosis_id: str
    ) -> Diagnosis:
        pool = ThreadPoolExecutor(max_workers=len(self._reasoners), thread_name_prefix="reasoner")
        futures: dict[str, Future[Diagnosis]] = {
            r.name: pool.submit(r.diagnose, snapshot, catalog, f"{diagnosis_id}-{r.name}")
            for r in self._reasoners
        }
        wait(futures.values(), timeout=self._timeout_s)
        pool.shutdown(wait=False, cancel_futures=True)
        results: list[Diagnosis] = []
        failures: list[str] = []
        for name, future in futures.items():
            if not future.done():
                failures.append(f"{name} did not answer within {self._timeout_s:g} s")
                continue
            error = future.exception()
            if error is not None:
                failures.append(f"{name} failed: {str(error)[:300]}")
            else:
                results.append(future.result())
        if not results:
            raise ReasoningError("every reasoner failed: " + "; ".join(failures))
        return merge_diagnoses(
            results,
            failures,
            diagnosis_id=diagnosis_id,
            snapshot=snapshot,
            created_at=self._clock.now(),
        )
