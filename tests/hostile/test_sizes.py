"""Issue 12, item 2: every answer is capped in size, compressed and decompressed.

Before the cap a 200 MB body was parsed (RSS 656 MB, `/-/healthy` blocked 0.8 s), an endless
chunked body on `queryconfinfos` reached ~1 GB within the deadline and on the event poll grew
past 7 GB, and a 1 MB gzip bomb inflated to 3.3 GB. Now an answer over `max_response_size`
(default 16 MiB) is an error with reason `too_large` and its connection is dropped: the gateway
here counts what it managed to send before the exporter let go. Each test has its own exporter,
so one that dies of an attack does not take the next test with it.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable

from .conftest import RigFactory, new_agent_id
from .gateway import (
    _BLOCK,
    VENDOR_NAMES,
    Answer,
    Encoding,
    Endless,
    HostileGateway,
    Method,
    Repeat,
    _pieces,
    body_length,
)
from .rig import GatewayEntry, LatencyProbe, Rig, oversized

MiB = 1 << 20
GiB = 1 << 30
#: The slowest `/-/healthy` answer allowed while a large answer is read and decoded.
HEALTHY_LIMIT = 0.3
#: Over-size answers in a row, for the memory they leave behind.
ROUNDS = 12
TAILS: dict[Method, bytes] = {
    "queryconfinfos": b'","retcode":"0","result":{"confs":[]}}',
    "poll": b'","retcode":"0"}',
}


def attack(rig: Rig, method: Method, answer: Answer) -> None:
    """Serve `answer` once to `method`, watching `/-/healthy` meanwhile; then every check."""
    with LatencyProbe(rig.exporter) as probe:
        rig.serve("g", method, answer, timeout=40)
    tenant = rig.tenant("g")
    sent = [s for s in tenant.served(method) if s.hostile]
    problems = oversized(sent)
    if probe.worst > HEALTHY_LIMIT or probe.failures:
        problems.append(
            f"/-/healthy took up to {probe.worst:.2f}s during the attack "
            f"({probe.count} probes, failures {probe.failures[:2]})"
        )
    metrics = rig.scrape().metrics
    if rig.errors(metrics, "g", method, "too_large") < 1:
        counted = {
            labels["reason"]: value
            for labels, value in metrics.series(
                "ccgw_request_errors_total", gateway="g", method=VENDOR_NAMES[method]
            )
            if value
        }
        problems.append(f"no too_large error counted for {method} (counted: {counted})")
    rss = rig.exporter.rss()
    print(
        f"FIGURE {answer.label} on {method}: sent {sent[-1].bytes_sent / MiB:.1f} MiB, "
        f"peer closed {sent[-1].peer_closed}, healthy worst {probe.worst * 1000:.0f} ms, "
        f"RSS {rss / MiB:.0f} MiB"
    )
    assert not problems, "; ".join(problems) + rig.context()
    rig.check_resources(metrics)
    rig.recover("g")
    if method == "poll":
        rig.check_polling("g", after=tenant.count("poll"))


def start(make_rig: RigFactory, gateway: HostileGateway) -> Rig:
    rig = make_rig(GatewayEntry("g", new_agent_id(), gateway.url))
    rig.recover("g")
    return rig


def test_a_200_mb_answer_is_dropped(make_rig: RigFactory, hostile_gateway: HostileGateway) -> None:
    body = Repeat(b'{"message":"', b"x", 200 * MiB, TAILS["queryconfinfos"])
    attack(start(make_rig, hostile_gateway), "queryconfinfos", Answer(body=body, label="200 MB"))


def test_an_endless_chunked_answer_to_queryconfinfos_is_dropped(
    make_rig: RigFactory, hostile_gateway: HostileGateway
) -> None:
    body = Endless(b'{"message":"","retcode":"0","result":{"confs":[', b'{"confId":1},' * 64)
    answer = Answer(
        body=body, framing="chunked", byte_cap=512 * MiB, time_cap=10, label="endless chunked"
    )
    attack(start(make_rig, hostile_gateway), "queryconfinfos", answer)


def test_an_endless_chunked_event_poll_is_dropped(
    make_rig: RigFactory, hostile_gateway: HostileGateway
) -> None:
    body = Endless(b'{"message":"","retcode":"0","event":{"eventType":"', b"x" * 1024)
    answer = Answer(
        body=body, framing="chunked", byte_cap=512 * MiB, time_cap=10, label="endless chunked"
    )
    attack(start(make_rig, hostile_gateway), "poll", answer)


def test_a_gzip_bomb_is_dropped(make_rig: RigFactory, hostile_gateway: HostileGateway) -> None:
    """~1 MB on the wire, 1 GiB of valid JSON (whitespace) once inflated."""
    body = Repeat(b'{"message":"","retcode":"0","result":{"confs":[]}', b" ", GiB, b"}")
    answer = Answer(body=body, encoding="gzip", label="1 GiB gzip bomb")
    attack(start(make_rig, hostile_gateway), "queryconfinfos", answer)


def test_a_deflate_bomb_on_the_event_poll_is_dropped(
    make_rig: RigFactory, hostile_gateway: HostileGateway
) -> None:
    body = Repeat(b'{"message":"","retcode":"0"', b" ", GiB, b"}")
    answer = Answer(body=body, encoding="deflate", framing="chunked", label="1 GiB deflate bomb")
    attack(start(make_rig, hostile_gateway), "poll", answer)


def test_repeated_oversize_answers_do_not_grow_memory(
    make_rig: RigFactory, hostile_gateway: HostileGateway
) -> None:
    """Each answer is dropped at the cap; what reading up to the cap took must be returned,
    or a gateway that keeps answering too much grows the exporter without bound (`make fuzz`
    saw +16 MiB of RSS kept per over-size answer, 329 MiB after a few dozen)."""
    rig = start(make_rig, hostile_gateway)
    big = Repeat(b'{"message":"', b"x", 20 * MiB, TAILS["queryconfinfos"])
    endless = Endless(b'{"message":"', b"x" * 64)
    answers = [
        Answer(body=big, label="20 MiB"),
        Answer(body=endless, framing="chunked", time_cap=5, byte_cap=64 * MiB, label="endless"),
    ]
    sizes = []
    for n in range(ROUNDS):
        rig.serve("g", "queryconfinfos", answers[n % 2])
        rig.recover("g")
        sizes.append(rig.exporter.rss())
    growth = sizes[-1] - sizes[1]
    shown = ", ".join(f"{s / MiB:.0f}" for s in sizes)
    print(f"FIGURE RSS after each of {ROUNDS} over-size answers (MiB): {shown}")
    assert growth <= 32 * MiB, f"RSS grew {growth / MiB:.0f} MiB over {ROUNDS} answers: {shown}"


def test_the_hostile_gateways_compressed_length_is_what_it_sends() -> None:
    """The bombs' Content-Length is counted without the checksum pass (which on a loaded CI
    machine outlasted the exporter's deadline); it must still be the bytes sent, and they
    must inflate to the whole body."""
    body = Repeat(b'{"a":', b" ", 3 * _BLOCK + 17, b"1}")
    inflaters: tuple[tuple[Encoding, Callable[[bytes], bytes]], ...] = (
        ("gzip", gzip.decompress),
        ("deflate", zlib.decompress),
    )
    for encoding, inflate in inflaters:
        data = b"".join(_pieces(body, encoding, _BLOCK))
        assert len(data) == body_length(body, encoding)
        assert inflate(data) == b'{"a":' + b" " * (3 * _BLOCK + 17) + b"1}"
