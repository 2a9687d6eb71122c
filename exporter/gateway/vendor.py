"""What the vendor documents about the calls we make, in one table, with the page ids.

Pages are Huawei's CC-Gateway API reference (`api-cec/`, English and Chinese; the Chinese copy is
the source), ids `cec_07_NNNN`; docs/gateway.md has the full table and says which behaviours
are our inference rather than documented. The code that relies on a fact below cites it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

SignInVariant = Literal["loginex", "login", "forcelogin", "forceloginex"]
SignInStatus = Literal["busy", "idle", "wrap_up"]

DEFAULT_PORT: Final = 8043  # cec_07_1202, cec_07_0357: single node and NSLB
AGENT_ID_RANGE: Final = (101, 999_999)  # current pages (cec_07_0357, cec_07_1202)
OLD_AGENT_ID_MAX: Final = 59_999  # older pages (cec_07_1224) and the gateway's JS client


@dataclass(frozen=True, slots=True)
class SignInCall:
    """One sign-in variant: the name the gateway logs, the path suffix, and its costs."""

    method: str
    suffix: str
    phonenum_required: bool
    takes_licence: bool
    documented: str  # page id, or where it was seen


# cec_07_1202 login, cec_07_1203 forcelogin (phonenum mandatory on both);
# cec_07_0357 / cec_07_1224 loginex: "signs in to the CCS only, not to the media server, so no
# licence is taken"; phonenum optional. forceloginex is on no page: a public copy of the
# gateway's generated JS client lists `PUT onlineagent/{agentid}/forceloginex` beside loginex.
SIGN_IN_CALLS: Final[dict[SignInVariant, SignInCall]] = {
    "login": SignInCall("login", "", True, True, "cec_07_1202"),
    "forcelogin": SignInCall("forceLogin", "/forcelogin", True, True, "cec_07_1203"),
    "loginex": SignInCall("loginEx", "/loginex", False, False, "cec_07_0357, cec_07_1224"),
    "forceloginex": SignInCall(
        "forceLoginEx", "/forceloginex", False, False, "gateway JS client (no page)"
    ),
}
FORCED: Final[dict[SignInVariant, SignInVariant]] = {
    "loginex": "forceloginex",
    "forceloginex": "forceloginex",
    "login": "forcelogin",
    "forcelogin": "forcelogin",
}

# `status` of the sign-in body (cec_07_1202, cec_07_1224: 3 示忙 busy, 4 空闲 idle,
# 5 整理态 wrap-up; the default when absent is idle, which offers calls).
SIGN_IN_STATUS: Final[dict[SignInStatus, int]] = {"busy": 3, "idle": 4, "wrap_up": 5}


def sign_in_body(
    variant: SignInVariant, password: str, phone_number: str, status: SignInStatus
) -> dict[str, object]:
    """The sign-in body for a monitoring account, field by field as the pages define it.

    `status` keeps the account from being offered calls (busy by default); `autoanswer` and
    `autoenteridle` off so that nothing answers or goes idle by itself after a call; `checkInWebm`
    off so that no text-chat media server session is opened (its default is true); `agenttype`
    4 (PC + phone, the default). `phonenum` when given, and always for login/forcelogin, where
    it is mandatory (cec_07_1202, cec_07_1203). Types as the tables say (int, boolean), not as
    the sample's strings.
    """
    body: dict[str, object] = {"password": password}
    if phone_number or SIGN_IN_CALLS[variant].phonenum_required:
        body["phonenum"] = phone_number
    body["status"] = SIGN_IN_STATUS[status]
    body["autoanswer"] = False
    body["autoenteridle"] = False
    body["releasephone"] = True
    body["agenttype"] = 4
    body["checkInWebm"] = False
    return body


# Result codes a method documents (cec_07_0580 for meanings), plus the session codes every
# Guid-bearing call can get (cec_07_0005: a bad Guid answers 100-006 or 000-003). They are
# zero-filled in the counters so the first occurrence shows in increase() (issue 13, item 6).
_SESSION: Final = frozenset({"000-003", "100-006"})
_SIGN_IN: Final = frozenset(
    {
        # the sign-in pages' own lists are not retrievable; these are the codes whose meaning
        # is about signing in (cec_07_0580), 100-002 named by devg cec_05_4023
        "000-007",
        "100-001",
        "100-002",
        "100-003",
        "100-004",
        "100-011",
        "100-012",
        "100-013",
        "100-014",
        "100-015",
        "100-016",
        "100-017",
        "100-020",
        "100-021",
        "110-016",
    }
)
DOCUMENTED_RETCODES: Final[dict[str, frozenset[str]]] = {
    **{call.method: _SIGN_IN for call in SIGN_IN_CALLS.values()},
    # cec_07_0485 / cec_07_1300
    "queryConfInfos": frozenset({"000-002", "100-007"}) | _SESSION,
    # cec_07_0486 / cec_07_1301; 101-004 for a non-inspector is our inference (the code is in
    # cec_07_0580, "非质检员没有查询vdn会议权限", but not in this page's list)
    "queryAllConfIds": frozenset({"000-002", "100-007", "101-004"}) | _SESSION,
    # cec_07_1274's list is not retrievable: 000-001 by meaning, the session codes, and the
    # disaster-recovery codes that ask for a new sign-in
    "getAgentEvent": frozenset({"000-001", "105-005", "105-006", "105-007"}) | _SESSION,
    # cec_07_1219: by meaning 100-005, 100-008, 100-010
    "logout": frozenset({"100-005", "100-008", "100-010"}) | _SESSION,
    # cec_07_1220 lists none
    "forceLogout": _SESSION,
    # cec_07_0358
    "updateGuid": _SESSION,
}

NON_INSPECTOR: Final = "101-004"

# Meanings (cec_07_0580) and what an operator does about each, for --diagnose and the docs.
RETCODE_MEANINGS: Final[dict[str, tuple[str, str]]] = {
    "000-001": ("wrong way of getting agent events", "the account signed in for push mode; "
                "sign it in without callBackUri/serviceToken"),
    "000-002": ("a URL parameter or field the gateway does not accept",
                "check agent_id (older gateways: 101-59999), url and phone_number"),
    "000-003": ("no permission: the Guid was refused (expired or taken over)",
                "transient after a Guid renewal; repeated, another client may use the account"),
    "000-004": ("the agent is being switched over", "wait; the gateway is switching over"),
    "000-007": ("the interface was called repeatedly", "another client calls for this agent"),
    "100-001": ("a sign-in parameter is empty or invalid",
                "login/forcelogin need phone_number (cec_07_1202); check sign_in_status"),
    "100-002": ("the agent is already signed in elsewhere",
                "give the exporter its own account, or set force_on_conflict: true"),
    "100-003": ("the CTI platform refused the sign-in (resource unavailable)",
                "a gateway-side fault; retried with back-off"),
    "100-004": ("wrong user name or password", "fix the password (retried every 5 minutes)"),
    "100-006": ("the agent is not signed in", "transient after a gateway restart; repeated, "
                "another client signs the account out"),
    "100-007": ("internal error at the gateway (WAS resource unreachable)",
                "a gateway-side fault; the batch is retried"),
    "100-013": ("the phone number is invalid", "set phone_number to the agent's softphone"),
    "100-014": ("the phone number is not in the configured range",
                "set phone_number to a number configured for this agent"),
    "100-020": ("the agent's password has expired", "change the password in AICC"),
    "110-016": ("the account is locked", "unlock the employee account in AICC, fix the "
                "password"),
    "101-004": ("not a quality inspector: may not list the VDN's conferences",
                "set Platform Role = Quality checker (AICC, cec_04_0019), or "
                "conferences.discover: false"),
    "105-005": ("disaster recovery: sign in again", "automatic"),
    "105-006": ("disaster recovery: Guid mismatch, sign in again", "automatic"),
    "105-007": ("disaster-recovery switch not on: sign in again", "automatic; steady, a "
                "gateway configuration matter"),
}  # fmt: skip
