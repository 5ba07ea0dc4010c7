"""Reuse of a diagnosis for an identical snapshot (same hash, reasoner, model, prompt, catalog).

A model call is slow and may cost money; the same snapshot asked again (a restart after a crash
between the answer and its commit, an evaluation run repeated) gets the stored answer back,
marked as reused. The cache is a port: `runtime` keeps it in files under `$ARF_HOME/cache`.
"""

from __future__ import annotations

from collections.abc import Sequence

from arf.core.canonical import content_hash
from arf.core.ports import DiagnosisCache, Reasoner
from arf.core.records import ActionSpec, ContextSnapshot, Diagnosis


class CachedReasoner:
    def __init__(self, inner: Reasoner, cache: DiagnosisCache, identity: str) -> None:
        self._inner = inner
        self._cache = cache
        self._identity = identity  # model id and prompt version: what makes answers differ

    @property
    def name(self) -> str:
        return self._inner.name

    def key(self, snapshot: ContextSnapshot, catalog: Sequence[ActionSpec]) -> str:
        return content_hash(
            {
                "snapshot": snapshot.content_hash(),
                "reasoner": self._inner.name,
                "identity": self._identity,
                "catalog": [spec.digest() for spec in catalog],
            }
        )

    def diagnose(
        self, snapshot: ContextSnapshot, catalog: Sequence[ActionSpec], diagnosis_id: str
    ) -> Diagnosis:
        key = self.key(snapshot, catalog)
        found = self._cache.get(key)
        if found is not None and found.snapshot_hash == snapshot.content_hash():
            renamed = Diagnosis.model_validate_json(
                found.model_dump_json().replace(found.diagnosis_id, diagnosis_id)
            )
            return renamed.model_copy(
                update={
                    "notes": (
                        *found.notes,
                        f"reused the answer given as {found.diagnosis_id} for this identical"
                        " snapshot",
                    )[-20:],
                }
            )
        diagnosis = self._inner.diagnose(snapshot, catalog, diagnosis_id)
        self._cache.put(key, diagnosis)
        return diagnosis
