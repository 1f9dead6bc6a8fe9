"""The studio's web layer: a Starlette app serving the page, its assets and a JSON API.

Every route turns a request into one call of :class:`~.service.Studio` and its result into
JSON; a :class:`~telcoflow.errors.TelcoflowError` becomes ``{"error": message}`` with status
400, which the page shows. The page and its assets come from the package (``static/``,
``templates/``): nothing is fetched from the internet.
"""

from __future__ import annotations

import html
import json
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

from telcoflow._optional import requires
from telcoflow.errors import StudioError, TelcoflowError
from telcoflow.journeys.drawing import SVG_STYLE
from telcoflow.journeys.metrics import CHART_STYLE
from telcoflow.studio.service import Studio

with requires("studio", "the journey studio"):
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse, Response
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

__all__ = ["create_app"]

Handler = Callable[[Request], Awaitable[Response]]


def _page(name: str) -> str:
    return resources.files("telcoflow.studio").joinpath("templates").joinpath(name).read_text(
        encoding="utf-8")


async def _body(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.body() or b"{}")
    except ValueError as exc:
        raise StudioError(f"the request body is not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise StudioError("the request body must be a JSON object")
    return data


def _api(func: Callable[[Request], Awaitable[Any]]) -> Handler:
    async def handler(request: Request) -> Response:
        try:
            return JSONResponse(await func(request))
        except TelcoflowError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

    return handler


def create_app(studio: Studio) -> Starlette:
    """The ASGI app serving ``studio`` (run it with uvicorn; see :func:`.serve`)."""

    def index_of(request: Request) -> int:
        raw = request.path_params["index"]
        return int(raw)

    async def home(request: Request) -> Response:
        rows = "".join(
            f'<li><a href="/journey/{j["index"]}">{html.escape(j["title"])}</a> '
            f'<span class="muted">{html.escape(j["name"])}'
            f'{"" if j["ok"] else " (has problems)"}</span></li>'
            for j in studio.listing())
        return HTMLResponse(_page("index.html").replace("{{ROWS}}", rows))

    async def journey_page(request: Request) -> Response:
        index = index_of(request)
        try:
            path = studio.file(index)
        except StudioError as exc:
            return HTMLResponse(f"<p>{html.escape(str(exc))}</p>", status_code=404)
        boot = {"index": index, "file": str(path), "name": path.name,
                "files": studio.listing(), "store": studio.store_url or ""}
        page = (_page("journey.html")
                .replace("{{TITLE}}", html.escape(path.name))
                .replace("{{STYLE}}", SVG_STYLE + CHART_STYLE)
                .replace("{{BOOT}}", json.dumps(boot).replace("</", "<\\/")))
        return HTMLResponse(page)

    async def source(request: Request) -> Any:
        return {"text": studio.text(index_of(request))}

    async def check(request: Request) -> Any:
        return studio.check(index_of(request), str((await _body(request)).get("text", "")))

    async def save(request: Request) -> Any:
        return studio.save(index_of(request), str((await _body(request)).get("text", "")))

    async def sim_start(request: Request) -> Any:
        body = await _body(request)
        return studio.start(index_of(request), body.get("text"), body.get("channel") or None)

    async def sim_send(request: Request) -> Any:
        body = await _body(request)
        payload = body.get("payload") or {}
        if not isinstance(payload, dict):
            raise StudioError('a payload is a JSON object, such as {"amount": 10}')
        return studio.simulation(request.path_params["sim"]).send(
            str(body.get("trigger", "")), payload, body.get("channel") or None)

    async def sim_advance(request: Request) -> Any:
        body = await _body(request)
        seconds = body.get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            raise StudioError(f"the clock advances by a number of seconds (got {seconds!r})")
        return studio.simulation(request.path_params["sim"]).advance(seconds)

    async def sim_save(request: Request) -> Any:
        body = await _body(request)
        return studio.save_path_test(request.path_params["sim"], body.get("name", ""))

    async def paths(request: Request) -> Any:
        body = await _body(request)
        return studio.paths(index_of(request), body.get("text"))

    async def run_paths(request: Request) -> Any:
        body = await _body(request)
        return studio.run_paths(index_of(request), body.get("text"), body.get("payloads"))

    async def metrics(request: Request) -> Any:
        body = await _body(request)
        return studio.metrics(index_of(request), body.get("store") or None)

    static = resources.files("telcoflow.studio").joinpath("static")
    routes = [
        Route("/", home),
        Route("/journey/{index:int}", journey_page),
        Route("/api/journey/{index:int}/source", _api(source)),
        Route("/api/journey/{index:int}/check", _api(check), methods=["POST"]),
        Route("/api/journey/{index:int}/save", _api(save), methods=["POST"]),
        Route("/api/journey/{index:int}/simulate", _api(sim_start), methods=["POST"]),
        Route("/api/simulation/{sim}/send", _api(sim_send), methods=["POST"]),
        Route("/api/simulation/{sim}/advance", _api(sim_advance), methods=["POST"]),
        Route("/api/simulation/{sim}/save-test", _api(sim_save), methods=["POST"]),
        Route("/api/journey/{index:int}/paths", _api(paths), methods=["POST"]),
        Route("/api/journey/{index:int}/paths/run", _api(run_paths), methods=["POST"]),
        Route("/api/journey/{index:int}/metrics", _api(metrics), methods=["POST"]),
        Mount("/static", StaticFiles(directory=str(static)), name="static"),
    ]
    return Starlette(routes=routes)
