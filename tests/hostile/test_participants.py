"""Issue 12, items 3 and 8: participant series are unique, parseable and capped.

With `participants.metrics` on, a participant's address becomes a label (masked, hashed,
plain, or omitted). Before: a lone surrogate in an address broke every scrape for as long as it
was sent (all modes); `dup`, `dup`, `dup#2` gave two identical series; a raw CR passed promtool
but made prometheus_client's parsers refuse the whole body; 100k participants in one conference
made a 32 MB body. Every scrape here is checked for duplicate series as well as parsed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .conftest import RigFactory, new_agent_id
from .gateway import HostileGateway, default_population, participant
from .rig import GatewayEntry, Rig, run_concurrently

MODES = ("masked", "hashed", "plain", "omit")
#: `participants.max_per_conference`'s default (CONTRACT.md).
PER_CONFERENCE_CAP = 500


def every_mode(make_rig: RigFactory, gateway: HostileGateway) -> Rig:
    """One exporter, one gateway (and tenant) per address mode."""
    entries = [
        GatewayEntry(mode, new_agent_id(), gateway.url, participants=True, address=mode)
        for mode in MODES
    ]
    rig = make_rig(*entries)
    for mode in MODES:
        rig.recover(mode)
    return rig


def with_addresses(addresses: Sequence[str]) -> list[dict[str, object]]:
    """The default population, conference 1001 holding these addresses instead."""
    confs = default_population()
    confs[0]["addresses"] = [participant(a) for a in addresses]
    return confs


def serve_addresses(rig: Rig, addresses: Sequence[str]) -> None:
    """While every gateway sends these addresses: every scrape and every probe is fine, and
    the counts are complete; afterwards each gateway is served exactly again."""
    for mode in MODES:
        rig.tenant(mode).set_population(with_addresses(addresses))
    try:
        for _ in range(2):
            metrics = rig.scrape().metrics
            for mode in MODES:
                rig.scrape(path=f"/probe?target={mode}")
                count = metrics.value("ccgw_conference_participants", gateway=mode, conf_id="1001")
                assert count == len(addresses), f"{mode}: {count} participants in 1001"
    finally:
        for mode in MODES:
            rig.tenant(mode).set_population(default_population())
    for mode in MODES:
        rig.recover(mode)
    rig.check_no_secrets()


SURROGATES = ["\ud800", "a\udfffb", "\udc80\ud800", "7000\ud8001234", "70001"]
# A raw CR (and its relatives) must not reach a label as such.
CONTROLS = [
    "12\r34", "\r", "a\nb", "\x00", "\x1b[31mred", 'quo"te', "back\\slash", "\u2028", "\x85",
    "\x7f", "a}b{c", "# HELP x", "x" * 5000,
]  # fmt: skip
DUPLICATES = ["dup", "dup", "dup#2", "dup#2#2", ""]


def test_hostile_addresses_in_every_mode(
    make_rig: RigFactory, hostile_gateway: HostileGateway
) -> None:
    """Lone surrogates, control characters, duplicates; each set with its own exporter."""

    def scenario(addresses: list[str]) -> Callable[[], None]:
        return lambda: serve_addresses(every_mode(make_rig, hostile_gateway), addresses)

    run_concurrently(
        {
            "lone surrogates": scenario(SURROGATES),
            "control characters": scenario(CONTROLS),
            "duplicates": scenario(DUPLICATES),
        }
    )


def test_participant_series_are_capped_per_conference(
    make_rig: RigFactory, hostile_gateway: HostileGateway
) -> None:
    """100k participants in one conference: the count is complete, the series are capped."""
    rig = make_rig(
        GatewayEntry("g", new_agent_id(), hostile_gateway.url, participants=True, address="plain")
    )
    rig.recover("g")
    confs = default_population()
    confs[0]["addresses"] = [
        {"address": f"{n:06d}", "channelState": 0, "channelAttrib": 3} for n in range(100_000)
    ]
    rig.tenant("g").set_population(confs)
    check = rig.scrape()
    metrics = check.metrics
    size = len(metrics.text)
    print(f"FIGURE 100k participants: body {size / 2**20:.1f} MiB, scrape {check.seconds:.2f}s")
    total = metrics.value("ccgw_conference_participants", gateway="g", conf_id="1001")
    assert total == 100_000, f"{total} participants counted"
    series = len(metrics.series("ccgw_participant_info", gateway="g", conf_id="1001"))
    assert series <= PER_CONFERENCE_CAP, f"{series} participant series for one conference"
    rig.tenant("g").set_population(default_population())
    rig.recover("g")
