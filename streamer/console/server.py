"""The console's web server: aiohttp in a thread of the console node's process.

It serves the page and its assets from the package (nothing from the network: clinical
networks are offline), one WebSocket per page for the views' binary frames, the run's
figures (JSON text, 4 per second) and the operator's controls. A page that reads slowly
misses frames (counted), it never holds back the server, let alone the graph.
"""
from __future__ import annotations

import asyncio
import hmac
import json
import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable

from aiohttp import WSMsgType, web

from .views import View

log = logging.getLogger("streamer.console")

STATIC = Path(__file__).parent / "static"
TICK_S = 1.0 / 60
FIGURES_S = 0.25
CLIENT_QUEUE = 64           # frames waiting for one page; beyond, its frames are skipped
CONTROL_OPS = {"estop", "rearm", "pause", "resume", "marker", "record"}
# What the stimulus page (/stimulus) sends back: when a stimulus was drawn, the frame times.
STIMULUS_OPS = {"shown", "frames"}


class Client:
    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.queue: asyncio.Queue = asyncio.Queue(CLIENT_QUEUE)
        self.skipped = 0

    def offer(self, item: bytes | str) -> None:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.skipped += 1

    async def pump(self) -> None:
        while True:
            item = await self.queue.get()
            if isinstance(item, bytes):
                await self.ws.send_bytes(item)
            else:
                await self.ws.send_str(item)


class ConsoleServer:
    """Serves `views` (a dict that the node fills as streams appear) to every page."""

    def __init__(self, host: str, port: int, token: str, views: dict[str, View],
                 info: Callable[[], dict], on_control: Callable[[dict], str]) -> None:
        self.host, self.port, self.token = host, port, token
        self.views = views
        self.info = info
        self.on_control = on_control
        self.figures: dict[str, Any] = {}
        self.clients: set[Client] = set()
        self.stimulus_clients: set[Client] = set()
        self.frames_sent = 0
        self.frames_skipped_closed = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None

    @property
    def frames_skipped(self) -> int:
        return self.frames_skipped_closed + sum(c.skipped for c in self.clients)

    # -- lifecycle ------------------------------------------------------------------
    def start(self, timeout_s: float = 10.0) -> None:
        self.thread = threading.Thread(target=self._run, name="console-server", daemon=True)
        self.thread.start()
        if not self.ready.wait(timeout_s):
            raise RuntimeError(f"the console's web server did not start within {timeout_s:.0f} s")
        if self.error is not None:
            raise RuntimeError(f"the console cannot serve on {self.host}:{self.port}: {self.error}; "
                               "choose another port with --ui-port (or `ui: {port: ...}` in the graph)") from None

    def stop(self) -> None:
        if self.loop is not None and self.loop.is_running():
            self.loop.call_soon_threadsafe(self._stopping.set)
        if self.thread is not None:
            self.thread.join(timeout=2.0)

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        try:
            self.loop.run_until_complete(self._main())
        except BaseException as exc:  # noqa: BLE001 - reported to start()
            self.error = exc
            self.ready.set()
        finally:
            self.loop.close()

    async def _main(self) -> None:
        self._stopping = asyncio.Event()
        app = web.Application()
        app.router.add_get("/", self._index)
        app.router.add_get("/stimulus", self._stimulus_page)
        app.router.add_get("/ws", self._ws)
        app.router.add_get("/info", self._info)
        app.router.add_get("/favicon.ico", self._no_icon)
        app.router.add_static("/static", STATIC)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        await site.start()
        self.ready.set()
        pump = asyncio.create_task(self._broadcast())
        try:
            await self._stopping.wait()
        finally:
            pump.cancel()
            for c in list(self.clients):
                await c.ws.close()
            await runner.cleanup()

    # -- HTTP -----------------------------------------------------------------------
    def _allowed(self, request: web.Request) -> bool:
        return not self.token or hmac.compare_digest(request.query.get("token", ""), self.token)

    async def _index(self, request: web.Request) -> web.StreamResponse:
        if not self._allowed(request):
            return web.Response(status=403, text="this console needs its token: open the address "
                                "printed when the graph started (…/?token=...)")
        return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def _stimulus_page(self, request: web.Request) -> web.StreamResponse:
        if not self._allowed(request):
            return web.Response(status=403, text="this console needs its token: add ?token=... as for the console")
        return web.FileResponse(STATIC / "stimulus.html", headers={"Cache-Control": "no-store"})

    def stimulus(self, item: dict) -> None:
        """Send a stimulus (a cue node's marker) to every stimulus page; any thread."""
        if self.loop is None or not self.stimulus_clients:
            return
        text = json.dumps({"type": "stimulus", **item}, default=str)
        self.loop.call_soon_threadsafe(lambda: [c.offer(text) for c in list(self.stimulus_clients)])

    async def _stimulus_ws(self, ws: web.WebSocketResponse) -> None:
        """A stimulus page: it gets the stimuli, syncs its clock to ours (`clock`: our
        monotonic time, answered at once) and reports what it drew (`shown`, `frames`)."""
        client = Client(ws)
        self.stimulus_clients.add(client)
        pump = asyncio.create_task(client.pump())
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    req = json.loads(msg.data)
                except ValueError:
                    continue
                op = req.get("op") if isinstance(req, dict) else None
                if op == "clock":
                    client.offer(json.dumps({"type": "clock", "id": req.get("id"), "t_host": time.monotonic()}))
                elif op in STIMULUS_OPS:
                    try:
                        self.on_control(req)
                    except ValueError as exc:
                        client.offer(json.dumps({"type": "control", "op": op, "ok": False, "error": str(exc)}))
        finally:
            pump.cancel()
            self.stimulus_clients.discard(client)

    async def _no_icon(self, request: web.Request) -> web.Response:
        return web.Response(status=204)

    async def _info(self, request: web.Request) -> web.Response:
        if not self._allowed(request):
            return web.Response(status=403)
        return web.json_response(self._snapshot())

    def _snapshot(self) -> dict:
        return {"type": "figures", **self.info(), "figures": self.figures,
                "views": [v.describe() for v in list(self.views.values())],
                "console": {"clients": len(self.clients), "frames_sent": self.frames_sent,
                            "frames_skipped": self.frames_skipped}}

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        if not self._allowed(request):
            return web.Response(status=403)
        ws = web.WebSocketResponse(heartbeat=10.0, max_msg_size=1 << 18)
        await ws.prepare(request)
        if request.query.get("page") == "stimulus":
            await self._stimulus_ws(ws)
            return ws
        client = Client(ws)
        client.offer(json.dumps(self._snapshot(), default=str))
        for view in list(self.views.values()):
            for f in view.history():
                client.offer(f)
        self.clients.add(client)
        pump = asyncio.create_task(client.pump())
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    client.offer(json.dumps(self._control(msg.data)))
        finally:
            pump.cancel()
            self.clients.discard(client)
            self.frames_skipped_closed += client.skipped
        return ws

    def _control(self, text: str) -> dict:
        try:
            req = json.loads(text)
            op = req.get("op") if isinstance(req, dict) else None
        except ValueError:
            op = None
        if op not in CONTROL_OPS:
            return {"type": "control", "ok": False, "error": f"unknown control {text[:80]!r}"}
        try:
            done = self.on_control(req)
        except ValueError as exc:
            return {"type": "control", "op": op, "ok": False, "error": str(exc)}
        return {"type": "control", "op": op, "ok": True, "done": done}

    # -- frames ---------------------------------------------------------------------
    async def _broadcast(self) -> None:
        due: dict[int, float] = {}
        next_figures = 0.0
        while True:
            await asyncio.sleep(TICK_S)
            t = time.monotonic()
            clients = list(self.clients)
            for view in list(self.views.values()):
                if t < due.get(view.vid, 0.0):
                    continue
                due[view.vid] = t + 1.0 / view.fps
                frames = view.frames()  # taken also without pages: what is stale is never shown
                for f in frames:
                    for c in clients:
                        c.offer(f)
                self.frames_sent += len(frames) * len(clients)
            if t >= next_figures and clients:
                next_figures = t + FIGURES_S
                text = json.dumps(self._snapshot(), default=str)
                for c in clients:
                    c.offer(text)
