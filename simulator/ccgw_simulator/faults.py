"""Fault injection: deciding, per request, what goes wrong, and the broken answers.

Every draw comes from one seeded ``random.Random`` in a fixed order per request, so a run
with the same seed and the same requests injects the same faults. The decision is made up
front (:meth:`FaultInjector.decide`) and carried out by the route wrapper in ``api.py``:

* ``latency_ms`` ± ``jitter_ms``: wait before answering;
* ``slow_rate``: wait ``slow_seconds`` (longer than any client deadline) without blocking
  anything else, then answer normally;
* ``http_error_rate``: the balancer answers 502/503 with an HTML page;
* ``retcodes``: HTTP 200 with that retcode, the operation not carried out;
* ``malformed_rate``: the operation is carried out, the JSON answer is broken;
* ``reset_rate``: the operation is carried out, the headers and part of the body are sent,
  then the connection is aborted.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .config import FaultConfig

#: ``message`` per result code (meanings from the vendor's table). An internal error carries
#: the CTI result code instead, as ``Unknown ERROR._<code>``, which clients must tolerate.
RETCODE_MESSAGES = {
    "000-001": "wrong way of getting agent events",
    "000-002": "invalid parameter",
    "000-003": "no right to invoke the interface",
    "000-004": "the agent is being switched over",
    "000-006": "message parameter error",
    "000-007": "interface invoked repeatedly",
    "100-001": "sign-in parameter empty or invalid",
    "100-002": "the agent has signed in",
    "100-003": "resource unavailable",
    "100-004": "wrong user name or password",
    "100-006": "the agent has not signed in",
    "100-007": "Unknown ERROR._10007",
    "100-008": "the agent has signed out",
    "100-012": "wrong agent type at sign-in",
    "100-016": "invalid IP address at sign-in",
    "110-016": "the account is locked",
    "101-004": "the agent is not a quality inspector",
}

#: The same in Chinese, for ``messages: zh``: a gateway with a Chinese locale writes non-ASCII
#: messages, which is what makes a charset other than UTF-8 change the bytes on the wire. Where
#: the vendor's table (cec_07_0580) gives the words, they are used; the others are ours.
RETCODE_MESSAGES_ZH = {
    "000-001": "获取Agent事件的方法错误",
    "000-002": "URL参数或地址错误,或接口参数无效",
    "000-003": "没有调用接口的权限",
    "000-004": "座席正在倒换",
    "000-006": "消息参数错误",
    "000-007": "接口重复调用",
    "100-001": "签入参数为空或无效",
    "100-002": "座席已经签入",
    "100-003": "签入时资源不可用",
    "100-004": "用户名或密码错误",
    "100-006": "座席未签入",
    "100-007": "Unknown ERROR._10007",
    "100-008": "座席已经签出",
    "100-012": "签入时座席类型错误",
    "100-016": "签入时IP地址无效",
    "110-016": "账号已锁定",
    "101-004": "非质检员没有查询vdn会议权限",
}
#: ``message`` of a success that carries one ("success" in queryvdnconfid's sample).
SUCCESS_MESSAGES = {"en": "success", "zh": "成功"}


def retcode_message(retcode: str, language: str = "en") -> str:
    table = RETCODE_MESSAGES_ZH if language == "zh" else RETCODE_MESSAGES
    return table.get(retcode, "Unknown ERROR._" + retcode.replace("-", "")[1:])


def html_error(status: int) -> bytes:
    """What an nginx-style balancer answers when the node behind it fails."""
    reason = {502: "Bad Gateway", 503: "Service Temporarily Unavailable"}.get(status, "Error")
    return (
        f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {reason}</h1></center>\r\n<hr><center>NSLB</center>\r\n"
        "</body>\r\n</html>\r\n"
    ).encode()


@dataclass
class FaultDecision:
    delay_s: float = 0.0
    slow_s: float = 0.0
    http_status: int | None = None
    retcode: str | None = None
    malformed: bool = False
    reset: bool = False

    @property
    def any(self) -> bool:
        return bool(
            self.delay_s
            or self.slow_s
            or self.http_status
            or self.retcode
            or self.malformed
            or self.reset
        )


class FaultInjector:
    """Draws faults for a method from the live :class:`FaultConfig`."""

    def __init__(self, config: FaultConfig, seed: int) -> None:
        self.config = config
        self._rng = random.Random(config.seed if config.seed is not None else seed)

    def reseed(self, seed: int) -> None:
        self._rng.seed(seed)

    def decide(self, method: str) -> FaultDecision:
        rng = self._rng
        decision = FaultDecision()
        for rule in self.config.all_rules():
            if not rule.applies_to(method) or not rule.is_active():
                continue
            fired = False
            if rule.latency_ms or rule.jitter_ms:
                jitter = rng.uniform(-rule.jitter_ms, rule.jitter_ms) if rule.jitter_ms else 0.0
                decision.delay_s += max(0.0, rule.latency_ms + jitter) / 1000.0
                fired = True
            if rule.slow_rate and rng.random() < rule.slow_rate:
                decision.slow_s = max(decision.slow_s, rule.slow_seconds)
                fired = True
            if rule.http_error_rate and rng.random() < rule.http_error_rate:
                decision.http_status = decision.http_status or rule.http_error_status
                fired = True
            if rule.retcodes:
                draw = rng.random()
                cumulative = 0.0
                for code, rate in rule.retcodes.items():
                    cumulative += rate
                    if draw < cumulative:
                        decision.retcode = decision.retcode or code
                        fired = True
                        break
            if rule.malformed_rate and rng.random() < rule.malformed_rate:
                decision.malformed = True
                fired = True
            if rule.reset_rate and rng.random() < rule.reset_rate:
                decision.reset = True
                fired = True
            if fired and rule.limit is not None:
                rule.limit -= 1
        return decision

    def malform(self, body: bytes) -> bytes:
        """A 200 answer that is not JSON a client can use: truncated, or garbage."""
        choice = self._rng.randrange(3)
        if choice == 0 and len(body) > 2:
            return body[: self._rng.randrange(1, len(body) - 1)]
        if choice == 1:
            return body[:-1] + b',"result":}' if body else b"{"
        return b'{"message":"","retcode":"0","result":<html>internal error</html>'

    def reset_cut(self, body: bytes) -> int:
        """How many body bytes to send before the connection is aborted."""
        return self._rng.randrange(0, max(1, len(body) // 2))
