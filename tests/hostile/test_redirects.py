"""Issue 12, item 1: a redirect is an `http_status` error; its `Location` is never contacted.

Followed, a 301/302/307/308 on a sign-in sends `{"password": ...}` to whatever host the
`Location` names (also from https to plain http), and on any other call the full Guid goes with
it, while the foreign answer is taken as data. The foreign host here records every request;
it must get none, and a same-host `Location` must not be fetched either. The scenarios run at
once, each with its own exporter.
"""

from __future__ import annotations

from collections.abc import Callable

from .conftest import RigFactory, new_agent_id
from .gateway import Answer, Fixed, HostileGateway, Method
from .rig import GatewayEntry, run_concurrently

STEAL = b"{{FOREIGN}}/agentgateway/resource/onlineagent/{{AGENT}}/loginex"
LOCATIONS = (
    STEAL,
    b"{{FOREIGN}}/steal/{{AGENT}}?guid={{GUID}}",
    b"{{SELF}}/followed-redirect/{{AGENT}}",
    b"/x/{{AGENT}}",
)


def redirect(status: int, location: bytes = STEAL) -> Answer:
    body = Fixed(b'{"message":"","retcode":"0"}')
    return Answer(
        status=status,
        reason=b"Moved",
        headers=((b"Location", location),),
        body=body,
        label=f"{status} to {location.decode()}",
    )


def sign_in(
    make_rig: RigFactory, url: str, statuses: tuple[int, ...], ca_file: str | None = None
) -> Callable[[], None]:
    """The first sign-ins are redirected: the password must not follow."""

    def run() -> None:
        answers = [redirect(status) for status in statuses]
        rig = make_rig(GatewayEntry("g", new_agent_id(), url, ca_file=ca_file), sign_in=answers)
        rig.wait_served("g", "sign_in", len(answers))
        rig.check_no_secrets()
        _, metrics = rig.recover("g")
        assert rig.errors(metrics, "g", "sign_in", "http_status") >= len(answers)

    return run


def guid_bearing(make_rig: RigFactory, url: str, method: Method) -> Callable[[], None]:
    """Redirects of a call that carries the Guid; the foreign answer (conference 666, a new
    Set-GUID) must never become data."""

    def run() -> None:
        rig = make_rig(GatewayEntry("g", new_agent_id(), url))
        rig.recover("g")
        answers = [
            redirect(s, where) for s, where in zip((301, 302, 307, 308), LOCATIONS, strict=True)
        ]
        if method == "poll":
            answers = answers[1::2]  # each failed poll is followed by a longer back-off
        rig.serve("g", method, *answers, timeout=30)
        rig.check_no_secrets()
        metrics = rig.scrape().metrics
        assert not metrics.series("ccgw_conference_state", conf_id="666"), "foreign data served"
        assert rig.errors(metrics, "g", method, "http_status") >= len(answers)
        rig.recover("g")

    return run


def test_redirects_are_errors_and_never_followed(
    make_rig: RigFactory, hostile_gateway: HostileGateway
) -> None:
    assert hostile_gateway.ca_file is not None
    plain, tls, ca_file = hostile_gateway.url, hostile_gateway.tls_url, str(hostile_gateway.ca_file)
    run_concurrently(
        {
            "sign-in": sign_in(make_rig, plain, (301, 302, 307)),
            "sign-in, https to http": sign_in(make_rig, tls, (308,), ca_file),
            "discovery": guid_bearing(make_rig, plain, "discovery"),
            "queryconfinfos": guid_bearing(make_rig, plain, "queryconfinfos"),
            "event poll": guid_bearing(make_rig, plain, "poll"),
        }
    )
