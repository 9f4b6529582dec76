"""The HTTP API: happy paths and every bad-input case get a clear JSON answer."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from qa.api.app import create_app
from qa.config import Settings
from qa.service import Service


def test_search_returns_hits_with_sources(client: TestClient) -> None:
    response = client.get("/v1/search", params={"q": "怎么提取住房公积金", "k": 3})
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {"query", "answered", "hits", "took_ms"}
    assert body["query"] == "怎么提取住房公积金" and body["answered"] is True
    assert len(body["hits"]) == 3
    hit = body["hits"][0]
    assert set(hit) == {"id", "question", "answer", "score", "category", "sources"}
    assert set(hit["sources"][0]) == {"title", "doc_no", "issuer", "url", "status"}


def test_unanswerable_question_says_so(client: TestClient) -> None:
    body = client.get("/v1/search", params={"q": "今天天气怎么样"}).json()
    assert body["answered"] is False and body["suggestions"]


def test_bad_input_gets_a_clear_4xx(client: TestClient) -> None:
    cases = [
        ({"q": ""}, "q"),
        ({"q": "   \t "}, "q"),
        ({"q": "问" * 501}, "q"),
        ({"q": "？？？"}, "q"),
        ({"q": "社保", "k": 0}, "k"),
        ({"q": "社保", "k": 51}, "k"),
        ({"q": "社保", "k": "many"}, "k"),
        ({}, "q"),
    ]
    for params, field in cases:
        response = client.get("/v1/search", params=params)
        assert response.status_code == 422, params
        body = response.json()
        assert body["error"] == "invalid_request" and body["field"] == field and body["message"], params
    assert client.get("/v1/search", params={"q": "问" * 500}).status_code == 200


def test_entry_by_id_and_unknown_id(client: TestClient) -> None:
    first = client.get("/v1/search", params={"q": "异地就医备案"}).json()["hits"][0]
    entry = client.get(f"/v1/qa/{first['id']}").json()
    assert entry["question"] == first["question"] and entry["alternates"] and entry["sources"]
    missing = client.get("/v1/qa/no-such-entry")
    assert missing.status_code == 404 and "no-such-entry" in missing.json()["message"]


def test_categories_health_ready_and_docs(client: TestClient) -> None:
    categories = client.get("/v1/categories").json()
    assert {"住房公积金", "社会保险", "政府信息公开"} <= {c["name"] for c in categories}
    assert sum(c["entries"] for c in categories) == client.get("/readyz").json()["entries"]
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    assert client.get("/docs").status_code == 200
    assert "/v1/search" in client.get("/openapi.json").json()["paths"]


def test_not_ready_without_an_index(settings: Settings, tmp_path: Path) -> None:
    empty = settings.model_copy(update={"index_dir": tmp_path / "nothing"})
    with TestClient(create_app(empty, Service(empty))) as c:
        ready = c.get("/readyz")
        assert ready.status_code == 503 and "qa build" in ready.json()["reason"]
        search = c.get("/v1/search", params={"q": "社保"})
        assert search.status_code == 503 and search.json()["error"] == "not_ready"
        assert c.get("/healthz").status_code == 200
