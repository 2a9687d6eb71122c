"""Issue 12, item 1: a redirect is an `http_status` error; its `Location` is never contacted.

Followed, a 301/302/307/308 on a sign-in sends `{"password": ...}` to whatever host the
`Location` names (also from https to plain http), and on any other call the full Guid goes with
it, while the foreign answer is taken as data. The foreign host here records every request;
it must get none, and a same-host `Location` must not be fetched either.
"""

from __future__ import annotations

from .conftest import RigFactory, new_agent_id
from .gateway import Answer, Fixed, HostileGateway, Method
from .rig import GatewayEntry

STEAL = b"{{FOREIGN}}/agentgateway/resource/onlineagent/153/loginex"
LOCATIONS = (STEAL, b"{{FOREIGN}}/steal?guid={{GUID}}", b"{{SELF}}/followed-redirect", b"/x")


def redirect(status: int, location: bytes = STEAL) -> Answer:
    body = Fixed(b'{"message":"","retcode":"0"}')
    return Answer(
        status=status,
        reason=b"Moved",
        headers=((b"Location", location),),
        body=body,
        label=f"{status} to {location.decode()}",
    )


def test_sign_in_redirects_are_errors_and_never_followed(
    make_rig: RigFactory, hostile_gateway: HostileGateway
) -> None:
    rig = make_rig(GatewayEntry("g", new_agent_id(), hostile_gateway.url))
    rig.recover("g")
    for status in (301, 302, 307):  # 308: the https test
        rig.serve("g", "sign_in", redirect(status))
        rig.check_no_secrets()  # the foreign host got nothing, the password is nowhere
        rig.recover("g")
    metrics = rig.scrape().metrics
    assert rig.errors(metrics, "g", "sign_in", "http_status") >= 3


def test_https_sign_in_redirect_to_plain_http_is_not_followed(
    make_rig: RigFactory, hostile_gateway: HostileGateway
) -> None:
    assert hostile_gateway.ca_file is not None
    ca_file = str(hostile_gateway.ca_file)
    rig = make_rig(GatewayEntry("g", new_agent_id(), hostile_gateway.tls_url, ca_file=ca_file))
    rig.recover("g")
    rig.serve("g", "sign_in", redirect(308))
    rig.check_no_secrets()
    rig.recover("g")
    metrics = rig.scrape().metrics
    assert rig.errors(metrics, "g", "sign_in", "http_status") >= 1


def test_guid_bearing_redirects_are_errors_and_never_followed(
    make_rig: RigFactory, hostile_gateway: HostileGateway
) -> None:
    """The foreign answer (conference 666, a new Set-GUID) must never become data."""
    rig = make_rig(GatewayEntry("g", new_agent_id(), hostile_gateway.url))
    rig.recover("g")
    methods: tuple[Method, ...] = ("discovery", "queryconfinfos", "poll")
    for method in methods:
        answers = [
            redirect(s, where) for s, where in zip((301, 302, 307, 308), LOCATIONS, strict=True)
        ]
        if method == "poll":
            answers = answers[1::2]  # each failed poll is followed by a longer back-off
        rig.serve("g", method, *answers, timeout=30)
        rig.check_no_secrets()
        metrics = rig.scrape().metrics
        assert not metrics.series("ccgw_conference_state", conf_id="666"), "foreign data served"
        assert rig.errors(metrics, "g", method, "http_status") >= len(answers), method
        rig.recover("g")
