"""The proxy's counters, exposed at ``GET /metrics`` in the Prometheus text format (version 0.0.4).

Written by hand (a few counters and one histogram) rather than with ``prometheus_client``, to
keep the proxy's dependencies at fastapi, uvicorn and httpx. All updates happen on the event
loop or under a lock, so the numbers are consistent with each other.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass
class _Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * len(LATENCY_BUCKETS))
    total: int = 0
    sum: float = 0.0

    def observe(self, value: float) -> None:
        for i, bound in enumerate(LATENCY_BUCKETS):
            if value <= bound:
                self.counts[i] += 1
        self.total += 1
        self.sum += value


def _labels(**kv: str) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in kv.items())
    return "{" + inner + "}" if inner else ""


class ProxyMetrics:
    """Requests, latency, choices by filter rule, generator samples, upstream errors, scoring."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, int], int] = defaultdict(int)
        self.latency: dict[str, _Histogram] = defaultdict(_Histogram)
        self.choices: dict[str, int] = defaultdict(int)
        self.samples = 0
        self.upstream_errors: dict[int, int] = defaultdict(int)
        self.in_flight = 0

    def request_done(self, route: str, status: int, seconds: float) -> None:
        """Count a finished request and its latency."""
        with self._lock:
            self.requests[(route, status)] += 1
            self.latency[route].observe(seconds)

    def choices_done(self, rules: list[str], attempts: int) -> None:
        """Count returned choices by filter rule, and the generator samples they took."""
        with self._lock:
            for rule in rules:
                self.choices[rule] += 1
            self.samples += attempts

    def upstream_error(self, status: int) -> None:
        """Count an upstream failure by the status the proxy answered."""
        with self._lock:
            self.upstream_errors[status] += 1

    def render(self, score_calls: int, score_pairs: int, merged_calls: int, score_seconds: float) -> str:
        """The exposition text."""
        out: list[str] = []

        def family(name: str, kind: str, help_: str) -> None:
            out.append(f"# HELP {name} {help_}")
            out.append(f"# TYPE {name} {kind}")

        with self._lock:
            family("nines_proxy_requests_total", "counter", "Requests answered, by route and HTTP status.")
            for (route, status), v in sorted(self.requests.items()):
                out.append(f"nines_proxy_requests_total{_labels(route=route, status=str(status))} {v}")
            family("nines_proxy_request_seconds", "histogram", "Request latency in seconds, by route.")
            for route, h in sorted(self.latency.items()):
                for bound, c in zip(LATENCY_BUCKETS, h.counts):
                    out.append(f"nines_proxy_request_seconds_bucket{_labels(route=route, le=f'{bound:g}')} {c}")
                out.append(f"nines_proxy_request_seconds_bucket{_labels(route=route, le='+Inf')} {h.total}")
                out.append(f"nines_proxy_request_seconds_sum{_labels(route=route)} {h.sum:.6f}")
                out.append(f"nines_proxy_request_seconds_count{_labels(route=route)} {h.total}")
            family("nines_proxy_choices_total", "counter",
                   "Returned choices by filter rule (accepted, fallback_refuse, fallback_safest).")
            for rule, v in sorted(self.choices.items()):
                out.append(f"nines_proxy_choices_total{_labels(rule=rule)} {v}")
            family("nines_proxy_generator_samples_total", "counter", "Completions sampled from the generator.")
            out.append(f"nines_proxy_generator_samples_total {self.samples}")
            family("nines_proxy_upstream_errors_total", "counter", "Upstream failures, by the status answered.")
            for status, v in sorted(self.upstream_errors.items()):
                out.append(f"nines_proxy_upstream_errors_total{_labels(status=str(status))} {v}")
            family("nines_proxy_in_flight", "gauge", "Requests being filtered now.")
            out.append(f"nines_proxy_in_flight {self.in_flight}")
        family("nines_proxy_classifier_calls_total", "counter", "Classifier score calls.")
        out.append(f"nines_proxy_classifier_calls_total {score_calls}")
        family("nines_proxy_classifier_pairs_total", "counter", "(prompt, completion) pairs scored.")
        out.append(f"nines_proxy_classifier_pairs_total {score_pairs}")
        family("nines_proxy_classifier_merged_calls_total", "counter",
               "Classifier calls that scored several requests' pairs together.")
        out.append(f"nines_proxy_classifier_merged_calls_total {merged_calls}")
        family("nines_proxy_classifier_seconds_total", "counter", "Seconds spent in classifier calls.")
        out.append(f"nines_proxy_classifier_seconds_total {score_seconds:.6f}")
        return "\n".join(out) + "\n"
