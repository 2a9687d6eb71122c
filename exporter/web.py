"""HTTP: `/`, `/metrics`, `/probe?target=`, `/-/healthy`, `/-/ready`, `/-/reload`.

A scrape is followed from here: the handler turns the scrape timeout header into a deadline,
asks each gateway's target for a collection (shared with concurrent scrapes), and renders the
views with the exposition module in the negotiated format.

The routes only: the listener's limits are exporter/httpserver.py's, the credentials
exporter/webconfig.py's, and what a reload does exporter/app.py's.
"""

from __future__ import annotations

import asyncio
import html
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.payload import Payload
from aiohttp.typedefs import Middleware
from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client import exposition as prom_text
from prometheus_client.openmetrics import exposition as prom_om

from . import __version__, pages
from .collector import scrape_timeout
from .exposition import (
    CONTENT_TYPE_OPENMETRICS,
    CONTENT_TYPE_TEXT,
    Body,
    GatewayView,
    Renderer,
    SharedBodies,
    view_of,
)
from .selfmetrics import ExporterMetrics
from .targets import Targets

if TYPE_CHECKING:
    from .collector import Collection, GatewayTarget
    from .httpserver import HTTPStats

log = logging.getLogger(__name__)

EXPORTER_KEY: web.AppKey[Exporter] = web.AppKey("exporter")
#: Reloads the configuration; True when it worked. Its problems go to the log, never here.
Reload = Callable[[], Awaitable[bool]]
RELOAD_KEY: web.AppKey[Reload | None] = web.AppKey("reload")


class Exporter:
    """The running exporter: the gateway targets, its own metrics, the renderers."""

    def __init__(self, targets: Targets, http: HTTPStats | None = None) -> None:
        self.targets = targets
        self.self_metrics = ExporterMetrics(targets, http)
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(ProcessCollector(registry=None))
        self.registry.register(self.self_metrics)
        self._renderers = {False: Renderer(openmetrics=False), True: Renderer(openmetrics=True)}
        self._bodies = SharedBodies()

    async def views(
        self, targets: Iterable[GatewayTarget], timeout_header: str | None
    ) -> list[GatewayView]:
        chosen = list(targets)
        collections = await asyncio.gather(
            *(t.collect(scrape_timeout(t.config.timeout, timeout_header)) for t in chosen)
        )
        return [_view(t, c) for t, c in zip(chosen, collections, strict=True)]

    def render(self, views: list[GatewayView], openmetrics: bool, exporter_wide: bool) -> Body:
        """The body; scrapes sharing a collection share it (see `SharedBodies`)."""
        key = (openmetrics, exporter_wide)
        body = self._bodies.get(key, views)
        if body is None:
            body = self._render(views, openmetrics, exporter_wide)
            self._bodies.put(key, views, body)
        return body

    def _render(self, views: list[GatewayView], openmetrics: bool, exporter_wide: bool) -> Body:
        # As bytes from the start, and never joined whole (issue 18, exposition.Body).
        chunks = self._renderers[openmetrics].render_bytes(views)
        if exporter_wide:
            if openmetrics:
                extra = prom_om.generate_latest(self.registry)  # type: ignore[no-untyped-call]
                chunks.append(extra.removesuffix(b"# EOF\n"))
            else:
                chunks.append(prom_text.generate_latest(self.registry))
        if openmetrics:
            chunks.append(b"# EOF\n")
        return Body.of(chunks)


def _view(target: GatewayTarget, collection: Collection) -> GatewayView:
    return view_of(target, collection, backoff=target.session.retry_in)


_SENT = Body((), 0)


class SlicedBody(Payload):
    """A large body, sent so that it costs memory only while it is being sent.

    Joined in ~64 KiB pieces as it is written, each write awaiting the socket (aiohttp drains
    above its buffer limit): below memtune's mmap threshold, so each piece reuses the memory
    the one before gave back, where one 11 MB join cost an mmap and its page faults per scrape.
    And dropped once sent: aiohttp keeps a keep-alive connection's last response until the
    next request arrives on it, so every scraper's connection pinned a whole body between
    scrapes (at 10,000 conferences, 11 MB each: RSS ~190 MB after ten scrapers had connected,
    instead of ~90 MB).
    """

    SLICE = 1 << 16
    _value: Body

    def __init__(self, body: Body, content_type: str) -> None:
        super().__init__(body, content_type=content_type)
        self._size = body.size

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        return self._value.join().decode(encoding, errors)

    async def write(self, writer: AbstractStreamWriter) -> None:
        await self.write_with_length(writer, None)

    async def write_with_length(
        self, writer: AbstractStreamWriter, content_length: int | None
    ) -> None:
        left = self._value.size if content_length is None else content_length
        try:
            for piece in self._value.pieces(self.SLICE):
                if left <= 0:
                    break
                await writer.write(piece if len(piece) <= left else piece[:left])
                left -= len(piece)
        finally:  # also when the scraper went away mid-body
            self._value = _SENT


def wants_openmetrics(accept: str) -> bool:
    """Content negotiation as Prometheus does it: OpenMetrics only when asked for."""
    return "application/openmetrics-text" in accept


async def _metrics_response(
    request: web.Request, targets: Iterable[GatewayTarget], exporter_wide: bool
) -> web.Response:
    exporter = request.app[EXPORTER_KEY]
    header = request.headers.get("X-Prometheus-Scrape-Timeout-Seconds")
    views = await exporter.views(targets, header)
    openmetrics = wants_openmetrics(request.headers.get("Accept", ""))
    body = exporter.render(views, openmetrics, exporter_wide)
    content_type = CONTENT_TYPE_OPENMETRICS if openmetrics else CONTENT_TYPE_TEXT
    response = web.Response(
        body=SlicedBody(body, content_type=content_type), headers={"Content-Type": content_type}
    )
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        response.enable_compression(web.ContentCoding.gzip)
    return response


# `/metrics?collect[]=exporter`: node_exporter's parameter for choosing collectors. Those who
# scrape the gateways through /probe use it for the exporter's own metrics, which /metrics would
# otherwise serve beside a second copy of every gateway's series.
COLLECT_PARAM = "collect[]"
COLLECT_CHOICES = ("gateways", "exporter")


async def metrics(request: web.Request) -> web.Response:
    exporter = request.app[EXPORTER_KEY]
    chosen = request.query.getall(COLLECT_PARAM, list(COLLECT_CHOICES))
    unknown = [c for c in chosen if c not in COLLECT_CHOICES]
    if unknown:
        return web.Response(
            status=400,
            text=f"unknown {COLLECT_PARAM} {unknown[0][:64]!r}: use "
            + " or ".join(COLLECT_CHOICES)
            + "\n",
        )
    targets = exporter.targets.all() if "gateways" in chosen else []
    return await _metrics_response(request, targets, exporter_wide="exporter" in chosen)


async def probe(request: web.Request) -> web.Response:
    """Multi-target: one configured gateway by name. The name never becomes a URL."""
    exporter = request.app[EXPORTER_KEY]
    name = request.query.get("target", "")
    if not name:
        return web.Response(status=400, text="missing parameter: target\n")
    target = exporter.targets.get(name)
    if target is None:
        return web.Response(
            status=400, text=f"unknown target {name[:64]!r}: not a configured gateway name\n"
        )
    if request.query.get("debug", "").lower() in ("true", "1"):
        # The collection's own story instead of metrics (blackbox_exporter's debug=true).
        header = request.headers.get("X-Prometheus-Scrape-Timeout-Seconds")
        collection = await target.collect(scrape_timeout(target.config.timeout, header))
        return web.Response(text=pages.debug_text(target, collection))
    return await _metrics_response(request, [target], exporter_wide=False)


async def conferences(request: web.Request) -> web.Response:
    """The conferences of the last collection (no gateway call): HTML or `format=json`."""
    exporter = request.app[EXPORTER_KEY]
    gateway = request.query.get("gateway", "")
    targets = exporter.targets.all()
    if gateway:
        targets = [t for t in targets if t.name == gateway]
    column = request.query.get("sort", "conf_id")
    descending = request.query.get("order", "asc") == "desc"
    rows = pages.sorted_rows(pages.rows_of(targets), column, descending)
    if request.query.get("format") == "json":
        return web.Response(
            text=pages.conferences_json(rows, targets), content_type="application/json"
        )
    return web.Response(
        text=pages.conferences_html(rows, column, descending, gateway), content_type="text/html"
    )


async def healthy(request: web.Request) -> web.Response:
    return web.Response(text="OK\n")


async def ready(request: web.Request) -> web.Response:
    """Ready once every gateway has signed in once or knows why it cannot."""
    waiting = [
        f"{t.name}: {t.session.state}, no sign-in result yet"
        for t in request.app[EXPORTER_KEY].targets.all()
        if not t.session.sign_in_attempted
    ]
    if waiting:
        return web.Response(status=503, text="not ready:\n" + "\n".join(waiting) + "\n")
    return web.Response(text="OK\n")


# Content types an HTML form (or a "simple" cross-origin fetch, which needs no preflight) can
# send. A script reloads with an empty POST (`curl -X POST URL`), which sends none of them.
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain")


async def reload(request: web.Request) -> web.Response:
    """`POST /-/reload`, as Prometheus's own: off unless --web.enable-lifecycle (403 with the
    hint), and never for a browser: a request carrying `Origin` (every cross-site and
    same-site POST a browser makes, DNS rebinding included), `Sec-Fetch-Site` other than
    `none`, or a form content type is refused, so a web page cannot make a visitor's browser
    reload. The answer says only whether it worked: the configuration's problems name files
    and paths, and go to the log."""
    reloader = request.app[RELOAD_KEY]
    if reloader is None:
        return web.Response(
            status=403,
            text="lifecycle API is not enabled; start ccgw-exporter with --web.enable-lifecycle "
            "(or send SIGHUP)\n",
        )
    fetch_site = request.headers.get("Sec-Fetch-Site", "none").lower()
    content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if "Origin" in request.headers or fetch_site != "none" or content_type in _FORM_TYPES:
        return web.Response(
            status=403,
            text="refused: /-/reload takes a POST without a body from a script, not from a "
            "browser or a form (curl -X POST URL)\n",
        )
    if await reloader():
        return web.Response(text="reloaded\n")
    return web.Response(
        status=500,
        text="reload failed; the previous configuration stays; the exporter's log says why\n",
    )


async def landing(request: web.Request) -> web.Response:
    exporter = request.app[EXPORTER_KEY]
    rows = []
    for t in exporter.targets.all():
        last = t.last
        if last is None:
            collected = "never"
        else:
            age = time.time() - last.finished_at
            collected = (
                f"{age:.0f}s ago: up={int(last.up)}, {len(last.conferences)} conferences, "
                f"{last.duration:.3f}s of {last.timeout:.1f}s, "
                f"{last.failed_requests} failed request(s)"
                + (f", {last.error}" if last.error else "")
            )
        state = t.session.state + (f" ({t.session.last_error})" if t.session.last_error else "")
        name = html.escape(t.name)
        rows.append(
            f"<tr><td>{name}</td><td>{html.escape(t.config.url)}</td>"
            f"<td>{html.escape(state)}</td><td>{html.escape(collected)}</td>"
            f'<td><a href="probe?target={name}">probe</a> · '
            f'<a href="probe?target={name}&amp;debug=true">debug</a> · '
            f'<a href="conferences?gateway={name}">conferences</a></td></tr>'
        )
    body = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>ccgw-exporter</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:.3em .8em;text-align:left}}
tr:nth-child(even){{background:#f3f3f3}}</style></head>
<body><h1>ccgw-exporter {html.escape(__version__)}</h1>
<p>Prometheus exporter for conferences on Huawei CC-Gateway.</p>
<p><a href="metrics">/metrics</a> · <a href="metrics?collect[]=exporter">exporter only</a> ·
<a href="conferences">conferences</a> ·
<a href="-/healthy">/-/healthy</a> · <a href="-/ready">/-/ready</a></p>
<table><tr><th>gateway</th><th>url</th><th>session</th><th>last collection</th><th></th></tr>
{"".join(rows) or '<tr><td colspan="5">no gateway configured</td></tr>'}
</table></body></html>
"""
    return web.Response(text=body, content_type="text/html")


@web.middleware
async def _errors(
    request: web.Request,
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> web.StreamResponse:
    """Never a traceback on an error page: it could carry internals."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception:
        log.exception("request failed", extra={"kv": {"path": request.path}})
        return web.Response(status=500, text="internal error; see the exporter's log\n")


def make_app(
    exporter: Exporter,
    *,
    middlewares: Sequence[Middleware] = (),
    reloader: Reload | None = None,
) -> web.Application:
    """`middlewares` run outside the error handler (the listener's request tracking, the web
    config's auth and headers). Without `reloader` the lifecycle API is off: `POST
    /-/reload` answers 403 (`--web.enable-lifecycle` gives one, exporter/app.py)."""
    app = web.Application(middlewares=[*middlewares, _errors])
    app[EXPORTER_KEY] = exporter
    app[RELOAD_KEY] = reloader
    app.router.add_get("/", landing)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/probe", probe)
    app.router.add_get("/conferences", conferences)
    app.router.add_get("/-/healthy", healthy)
    app.router.add_get("/-/ready", ready)
    app.router.add_post("/-/reload", reload)
    return app
