"""``qa corpus diff OLD NEW``: which entries an edit added, removed or changed, and how."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from qa.corpus import Corpus


@dataclass
class CorpusDiff:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: dict[str, list[str]] = field(default_factory=dict)  # id -> changed field names

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def lines(self) -> list[str]:
        out = [f"+ {eid}" for eid in self.added] + [f"- {eid}" for eid in self.removed]
        out += [f"~ {eid}: {', '.join(fields)}" for eid, fields in self.changed.items()]
        out.append(f"{len(self.added)} added, {len(self.removed)} removed, {len(self.changed)} changed")
        return out


def diff_corpora(old: Corpus, new: Corpus) -> CorpusDiff:
    """Entries compared by id; a changed entry lists the fields that differ."""
    before = {e.id: asdict(e) for e in old.entries}
    after = {e.id: asdict(e) for e in new.entries}
    result = CorpusDiff(added=sorted(after.keys() - before.keys()), removed=sorted(before.keys() - after.keys()))
    for eid in sorted(before.keys() & after.keys()):
        fields = [k for k in after[eid] if after[eid][k] != before[eid][k]]
        if fields:
            result.changed[eid] = fields
    return result
