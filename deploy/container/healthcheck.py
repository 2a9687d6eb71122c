"""The container's HEALTHCHECK: exit 0 when the exporter's /-/healthy answers 200, else 1.

Python, because the slim base image has neither curl nor wget, and installing one for this
would grow the image and its attack surface. The URL comes from $CCGW_HEALTHCHECK_URL (the
image sets http://127.0.0.1:9865/-/healthy): change it with the listen address, or to https
when a --web.config.file turns TLS on. The certificate is not verified: this is a loopback
liveness check, and the certificate is made for the exporter's scrapers, not for 127.0.0.1.
"""

from __future__ import annotations

import os
import ssl
import sys
import urllib.error
import urllib.request

DEFAULT_URL = "http://127.0.0.1:9865/-/healthy"
TIMEOUT = 4.0  # under the HEALTHCHECK's --timeout, so this script reports, not Docker


def main() -> int:
    url = os.environ.get("CCGW_HEALTHCHECK_URL") or DEFAULT_URL
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT, context=context) as response:
            status = int(response.status)
    except urllib.error.HTTPError as error:
        status = int(error.code)
    except OSError as error:
        print(f"unhealthy: {url}: {error}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"unhealthy: {url} answered {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
