"""Where the Grafana dashboards, their provisioning files and the Prometheus rules are.

An operator who installed the wheel (pip, the container image) has no checkout to copy them
from, so the wheel carries them inside the package, under ``exporter/assets/``, in the
repository's own layout (``grafana/dashboards/``, ``grafana/provisioning/``,
``prometheus/*.rules.yml``): every command in the docs that names ``grafana/...`` or
``prometheus/...`` works from either directory. An editable install (development) has no such
copy; there the checkout itself is the answer.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def assets_dir() -> Path:
    """The installed copy if there is one, else the checkout the package runs from."""
    installed = _PACKAGE / "assets"
    if installed.is_dir():
        return installed
    return _PACKAGE.parent
