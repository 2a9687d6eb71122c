"""The exporter's own parse, build and render, run in-process on kept answers.

This is the work the exporter does per scrape apart from the network: the same functions the
client and the collector call (`_decode_conferences`: the typed fast path, or the lenient
parser for answers it refuses; `parse_envelope` and `parse_conference_ids` for discovery) and
the same `Renderer`. Timing it here, on the same bytes as the reference, splits the exporter's
CPU into parsing and rendering without instrumenting the exporter process.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from exporter.collector import ID_SOURCES, Collection
from exporter.exposition import GatewayView, Renderer
from exporter.gateway.client import _decode_conferences
from exporter.gateway.models import Conference, parse_conference_ids, parse_envelope

from .answers import DURATION, TIMEOUT, Answers, Counters


@dataclass(frozen=True, slots=True)
class PipelineTiming:
    """CPU seconds (process time) of one in-process scrape, and what it produced."""

    parse: float
    render: float
    conferences: int
    output_bytes: int

    @property
    def total(self) -> float:
        return self.parse + self.render


def parse(answers: Answers) -> Collection:
    """Bodies -> a Collection, as the client and the collector build it."""
    ids = parse_conference_ids(parse_envelope(answers.discovery).result)
    conferences: list[Conference] = []
    skipped = 0
    for body in answers.batches:
        _, page = _decode_conferences(body, "UTF-8", False, 500)
        assert page is not None
        conferences.extend(page.conferences)
        skipped += page.skipped
    by_source = dict.fromkeys(ID_SOURCES, 0)
    by_source["discovered"] = len(ids)
    return Collection(
        answers.gateway,
        TIMEOUT,
        up=True,
        signed_in=True,
        duration=DURATION,
        requested=len(set(ids)),
        conferences=conferences,
        detailed=sorted(conferences, key=_conf_id),
        ids_by_source=by_source,
        skipped_entries=skipped,
    )


def render(renderer: Renderer, collection: Collection, counters: Counters) -> bytes:
    """A Collection -> the bytes `/probe` would send (text format, default series)."""
    view = GatewayView(
        collection,
        counters.stats,
        methods=counters.methods,
        discovery_failures=counters.discovery_failures,
    )
    return b"".join(renderer.render_bytes([view]))


def scrape(renderer: Renderer, answers: Answers, counters: Counters) -> bytes:
    return render(renderer, parse(answers), counters)


def timed_scrape(renderer: Renderer, answers: Answers, counters: Counters) -> PipelineTiming:
    started = time.process_time()
    collection = parse(answers)
    parsed = time.process_time()
    body = render(renderer, collection, counters)
    done = time.process_time()
    return PipelineTiming(parsed - started, done - parsed, len(collection.conferences), len(body))


def _conf_id(conference: Conference) -> int:
    return conference.conf_id
