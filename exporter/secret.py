"""A string that is never printed.

Passwords travel from the config loader to the gateway client inside other objects (config
dataclasses, exceptions, log records). Wrapping them means an accidental ``repr()`` of any of
those shows ``<secret>`` instead of the password; only code that calls :meth:`Secret.reveal`
sees the value, which makes every real use of it easy to find with ``grep``.
"""

from __future__ import annotations

import hmac

__all__ = ["Secret"]

_MASK = "<secret>"


class Secret:
    """A secret string: prints as ``<secret>``, compares and hashes by value.

    Equality by value is deliberate: the exporter keeps a gateway's session across a config
    reload when its settings are unchanged, and a changed password is a changed setting.
    """

    __slots__ = ("_value",)

    _value: str

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            # Catch bytes or None early: either would reach the gateway as a wrong password.
            raise TypeError(f"Secret wraps a str, not {type(value).__name__}")
        object.__setattr__(self, "_value", value)

    def reveal(self) -> str:
        """Return the value; call it only where the password is sent."""
        return self._value

    def __repr__(self) -> str:
        return _MASK

    def __str__(self) -> str:
        return _MASK

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        # Constant time, so comparing configs cannot become a timing oracle.
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Secret is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Secret is immutable")

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> Secret:
        # Immutable, so sharing is a copy; also keeps copy.deepcopy(config) working although
        # pickling is refused below.
        return self

    def __reduce__(self) -> str:
        # Pickling would write the password wherever the pickle goes (multiprocessing queues,
        # caches); nothing in the exporter needs it, so refuse rather than leak.
        raise TypeError("Secret cannot be pickled")
