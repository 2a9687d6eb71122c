"""The sign-in variants and their message bodies, field by field as the vendor's pages define
them, so that a client sending what a real gateway would refuse is refused here too.

Pages (api-cec): ``login`` cec_07_1202, ``forcelogin`` cec_07_1203, ``loginex`` cec_07_0357
(current) / cec_07_1224 (older). ``forceloginex`` is on no page: only the gateway's generated
JS client lists it, so its body rules are loginex's (our inference).

What the pages say and what we infer:

* ``password`` string <= 32, mandatory in every variant (loginex: "may be empty").
* ``phonenum`` string <= 24: **mandatory for login and forcelogin** (cec_07_1202, cec_07_1203),
  optional for loginex (cec_07_1224).
* ``autoanswer``, ``autoenteridle``, ``releasephone`` booleans (default true; forcelogin's
  ``releasephone`` defaults to false), ``phonelinkage``, ``checkInWebm`` (default true),
  ``checkInMailm``, ``listenStatus`` booleans. The vendor's own sample sends booleans and
  numbers as strings (``"releasephone":"false"``, ``"status":"4"``, cec_07_1224), so both forms
  are accepted; anything else is refused.
* ``agenttype`` int, 4 (PC + phone, the default) or 11 (PC + video phone).
* ``status`` int, 3 busy (示忙), 4 idle (the default), 5 wrap-up (整理态): the state the agent
  signs in with (cec_07_1202, cec_07_1224).
* ``ip`` IPv4 string <= 15 (no IPv6); ``vcPhoneNumber`` <= 24; ``callBackUri`` <= 200 and
  ``serviceToken`` <= 50: both together switch the session to push mode (cec_07_0450), where
  polling for events is the wrong way (000-001).

Refusals: the pages' error lists are not retrievable, so the codes are chosen by their meaning
in the result-code table (cec_07_0580), an inference: 100-001 "sign-in parameter empty or
invalid" for any bad or missing field, 100-012 "wrong agent type at sign-in" for ``agenttype``,
100-016 "IP address invalid at sign-in" for ``ip``. Unknown fields are ignored.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from .auth import GatewayError

#: Variant (the vendor's log name) -> URL suffix after ``onlineagent/{agentid}``.
SIGN_IN_PATHS: dict[str, str] = {
    "login": "",
    "forceLogin": "/forcelogin",
    "loginEx": "/loginex",
    "forceLoginEx": "/forceloginex",
}
#: The forced variants replace a session already there instead of answering 100-002.
FORCED = frozenset({"forceLogin", "forceLoginEx"})
#: Variants that sign in to the media server and so take an agent licence. loginex "only signs
#: in to the CCS ... therefore no licence is occupied" (cec_07_0357, cec_07_1224); that login
#: and forcelogin do take one is inferred by contrast; forceloginex taking none by its name.
LICENCE_TAKING = frozenset({"login", "forceLogin"})
#: Variants whose pages mark ``phonenum`` mandatory (cec_07_1202, cec_07_1203).
PHONE_REQUIRED = frozenset({"login", "forceLogin"})

STATUS_BUSY, STATUS_IDLE, STATUS_WRAP_UP = 3, 4, 5
STATUSES = (STATUS_BUSY, STATUS_IDLE, STATUS_WRAP_UP)
AGENT_TYPES = (4, 11)

#: Events queued at sign-in, by the status signed in with (cec_07_1224's list).
SIGN_IN_EVENTS: dict[int, tuple[str, ...]] = {
    STATUS_BUSY: ("AgentOther_InService", "AgentState_Ready", "AgentState_SetNotReady_Success"),
    STATUS_IDLE: ("AgentOther_InService", "AgentState_Ready"),
    STATUS_WRAP_UP: ("AgentOther_InService", "AgentState_Ready", "AgentState_Work"),
}

_BOOLEANS = (
    "autoanswer",
    "autoenteridle",
    "releasephone",
    "phonelinkage",
    "checkInWebm",
    "checkInMailm",
    "listenStatus",
)
_STRINGS = {"vcPhoneNumber": 24, "callBackUri": 200, "serviceToken": 50, "entryIp": 64}


@dataclass(frozen=True)
class SignInBody:
    """A sign-in body that passed the vendor's rules; the password is checked afterwards."""

    password: str
    phonenum: str | None
    status: int
    agenttype: int
    autoanswer: bool
    autoenteridle: bool
    releasephone: bool
    check_in_webm: bool
    check_in_mailm: bool
    #: callBackUri and serviceToken given: events are pushed, not polled
    push: bool
    #: the documented fields the client sent, for the admin API (never their values)
    fields: tuple[str, ...]

    @property
    def mediatype(self) -> str:
        """``result.mediatype``: T/F for the CTI server, WebM and MailM (cec_05_4023)."""
        return "T" + "TF"[not self.check_in_webm] + "TF"[not self.check_in_mailm]


def _refuse(retcode: str = "100-001") -> GatewayError:
    return GatewayError(retcode)


def _string(value: Any, limit: int) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise _refuse()
    return value


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise _refuse()


def _integer(value: Any, retcode: str = "100-001") -> int:
    if isinstance(value, bool):
        raise _refuse(retcode)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 9:
        return int(value)
    raise _refuse(retcode)


def parse_sign_in_body(body: Any, variant: str) -> SignInBody:
    """The body of a sign-in in ``variant``; :class:`GatewayError` with the vendor's code
    when a field is missing, of the wrong type or out of range."""
    if not isinstance(body, dict):
        raise _refuse()
    password = _string(body.get("password"), 32)
    phonenum: str | None = None
    if body.get("phonenum") is not None:
        phonenum = _string(body["phonenum"], 24)
    if variant in PHONE_REQUIRED and not phonenum:
        raise _refuse()  # cec_07_1202, cec_07_1203: phonenum mandatory
    flags = {name: _boolean(body[name]) for name in _BOOLEANS if body.get(name) is not None}
    status = STATUS_IDLE  # "default idle" (cec_07_1202, cec_07_1224)
    if body.get("status") is not None:
        status = _integer(body["status"])
        if status not in STATUSES:
            raise _refuse()
    agenttype = 4
    if body.get("agenttype") is not None:
        agenttype = _integer(body["agenttype"], "100-012")
        if agenttype not in AGENT_TYPES:
            raise _refuse("100-012")
    if body.get("ip") is not None:
        ip = body["ip"]
        if not isinstance(ip, str) or len(ip) > 15:
            raise _refuse("100-016")
        try:
            ipaddress.IPv4Address(ip)
        except ValueError:
            raise _refuse("100-016") from None
    strings = {name: _string(body[name], n) for name, n in _STRINGS.items() if name in body}
    documented = {"password", "phonenum", "status", "agenttype", "ip", *_BOOLEANS, *_STRINGS}
    return SignInBody(
        password=password,
        phonenum=phonenum,
        status=status,
        agenttype=agenttype,
        autoanswer=flags.get("autoanswer", True),
        autoenteridle=flags.get("autoenteridle", True),
        # forcelogin's page gives releasephone the default false, login's true (cec_07_1203)
        releasephone=flags.get("releasephone", variant != "forceLogin"),
        check_in_webm=flags.get("checkInWebm", True),
        check_in_mailm=flags.get("checkInMailm", False),
        push=bool(strings.get("callBackUri")) and bool(strings.get("serviceToken")),
        fields=tuple(sorted(k for k in body if k in documented)),
    )
