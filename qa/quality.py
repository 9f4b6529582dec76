"""Corpus quality checks that need the embedding model: near-duplicate questions across entries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from qa.corpus import Corpus
from qa.text import normalise

if TYPE_CHECKING:
    from qa.encoder import Encoder

NEAR_DUPLICATE_COSINE = 0.95


@dataclass(frozen=True)
class NearDuplicate:
    entry: str
    phrasing: str
    other_entry: str
    other_phrasing: str
    cosine: float

    def __str__(self) -> str:
        return (f"{self.entry}: {self.phrasing!r} ≈ {self.other_entry}: {self.other_phrasing!r} "
                f"(cosine {self.cosine:.3f}); reword one or merge the entries")


def near_duplicates(
    corpus: Corpus, encoder: Encoder, threshold: float = NEAR_DUPLICATE_COSINE, block: int = 2048
) -> list[NearDuplicate]:
    """Pairs of phrasings of different published entries whose embeddings are nearly identical."""
    from qa.encoder import encode

    owners: list[str] = []
    texts: list[str] = []
    for entry in corpus.published:
        for phrasing in entry.phrasings:
            owners.append(entry.id)
            texts.append(phrasing)
    if not texts:
        return []
    vectors = encode(encoder, [normalise(t) for t in texts])
    owner_ids = np.asarray(owners)
    found: dict[tuple[str, str], NearDuplicate] = {}
    for start in range(0, len(texts), block):
        sims = vectors[start : start + block] @ vectors.T
        rows, cols = np.nonzero(sims >= threshold)
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            i = start + r
            if c <= i or owner_ids[i] == owner_ids[c]:
                continue
            pair = (min(owners[i], owners[c]), max(owners[i], owners[c]))
            if frozenset(pair) in corpus.distinct_pairs:
                continue
            cosine = float(sims[r, c])
            if pair not in found or cosine > found[pair].cosine:
                found[pair] = NearDuplicate(owners[i], texts[i], owners[c], texts[c], cosine)
    return sorted(found.values(), key=lambda d: -d.cosine)
