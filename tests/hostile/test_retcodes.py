"""Issue 12, item 4: retcode label values are bounded.

Any string used to become a permanent series of `ccgw_responses_total`: 300 distinct garbage
retcodes gave 300 series for ever, and 100 KB retcodes grew the body to 44 MB. Now a retcode
not of the vendor's shape (`0` or `NNN-NNN`) is `retcode="invalid"`, and well-shaped but
undocumented codes take a bounded number of values per gateway and method, the rest `other`.
Discovery lists 6,000 IDs here, so that one collection makes 300 `queryconfinfos` calls. The
three scenarios run at once, each with its own exporter.
"""

from __future__ import annotations

import json

from .conftest import RigFactory, new_agent_id
from .gateway import Answer, Fixed, HostileGateway, default_population
from .rig import GatewayEntry, Rig, run_concurrently

#: Series of `ccgw_responses_total` one gateway and method may have: the documented retcodes
#: (about 20, zero-filled), `invalid`, `other`, and a bounded number of undocumented ones.
RETCODE_SERIES_LIMIT = 64
#: The body of a scrape after 100 KB retcodes (a normal one here is ~15 KB).
BODY_LIMIT = 256 << 10


def answer(retcode: str) -> Answer:
    body = json.dumps({"message": "", "retcode": retcode}).encode()
    return Answer(body=Fixed(body), label=f"retcode {retcode[:20]}")


def many_batches(make_rig: RigFactory, url: str) -> Rig:
    rig = make_rig(GatewayEntry("g", new_agent_id(), url))
    rig.recover("g")
    rig.tenant("g").set_population(default_population(), discover=range(1, 6_001))
    return rig


def responses(rig: Rig) -> tuple[int, float, float, float]:
    """(series, total answers, invalid, other) of queryConfInfos."""
    metrics = rig.scrape().metrics
    found = metrics.series("ccgw_responses_total", gateway="g", method="queryConfInfos")
    invalid = metrics.total("ccgw_responses_total", gateway="g", retcode="invalid")
    other = metrics.total("ccgw_responses_total", gateway="g", retcode="other")
    return len(found), sum(value for _, value in found), invalid, other


def garbage(make_rig: RigFactory, url: str) -> None:
    rig = many_batches(make_rig, url)
    rig.serve("g", "queryconfinfos", *(answer(f"garbage {n}") for n in range(300)), timeout=60)
    series, total, invalid, _ = responses(rig)
    print(f"FIGURE 300 garbage retcodes: {series} series, {invalid:g} counted invalid")
    assert series <= RETCODE_SERIES_LIMIT, f"{series} retcode series for queryConfInfos"
    assert invalid >= 300, f"{invalid:g} of 300 garbage retcodes counted as invalid"
    assert total >= 300


def undocumented(make_rig: RigFactory, url: str) -> None:
    rig = many_batches(make_rig, url)
    codes = [f"{900 + n // 1000}-{n % 1000:03d}" for n in range(300)]
    rig.serve("g", "queryconfinfos", *(answer(code) for code in codes), timeout=60)
    series, total, invalid, other = responses(rig)
    print(f"FIGURE 300 undocumented retcodes: {series} series, {other:g} counted as other")
    assert series <= RETCODE_SERIES_LIMIT, f"{series} retcode series for queryConfInfos"
    assert total >= 300, f"{total:g} answers counted of the 300 sent"
    assert invalid == 0
    assert other >= 1, "no retcode counted as other"


def huge(make_rig: RigFactory, url: str) -> None:
    """100 KB retcodes, on the first sign-ins and on queryconfinfos."""
    codes = [chr(ord("a") + n) * 100_000 for n in range(5)]
    rig = make_rig(GatewayEntry("g", new_agent_id(), url), sign_in=[answer(c) for c in codes[:2]])
    rig.wait_served("g", "sign_in", 2)
    rig.recover("g")
    rig.serve("g", "queryconfinfos", *(answer(code) for code in codes))
    _, metrics = rig.recover("g")
    size = len(metrics.text.encode())
    print(f"FIGURE 100 KB retcodes: body {size / 1024:.0f} KiB")
    assert size <= BODY_LIMIT, f"/metrics is {size / 1024:.0f} KiB after 100 KB retcodes"


def test_retcode_label_values_are_bounded(
    make_rig: RigFactory, hostile_gateway: HostileGateway
) -> None:
    url = hostile_gateway.url
    run_concurrently(
        {
            "300 garbage retcodes": lambda: garbage(make_rig, url),
            "300 undocumented retcodes": lambda: undocumented(make_rig, url),
            "100 KB retcodes": lambda: huge(make_rig, url),
        }
    )
