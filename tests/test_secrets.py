"""Issue 6, section 5: the agent password and the session Guids never leave the exporter, and
participant phone numbers are masked by default.

Part of the fault suite runs with a known password while every Guid the simulated gateways
issue is recorded; then every log line (as the exporter's own formatter writes it, logfmt and
JSON) and every answer the exporter gave (metrics, probes, landing page, readiness, error
pages, refused reloads) is searched for the password, for any full Guid and for the phone
number. Controls keep the search honest: the Guids were really issued and their first eight
characters, which the logs may show, are really there, so a full one would have been found.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml

from ccgw_simulator.auth import SessionTable

from .faults.cases import CASES
from .faults.conftest import RigFactory
from .faults.conftest import make_rig as make_rig  # the fault suite's fixture, shared
from .faults.rig import FAULTY, HEALTHY, Rig
from .faults.test_faults import run_fault

PASSWORD = "Kn0wn-pw-7f3a91c4"
PHONE = "13800138000"
SECRET_RUN = ("restart", "signin-lost", "000-003", "http-502", "malformed", "lb-node")


@pytest.fixture
def issued_guids(monkeypatch: pytest.MonkeyPatch) -> Iterator[set[str]]:
    """Every Guid any simulated gateway issues during the test."""
    issued: set[str] = set()
    original = SessionTable._new_guid

    def recording(self: SessionTable) -> str:
        guid = original(self)
        issued.add(guid)
        return guid

    monkeypatch.setattr(SessionTable, "_new_guid", recording)
    return issued


async def error_answers(rig: Rig) -> None:
    """Ask for every page, and for the error answers, so they are in `rig.answers`."""
    for path in ("/", "/-/ready", "/-/healthy", f"/probe?target={FAULTY}",
                 f"/probe?target={HEALTHY}", "/probe?target=nope", "/probe", "/nope"):  # fmt: skip
        await rig.get(path)
    good = rig.path.read_text()
    base = {"name": "gw", "agent_id": "153", "url": "https://127.0.0.1:8043"}
    for broken in (
        {**base, "password": PASSWORD, "password_file": str(rig.password_file)},
        {**base, "url": f"https://153:{PASSWORD}@127.0.0.1:8043", "password": PASSWORD},
        {**base, "pasword": PASSWORD},
        {**base, "password": [PASSWORD]},
        {**base, "password": PASSWORD, "timeout": "soon"},
    ):
        rig.path.write_text(yaml.safe_dump({"gateways": [broken]}))
        status, _ = await rig.get("/-/reload", method="POST")
        assert status == 500
    rig.path.write_text(good)


def haystack(rig: Rig) -> list[str]:
    """What an operator, a log shipper or a scraper gets from the exporter (the simulator's
    own log lines are the gateway's, not the exporter's)."""
    lines = [
        line
        for record, pair in zip(rig.logs.records, _pairs(rig.logs.lines), strict=True)
        if not record.name.startswith("ccgw_simulator")
        for line in pair
    ]
    return lines + rig.answers


def _pairs(lines: list[str]) -> list[tuple[str, str]]:
    return list(zip(lines[0::2], lines[1::2], strict=True))


def assert_nothing_leaks(texts: list[str], guids: set[str]) -> None:
    assert guids, "no Guid was issued: the search below would prove nothing"
    for text in texts:
        assert PASSWORD not in text, text[:300]
        assert PHONE not in text, text[:300]
        for guid in guids:
            # The UUID part is the credential; the .AgentGatewayN suffix is public.
            assert guid.split(".")[0] not in text, text[:300]


@pytest.mark.parametrize("case_id", SECRET_RUN)
async def test_faults_leak_no_password_guid_or_phone_number(
    make_rig: RigFactory, issued_guids: set[str], case_id: str
) -> None:
    (case,) = [c for c in CASES if c.id == case_id]
    rig = await make_rig(case, password=PASSWORD, phone=PHONE, participants={"metrics": True})
    await run_fault(case, rig)
    await error_answers(rig)
    texts = haystack(rig)
    assert_nothing_leaks(texts, issued_guids)
    # Controls: the logs name Guids by their first 8 characters, so the search above looked
    # where a full Guid would be; the phone number is exported masked, so it was there too.
    assert any(guid[:8] in text for guid in issued_guids for text in texts)
    assert any("*******8000" in answer for answer in rig.answers)
    # And the recording holds the live credentials: what the gateway holds now and what
    # the exporter sends now (the admin API counts valid Guids but does not list them).
    live = {s.current_guid for n in rig.sims[HEALTHY].nodes for s in n.sessions.sessions()}
    assert live
    assert live <= issued_guids
    assert rig.target(HEALTHY).client.guid in issued_guids


async def test_a_rejected_password_is_not_shown_anywhere(
    make_rig: RigFactory, issued_guids: set[str]
) -> None:
    (case,) = [c for c in CASES if c.id == "restart"]
    rig = await make_rig(case, password=PASSWORD, gateway_password="the-right-one")
    await rig.wait(lambda: all(t.session.sign_in_attempted for t in rig.targets.all()))
    for _ in range(3):
        scrape = await rig.scrape()
        assert scrape.gauge("ccgw_up") == 0
        assert scrape.counter("ccgw_session_sign_ins_total", retcode="100-004") >= 1
    await error_answers(rig)
    page = [a for a in rig.answers if "<html" in a]
    assert page
    assert all("wrong password" in p for p in page)
    texts = haystack(rig)
    assert not issued_guids  # nothing was issued: the password was wrong everywhere
    for text in texts:
        assert PASSWORD not in text, text[:300]
