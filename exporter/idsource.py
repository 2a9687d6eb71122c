"""Conference IDs from a watched file (`conferences.ids_file`).

Operators or a side job (a CTI report, a dialler) may know the conference IDs better than
discovery does, e.g. for an ordinary agent account that cannot discover. The file is re-read
when its modification time or size changes, checked with one `stat` per collection, so editing
it takes effect on the next scrape with no reload and no file-watching thread.

Format: decimal IDs separated by newlines, commas or spaces; `#` starts a comment.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

from .logs import kv

log = logging.getLogger(__name__)


@dataclass(slots=True)
class IdsFile:
    path: str
    gateway: str = ""
    ids: frozenset[int] = frozenset()
    invalid: int = 0  # tokens in the current content that are not IDs
    _signature: tuple[float, int] | None = field(default=None, repr=False)
    _missing_logged: bool = field(default=False, repr=False)

    def current(self) -> frozenset[int]:
        """The IDs in the file now; the last good set while the file cannot be read."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            if not self._missing_logged:
                log.info(
                    "ids_file does not exist (yet); no IDs from it",
                    extra=kv(gateway=self.gateway, path=self.path),
                )
                self._missing_logged = True
            self.ids, self._signature = frozenset(), None
            return self.ids
        except OSError as exc:
            log.warning("cannot stat ids_file", extra=kv(gateway=self.gateway, error=str(exc)))
            return self.ids
        signature = (st.st_mtime, st.st_size)
        if signature == self._signature:
            return self.ids
        try:
            with open(self.path, encoding="utf-8", errors="replace") as handle:
                text = handle.read()
        except OSError as exc:
            log.warning("cannot read ids_file", extra=kv(gateway=self.gateway, error=str(exc)))
            return self.ids
        self._signature = signature
        self._missing_logged = False
        self.ids, self.invalid = parse_ids(text)
        log.info(
            "ids_file loaded",
            extra=kv(gateway=self.gateway, path=self.path, ids=len(self.ids), invalid=self.invalid),
        )
        return self.ids


def parse_ids(text: str) -> tuple[frozenset[int], int]:
    """IDs and the number of tokens that were not positive decimal integers."""
    ids: set[int] = set()
    invalid = 0
    for line in text.splitlines():
        for token in line.split("#", 1)[0].replace(",", " ").split():
            if token.isdigit() and int(token) > 0:
                ids.add(int(token))
            else:
                invalid += 1
    return frozenset(ids), invalid
