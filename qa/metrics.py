"""Prometheus metrics of one service: requests and latency by route, questions and the answered
ratio, rate-limit refusals, store write failures, and the index being served (read at scrape time)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily

if TYPE_CHECKING:
    from qa.service import Service

LATENCY_BUCKETS = (0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The service's counters, in a registry of its own (one per service, so tests do not share)."""

    def __init__(self, service: Service) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("qa_http_requests", "HTTP requests by route and status",
                                ["route", "method", "status"], registry=self.registry)
        self.latency = Histogram("qa_http_request_duration_seconds", "Time to the end of the response, by route",
                                 ["route"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.questions = Counter("qa_questions", "Questions searched, by whether they were answered and channel",
                                 ["answered", "channel"], registry=self.registry)
        self.rate_limited = Counter("qa_rate_limited", "Requests refused with 429, by limit (ip or key)",
                                    ["limit"], registry=self.registry)
        self.store_failures = Counter("qa_store_write_failures", "Questions or feedback that could not be recorded",
                                      registry=self.registry)
        ratio = Gauge("qa_answered_ratio", "Share of questions answered since start", registry=self.registry)
        ratio.set_function(self._answered_ratio)
        self.registry.register(_IndexCollector(service))

    def _answered_ratio(self) -> float:
        answered = asked = 0.0
        for metric in self.questions.collect():
            for sample in metric.samples:
                if sample.name.endswith("_total"):
                    asked += sample.value
                    answered += sample.value if sample.labels.get("answered") == "true" else 0.0
        return answered / asked if asked else 0.0

    def question(self, answered: bool, channel: str) -> None:
        self.questions.labels("true" if answered else "false", channel).inc()


class _IndexCollector:
    """Index gauges read at scrape time, so a hot reload shows at once."""

    def __init__(self, service: Service) -> None:
        self.service = service

    def collect(self):  # type: ignore[no-untyped-def]
        searcher = self.service.searcher
        ready = GaugeMetricFamily("qa_ready", "1 when an index is loaded and answering")
        ready.add_metric([], 0.0 if searcher is None else 1.0)
        yield ready
        if searcher is None:
            return
        manifest = searcher.index.manifest
        info = GaugeMetricFamily("qa_index_info", "The build being served", labels=["build", "model", "built_at"])
        info.add_metric([searcher.index.folder.name, manifest.model, manifest.built_at], 1.0)
        yield info
        entries = GaugeMetricFamily("qa_index_entries", "Entries in the index being served")
        entries.add_metric([], float(manifest.entries))
        yield entries
