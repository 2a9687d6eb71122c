"""``python -m ccgw_simulator``: the same as ``ccgw-gateway-sim``."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
