"""Issue 12, item 6: every re-sign-in cause is damped.

An event poll answering `100-006` on every call cost ~167 sign-ins a minute (`105-005`: 160);
only `000-003` was damped (sign in again at most every 5 s, doubling). One exporter with three
gateways, each of whose event polls answers one of these codes on every call, is left alone
(no scrapes) for `WINDOW` seconds; the gateway counts the sign-ins.
"""

from __future__ import annotations

import time

from .conftest import RigFactory, new_agent_id
from .gateway import HostileGateway, envelope_bytes, ok
from .rig import GatewayEntry

WINDOW = 4.0
#: Sign-ins allowed in the window: the first quick loss healed at once, the next after ~5 s
#: (doubling) gives 1 or 2 in 4 s (undamped: ~11); 2 is 30 a minute at most.
LIMIT = 2
CODES = {"s100006": "100-006", "s105005": "105-005", "s000003": "000-003"}


def test_sign_in_storms_are_damped(make_rig: RigFactory, hostile_gateway: HostileGateway) -> None:
    rig = make_rig(*(GatewayEntry(name, new_agent_id(), hostile_gateway.url) for name in CODES))
    for name in CODES:
        rig.recover(name)
    before = {name: len(rig.tenant(name).sign_in_times) for name in CODES}
    for name, code in CODES.items():
        rig.tenant(name).always("poll", ok(envelope_bytes(code, "storm")))
    time.sleep(WINDOW)
    counts = {name: len(rig.tenant(name).sign_in_times) - before[name] for name in CODES}
    for name in CODES:
        rig.tenant(name).always("poll", None)
    figures = ", ".join(f"{CODES[n]}: {c} ({c * 60 / WINDOW:.0f}/min)" for n, c in counts.items())
    print(f"FIGURE sign-ins in {WINDOW:g}s of a poll storm: {figures}")
    # Not waited for here: the damped sessions come back when their damping ends, by design.
    rig.scrape()
    rig.check_no_secrets()
    storms = {CODES[n]: c for n, c in counts.items() if c > LIMIT}
    assert not storms, f"sign-ins in {WINDOW:g}s (limit {LIMIT}): {figures}"
