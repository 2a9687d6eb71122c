"""Issue 12, item 5: a control character in `Set-GUID` must not kill the session.

`\\x01` or `\\x7f` in a Guid was accepted, then aiohttp refused to send it back: the event poll
task died silently, the session never signed in again, `ccgw_up` stayed 0 for good, and
SIGTERM exited 1 with a traceback and without signing out. Now the value is checked against the
vendor's form before use (a control character means the header is ignored and counted), the
poll survives anything, and SIGTERM signs out and exits 0. Both characters at once, each with
its own exporter: first on a sign-in answer, then on an event poll's.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from .conftest import RigFactory, new_agent_id
from .gateway import Answer, Fixed, HostileGateway
from .rig import GatewayEntry, Rig, run_concurrently


def bad_guid_answer(control: bytes) -> Answer:
    guid = str(uuid.uuid4()).encode()
    value = b"JSESSIONID=" + guid[:8] + control + guid[8:] + b".AgentGateway0"
    return Answer(
        body=Fixed(b'{"message":"","retcode":"0","result":{"vdnid":1}}'),
        headers=((b"Set-GUID", value),),
        label=f"Set-GUID with {control!r}",
    )


def never_sent_back(rig: Rig, control: bytes) -> None:
    char = control.decode("latin-1")
    sent = [r.guid for r in rig.tenant("g").requests() if r.guid and char in r.guid]
    assert not sent, f"{len(sent)} request(s) carried the control character back in Guid"


def scenario(make_rig: RigFactory, url: str, control: bytes) -> Callable[[], None]:
    def run() -> None:
        rig = make_rig(GatewayEntry("g", new_agent_id(), url), sign_in=[bad_guid_answer(control)])
        tenant = rig.tenant("g")
        rig.wait_served("g", "sign_in", 1)
        rig.recover("g")
        never_sent_back(rig, control)
        rig.serve("g", "poll", bad_guid_answer(control))
        rig.check_polling("g", after=tenant.count("poll"))
        rig.recover("g")
        never_sent_back(rig, control)
        rig.check_no_secrets()
        signed_out = tenant.sign_outs
        status, seconds = rig.exporter.terminate()
        log = rig.exporter.log_text()
        assert status == 0, f"SIGTERM: exit status {status} after {seconds:.1f}s" + rig.context()
        assert tenant.sign_outs == signed_out + 1, "SIGTERM did not sign out" + rig.context()
        assert "Traceback" not in log, "a traceback in the log" + rig.context()

    return run


def test_a_control_character_in_set_guid(
    make_rig: RigFactory, hostile_gateway: HostileGateway
) -> None:
    url = hostile_gateway.url
    run_concurrently({repr(c): scenario(make_rig, url, c) for c in (b"\x01", b"\x7f")})
