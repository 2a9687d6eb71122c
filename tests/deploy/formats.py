"""Small readers for the formats of the deployment files, just enough to test them here.

No Docker engine, init system or cluster runs on our machines, so the tests read the files the
way those would: a Dockerfile's instructions by stage, `.dockerignore`'s allowlist, a systemd
unit's directives (repeatable, unlike an INI file's keys), a compose service's mounts (to put
container paths back to files in the checkout), and the Markdown blocks the docs mark for
checking.
"""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

# --------------------------------------------------------------------------------- Dockerfile


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: FROM, COPY, ...
    args: str  # the rest of the (joined) line

    def exec_form(self) -> list[str] | None:
        """The JSON array of an exec-form CMD/ENTRYPOINT/HEALTHCHECK CMD, if it is one."""
        text = self.args
        if self.keyword == "HEALTHCHECK":
            text = text.split(" CMD ", 1)[1] if " CMD " in f" {text}" else ""
            text = text.strip()
        if not text.startswith("["):
            return None
        value = json.loads(text)
        assert isinstance(value, list)
        assert all(isinstance(v, str) for v in value)
        return value


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None


def dockerfile_stages(text: str) -> list[Stage]:
    """Instructions grouped by stage; continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if stripped.endswith("\\"):
            pending += stripped[:-1].strip() + " "
            continue
        logical.append(pending + stripped)
        pending = ""
    assert not pending, "Dockerfile ends inside a continued line"

    stages: list[Stage] = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = args.split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name))
        elif stages:
            stages[-1].instructions.append(Instruction(keyword, args.strip()))
    return stages


def copy_sources(instruction: Instruction) -> tuple[list[str], str]:
    """(sources, destination) of a COPY, without its --flags."""
    words = [w for w in instruction.args.split() if not w.startswith("--")]
    return words[:-1], words[-1]


# ------------------------------------------------------------------------------ .dockerignore


@dataclass(frozen=True)
class DockerIgnore:
    """Docker's rules in the subset this repository uses: patterns in order, the last one that
    matches decides, `!` re-admits, a pattern matching a folder covers what is inside it."""

    patterns: tuple[tuple[bool, str], ...]  # (admits, pattern)

    @classmethod
    def parse(cls, text: str) -> DockerIgnore:
        patterns = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            admits = line.startswith("!")
            patterns.append((admits, line.lstrip("!").strip("/")))
        return cls(tuple(patterns))

    def admits(self, path: str) -> bool:
        parts = PurePosixPath(path).parts
        admitted = True
        for admits, pattern in self.patterns:
            if self._matches(parts, pattern):
                admitted = admits
        return admitted

    @staticmethod
    def _matches(parts: tuple[str, ...], pattern: str) -> bool:
        if pattern.startswith("**/"):
            tail = pattern[3:]
            return any(fnmatch.fnmatchcase(part, tail) for part in parts)
        pattern_parts = PurePosixPath(pattern).parts
        # A match of the path or of any folder above it.
        for length in range(1, len(parts) + 1):
            prefix = parts[:length]
            if len(prefix) == len(pattern_parts) and all(
                fnmatch.fnmatchcase(p, q) for p, q in zip(prefix, pattern_parts, strict=True)
            ):
                return True
        return False

    def admitted_roots(self) -> list[str]:
        """The paths the allowlist names (`!path`)."""
        return [pattern for admits, pattern in self.patterns if admits]


# ------------------------------------------------------------------------------- systemd unit


def unit_directives(text: str) -> dict[str, list[tuple[str, str]]]:
    """Section -> [(key, value)], in order; repeated keys kept; continuation lines joined."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith(("#", ";"))):
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        line = pending + line
        pending = ""
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        assert current is not None, f"directive outside a section: {line}"
        key, sep, value = line.partition("=")
        assert sep, f"not a directive: {line}"
        current.append((key.strip(), value.strip()))
    return sections


def values(directives: list[tuple[str, str]], key: str) -> list[str]:
    return [value for k, value in directives if k == key]


# -------------------------------------------------------------------------- compose mounts


@dataclass(frozen=True)
class Mount:
    source: Path  # on the host, resolved against the compose file's folder
    target: str  # in the container


def bind_mounts(service: dict[str, object], compose_dir: Path) -> list[Mount]:
    """The service's bind mounts (short syntax); named volumes are left out."""
    mounts = []
    volumes = service.get("volumes") or []
    assert isinstance(volumes, list)
    for entry in volumes:
        assert isinstance(entry, str), "only the short volume syntax is read here"
        source, target = entry.split(":")[:2]
        if source.startswith((".", "/")):
            mounts.append(Mount((compose_dir / source).resolve(), target))
    return mounts


def host_path(container_path: str, mounts: list[Mount]) -> Path | None:
    """Where a container path lives in the checkout, through the longest matching mount."""
    best: tuple[int, Path] | None = None
    for mount in mounts:
        target = mount.target.rstrip("/")
        if container_path == target:
            candidate = (len(target), mount.source)
        elif container_path.startswith(target + "/"):
            candidate = (len(target), mount.source / container_path[len(target) + 1 :])
        else:
            continue
        if best is None or candidate[0] > best[0]:
            best = candidate
    return best[1] if best else None


# ------------------------------------------------------------------------------- Markdown


def marked_blocks(markdown: str, marker: str) -> list[str]:
    """The ```yaml blocks that directly follow `<!-- marker -->`."""
    pattern = rf"<!-- {re.escape(marker)} -->\n```yaml\n(.*?)```"
    return re.findall(pattern, markdown, re.S)


def marked_files(markdown: str) -> dict[str, str]:
    """`<!-- file: PATH -->` followed by a ```yaml block: files an example config needs."""
    return dict(re.findall(r"<!-- file: (\S+) -->\n```yaml\n(.*?)```", markdown, re.S))
