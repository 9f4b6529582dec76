"""Property-based tests: the API fuzzed from its own OpenAPI schema (schemathesis), and text
normalisation over any Unicode string (hypothesis)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from qa.api.app import create_app
from qa.config import Settings
from qa.service import Service
from qa.text import normalise, question_problem, to_simplified


def _schema() -> Any:
    """The app's own OpenAPI schema (the schema needs no model or index, so it is read at collection)."""
    unloaded = Settings(ui=False, database_url="sqlite://")
    return schemathesis.openapi.from_dict(create_app(unloaded, Service(unloaded)).openapi())


schema = _schema()


@pytest.fixture(scope="module")
def fuzz_app(settings: Settings, built_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The whole app (API, policy pages, widget, chat) on the real index, with its own database, limits off."""
    db = tmp_path_factory.mktemp("fuzz") / "qa.sqlite3"
    fuzz_settings = settings.model_copy(update={"database_url": f"sqlite:///{db}", "rate_limit_per_minute": 0,
                                                "admin_token": "fuzz-admin-token"})
    service = Service(fuzz_settings)
    service.load()
    return create_app(fuzz_settings, service)


@schema.parametrize()
@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_generated_request_makes_the_server_fail(case: Any, fuzz_app: Any) -> None:
    response = case.call(app=fuzz_app)
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code} {response.text}"
    if response.status_code >= 400:
        body = response.json()
        assert body.get("error") and body.get("message"), (case.method, case.formatted_path, response.status_code, body)


@given(st.text())
@hypothesis_settings(max_examples=500, deadline=None)
def test_normalise_takes_any_text_and_is_idempotent(text: str) -> None:
    once = normalise(text)
    assert normalise(once) == once
    assert to_simplified(once) == to_simplified(to_simplified(once))
    question_problem(text, 500)  # never raises


@given(st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=40))
@hypothesis_settings(max_examples=200, deadline=None)
def test_any_question_the_checks_accept_can_be_searched(searcher, text: str) -> None:  # type: ignore[no-untyped-def]
    if question_problem(text, 500) is None:
        result = searcher.search(text, k=3)
        assert len(result.hits) <= 3
