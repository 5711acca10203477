"""Reading a real /metrics endpoint (not a test module): GET it over HTTP and parse the
text with prometheus_client's own parser, as Prometheus would."""

from __future__ import annotations

import urllib.request

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample


class Scrape:
    """One scrape: every sample by name, and the families (with their types)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.families = {f.name: f for f in text_string_to_metric_families(text)}
        self.samples: list[Sample] = [s for f in self.families.values() for s in f.samples]

    def matching(self, name: str, **labels: str) -> list[Sample]:
        return [s for s in self.samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples of `name` whose labels include `labels` (0 when none)."""
        return sum(s.value for s in self.matching(name, **labels))


def scrape(url: str, timeout_s: float = 10.0) -> Scrape:
    with urllib.request.urlopen(url, timeout=timeout_s) as reply:  # noqa: S310 - a local test endpoint
        assert reply.status == 200
        assert reply.headers.get_content_type() == "text/plain"
        return Scrape(reply.read().decode())


async def ascrape(url: str) -> Scrape:
    import asyncio

    return await asyncio.to_thread(scrape, url)
