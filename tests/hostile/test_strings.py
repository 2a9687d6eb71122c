"""Issue 12, item 3: one string must not poison `/metrics`.

A lone surrogate escape (`"\\ud800"`) in a retcode was stored in the running counters; from
then on every render raised `UnicodeEncodeError` and `/metrics` and `/probe` answered 500 for
every gateway until a restart. Now a retcode not of the vendor's shape (`0` or `NNN-NNN`) is
counted as `retcode="invalid"`, and every scrape stays 200 and parseable, during the attack
and after it. The same for a participant address in every `participants.address` mode
(tests/hostile/test_participants.py).
"""

from __future__ import annotations

import uuid

from .conftest import RigFactory, new_agent_id
from .gateway import Answer, Fixed, HostileGateway, Method
from .rig import GatewayEntry

SURROGATE_RETCODES = (b'"\\ud800"', b'"\\udfff\\u0000x"', b'"1\\udc80-000"', b'"\\ud800 "')


def retcode_answer(retcode: bytes, *, guid: bool = False) -> Answer:
    headers = ((b"Set-GUID", f"JSESSIONID={uuid.uuid4()}.AgentGateway0".encode()),) if guid else ()
    body = Fixed(b'{"message":"\\ud800","retcode":' + retcode + b"}")
    return Answer(body=body, headers=headers, label=f"retcode {retcode.decode()}")


def test_lone_surrogate_retcodes_do_not_poison_the_metrics(
    make_rig: RigFactory, hostile_gateway: HostileGateway
) -> None:
    rig = make_rig(GatewayEntry("g", new_agent_id(), hostile_gateway.url))
    rig.recover("g")
    methods: tuple[Method, ...] = ("queryconfinfos", "discovery", "poll", "sign_in")
    for method in methods:
        rig.serve(
            "g",
            method,
            *(retcode_answer(r, guid=method == "sign_in") for r in SURROGATE_RETCODES[:2]),
        )
        for _ in range(2):
            rig.scrape()
            rig.scrape(path="/probe?target=g")
        rig.recover("g")
    metrics = rig.scrape().metrics
    for name in ("queryConfInfos", "queryAllConfIds", "getAgentEvent"):
        invalid = metrics.total("ccgw_responses_total", gateway="g", method=name, retcode="invalid")
        assert invalid >= 2, f'{name}: {invalid:g} answers counted as retcode="invalid"'
    signed = metrics.total("ccgw_session_sign_ins_total", gateway="g", retcode="invalid")
    assert signed >= 2, f'{signed:g} sign-ins counted as retcode="invalid"'
    rig.check_no_secrets()
