"""``GET /v1/policies/{id}`` and ``GET /v1/packs``: the policy registry and the policy packs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from qa.api.deps import SearcherDep
from qa.errors import PolicyNotFound

router = APIRouter(prefix="/v1", tags=["policies"])


def _brief(entry: dict[str, Any]) -> dict[str, Any]:
    return {"id": entry["id"], "question": entry["question"], "category": entry["category"]}


def policy_card(searcher: SearcherDep, policy_id: str) -> dict[str, Any]:
    """A policy with the questions of the entries that cite it."""
    policy = searcher.index.policies.get(policy_id)
    if policy is None:
        raise PolicyNotFound(f"no policy with id {policy_id!r}")
    cited = [searcher.entry(eid) for eid in policy["cited_by"]]
    return {**{k: v for k, v in policy.items() if k != "cited_by"},
            "entries": [_brief(e) for e in cited],
            "page": f"/policy/{policy_id}"}


def pack_card(searcher: SearcherDep, pack: dict[str, Any]) -> dict[str, Any]:
    # An entry whose policies all lapsed is not in the index: the pack shows the rest.
    entries = [searcher.index.by_id[eid] for eid in pack["entries"] if eid in searcher.index.by_id]
    return {**pack, "entries": [_brief(e) for e in entries]}


@router.get("/policies/{policy_id}", summary="One policy: registry record, lifecycle links, citing entries")
async def get_policy(policy_id: str, searcher: SearcherDep) -> dict[str, Any]:
    return policy_card(searcher, policy_id)


@router.get("/packs", summary="Policy packs (专题政策包) for groups of people, with their entries")
async def packs(searcher: SearcherDep) -> list[dict[str, Any]]:
    return [pack_card(searcher, p) for p in searcher.index.packs]
