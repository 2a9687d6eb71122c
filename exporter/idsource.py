"""Conference IDs from a watched file (`conferences.ids_file`).

Operators or a side job (a CTI report, a dialler) may know the conference IDs better than
discovery does, e.g. for an ordinary agent account that cannot discover. The file is re-read
when it changes (modification time, size or inode: an edit in place or an atomic rename),
checked with one `stat` per collection, so editing it takes effect on the next scrape with no
reload and no file-watching thread.

Format: conference IDs separated by newlines, commas or whitespace; `#` starts a comment that
runs to the end of the line. Each ID is what `exporter.primitives.parse_conference_id` accepts
from text, the same rule as the config's `ids`: ASCII decimal digits, 1 to 2^63-1 (so `"²"`,
`"٣"`, `0` and `-5` are not IDs). A token that is not an ID is counted and skipped; the rest of
the file still counts, so one typo does not blank a whole list.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

from .logs import kv
from .primitives import parse_conference_id, show

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ParsedIds:
    """The IDs of one version of the file and what was skipped in it."""

    ids: frozenset[int] = frozenset()
    invalid: int = 0  # tokens that are not IDs
    first_invalid: str = ""  # the first of them, for the log line


@dataclass(slots=True)
class IdsFile:
    path: str
    gateway: str = ""
    ids: frozenset[int] = frozenset()
    invalid: int = 0  # tokens in the current content that are not IDs
    _signature: tuple[int, int, int] | None = field(default=None, repr=False)
    _missing_logged: bool = field(default=False, repr=False)

    def current(self) -> frozenset[int]:
        """The IDs in the file now; the last good set while the file cannot be read, and
        none once it is gone (deleting the file is how a side job says "no conferences")."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            if not self._missing_logged:
                log.info(
                    "ids_file does not exist (yet); no IDs from it",
                    extra=kv(gateway=self.gateway, path=self.path),
                )
                self._missing_logged = True
            self.ids, self.invalid, self._signature = frozenset(), 0, None
            return self.ids
        except OSError as exc:
            log.warning("cannot stat ids_file", extra=kv(gateway=self.gateway, error=str(exc)))
            return self.ids
        signature = (st.st_mtime_ns, st.st_size, st.st_ino)
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
        parsed = parse_ids_text(text)
        self.ids, self.invalid = parsed.ids, parsed.invalid
        fields = kv(gateway=self.gateway, path=self.path, ids=len(self.ids), invalid=self.invalid)
        if parsed.invalid:
            fields["kv"]["first_invalid"] = show(parsed.first_invalid)
            log.warning("ids_file loaded; tokens that are not conference IDs skipped", extra=fields)
        else:
            log.info("ids_file loaded", extra=fields)
        return self.ids


def parse_ids_text(text: str) -> ParsedIds:
    """The IDs in the file's text (see the module docstring for the format)."""
    ids: set[int] = set()
    invalid = 0
    first_invalid = ""
    for line in text.splitlines():
        for token in line.split("#", 1)[0].replace(",", " ").split():
            try:
                ids.add(parse_conference_id(token))
            except ValueError:
                if not invalid:
                    first_invalid = token
                invalid += 1
    return ParsedIds(frozenset(ids), invalid, first_invalid)


def parse_ids(text: str) -> tuple[frozenset[int], int]:
    """IDs and the number of tokens that were not conference IDs."""
    parsed = parse_ids_text(text)
    return parsed.ids, parsed.invalid
