"""Issue 12, item 3: one string must not poison `/metrics`.

A lone surrogate escape (`"\\ud800"`) in a retcode was stored in the running counters; from
then on every render raised `UnicodeEncodeError` and `/metrics` and `/probe` answered 500 for
every gateway until a restart. Now a retcode not of the vendor's shape (`0` or `NNN-NNN`) is
counted as `retcode="invalid"`, and every scrape stays 200 and parseable, during the attack
and after it. The same for a participant address in every `participants.address` mode
(tests/hostile/test_participants.py). One exporter per vendor call, all at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from .conftest import RigFactory, new_agent_id
from .gateway import VENDOR_NAMES, Answer, Fixed, HostileGateway, Method
from .rig import GatewayEntry, run_concurrently

SURROGATE_RETCODES = (b'"\\ud800"', b'"\\udfff\\u0000x"', b'"1\\udc80-000"', b'"\\ud800 "')


def retcode_answer(retcode: bytes, *, guid: bool = False) -> Answer:
    headers = ((b"Set-GUID", f"JSESSIONID={uuid.uuid4()}.AgentGateway0".encode()),) if guid else ()
    body = Fixed(b'{"message":"\\ud800","retcode":' + retcode + b"}")
    return Answer(body=body, headers=headers, label=f"retcode {retcode.decode()}")


def scenario(make_rig: RigFactory, url: str, method: Method) -> Callable[[], None]:
    def run() -> None:
        entry = GatewayEntry("g", new_agent_id(), url)
        if method == "sign_in":  # the first sign-in (a retcode failure backs off 0.5-1 s)
            rig = make_rig(entry, sign_in=[retcode_answer(SURROGATE_RETCODES[0], guid=True)])
            rig.wait_served("g", "sign_in", 1)
        else:
            rig = make_rig(entry)
            rig.recover("g")
            answers = SURROGATE_RETCODES[:1] if method == "poll" else SURROGATE_RETCODES
            rig.serve("g", method, *(retcode_answer(r) for r in answers))
        for _ in range(2):
            rig.scrape()
            rig.scrape(path="/probe?target=g")
        _, metrics = rig.recover("g")
        if method == "sign_in":
            invalid = metrics.total("ccgw_session_sign_ins_total", gateway="g", retcode="invalid")
        else:
            invalid = metrics.total(
                "ccgw_responses_total", gateway="g", method=VENDOR_NAMES[method], retcode="invalid"
            )
        assert invalid >= 1, f'{invalid:g} answers counted as retcode="invalid"'
        rig.check_no_secrets()

    return run


def test_lone_surrogate_retcodes_do_not_poison_the_metrics(
    make_rig: RigFactory, hostile_gateway: HostileGateway
) -> None:
    methods: tuple[Method, ...] = ("sign_in", "poll", "discovery", "queryconfinfos")
    run_concurrently({m: scenario(make_rig, hostile_gateway.url, m) for m in methods})
