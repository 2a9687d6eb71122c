"""Issue 12, item 9: the full Guid (or the password) never reaches the log.

It did through the 60-character "not JSON" body preview (a gateway that echoes the request,
or names the session in an error page) and through aiohttp's parse errors, which quote the
offending bytes. The gateway here echoes the request's Guid (`{{GUID}}`) or body, which holds
the password on a sign-in (`{{BODY}}`), into bodies, headers and status lines; after each the
log, the landing page and the error pages are searched for 17 or more characters of any Guid.
One exporter per vendor call, all at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from .conftest import RigFactory, new_agent_id
from .gateway import Answer, Fixed, HostileGateway, Method
from .rig import GatewayEntry, run_concurrently

#: A Guid of the gateway's own, for the sign-in (whose request carries none to echo).
UUID = str(uuid.uuid4()).encode()
NOT_JSON = (
    b"{{GUID}} is not JSON",
    b"Guid {{GUID}}",
    b"<html><body>session {{GUID}} expired; request {{BODY}}</body></html>",
    b"{{BODY}}",  # valid JSON without a retcode
    b"{{BODY}} is not JSON",
)
PARSE_ERRORS = (
    b"HTTP/1.1 200 OK\r\nX-Guid: {{GUID}}\x00\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 2{{GUID}} OK\r\n\r\n",
    b"HTTP/1.1 200 {{BODY}}\x01\r\n\r\n",
    b"{{GUID}}\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: {{GUID}}\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{{GUID}}\r\n",
    b"HTTP/1.1 200 OK\r\nX-{{GUID}}\r\n\r\n",
    # A header aiohttp's parser refuses, quoting the line: a CR alone, a NUL (found by make fuzz).
    b"HTTP/1.1 200 OK\r\nSet-GUID: JSESSIONID={{GUID}}\rSet-Cookie: evil=1\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nSet-GUID: JSESSIONID=\x00{{GUID}}\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nSet-GUID: JSESSIONID=%s.AgentGateway1\rX: y\r\n\r\n" % UUID,
)
ANSWERS = [Answer(body=Fixed(body), label=f"not JSON {body[:20]!r}") for body in NOT_JSON] + [
    Answer(raw=raw, label=f"raw {raw[:30]!r}") for raw in PARSE_ERRORS
]


def scenario(make_rig: RigFactory, url: str, method: Method) -> Callable[[], None]:
    def run() -> None:
        if method == "sign_in":  # the first sign-ins: failed ones are retried at once
            rig = make_rig(GatewayEntry("g", new_agent_id(), url), sign_in=ANSWERS)
            rig.wait_served("g", "sign_in", len(ANSWERS), timeout=30)
            rig.check_no_secrets()
            rig.recover("g")
            return
        rig = make_rig(GatewayEntry("g", new_agent_id(), url))
        rig.recover("g")
        # A failed poll backs the next one off 1-2 s: the poll gets one of each kind.
        answers = [ANSWERS[0], ANSWERS[len(NOT_JSON)], ANSWERS[-1]] if method == "poll" else ANSWERS
        for answer in answers:
            rig.serve("g", method, answer, timeout=20)
            rig.check_no_secrets()
            # A failure is logged when its kind changes: a working call in between, so that
            # every answer's failure is logged (and searched).
            rig.recover("g")
            if method == "poll":  # a working poll ends the back-off before the next answer
                rig.check_polling("g", after=rig.tenant("g").count("poll"))

    return run


def test_no_secret_in_previews_or_parse_errors(
    make_rig: RigFactory, hostile_gateway: HostileGateway
) -> None:
    methods: tuple[Method, ...] = ("sign_in", "poll", "discovery", "queryconfinfos")
    run_concurrently({m: scenario(make_rig, hostile_gateway.url, m) for m in methods})
