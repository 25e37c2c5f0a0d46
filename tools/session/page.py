"""The session page of the operator console: the protocol's phases, which one runs, and
a button that starts the next one. Each phase's graph console (the live views, the
emergency stop, the stimulus page) is on the next port, shown below."""
from __future__ import annotations

import asyncio
import json
import threading

from aiohttp import web

from .protocol import Phase
from .run import Session

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>session</title>
<style>body{font-family:sans-serif;margin:1em}li.done{color:#060}li.now{font-weight:bold}
button{font-size:1.2em;padding:.4em 1em}iframe{width:100%;height:75vh;border:1px solid #aaa}</style></head>
<body><h2 id="title">session</h2><ol id="phases"></ol><p id="state"></p>
<button id="next" hidden>Start the next phase</button> <button id="stop" hidden>End the session</button>
<iframe id="console" src="about:blank"></iframe>
<script>
const $ = (id) => document.getElementById(id);
async function refresh() {
  const s = await (await fetch("/state")).json();
  $("title").textContent = `${s.name}: sub-${s.subject} ses-${s.session} task-${s.task}`;
  $("phases").innerHTML = s.phases.map((p, i) => `<li class="${i < s.done ? "done" : i === s.current ? "now" : ""}">` +
    `${p}${s.results[i] ? " (status " + s.results[i].exit_code + ")" : ""}</li>`).join("");
  $("state").textContent = s.state;
  $("next").hidden = $("stop").hidden = !s.waiting;
  const src = s.running ? `http://${location.hostname}:${s.console_port}/` : "about:blank";
  if ($("console").getAttribute("src") !== src) $("console").setAttribute("src", src);
}
$("next").onclick = () => fetch("/next", {method: "POST"}).then(refresh);
$("stop").onclick = () => fetch("/stop", {method: "POST"}).then(refresh);
setInterval(refresh, 1000); refresh();
</script></body></html>"""


class SessionPage:
    def __init__(self, session: Session, host: str, port: int) -> None:
        self.session, self.host, self.port = session, host, port
        self.go = threading.Event()
        self.answer = True
        self.waiting: Phase | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.ready = threading.Event()

    def state(self) -> dict:
        s = self.session
        done = len(s.results)
        phases = [p.name for p in s.protocol.phases]
        waiting = self.waiting is not None
        text = (f"waiting for the operator to start {self.waiting.name}" if waiting else
                f"running {phases[done]}" if done < len(phases) else "session done")
        return {"name": s.protocol.name, "subject": s.subject, "session": s.session, "task": s.protocol.task,
                "phases": phases, "done": done, "current": done, "results": s.results, "state": text,
                "waiting": waiting, "running": not waiting and done < len(phases),
                "console_port": s.ui["port"] if s.ui else None}

    def wait(self, phase: Phase, k: int) -> bool:
        """Blocks the session until the operator starts `phase` (True) or ends the session."""
        self.go.clear()
        self.waiting = phase
        self.go.wait()
        self.waiting = None
        return self.answer

    def _press(self, answer: bool) -> None:
        if self.waiting is not None:
            self.answer = answer
            self.go.set()

    async def _main(self) -> None:
        async def index(_: web.Request) -> web.Response:
            return web.Response(text=PAGE, content_type="text/html")

        async def state(_: web.Request) -> web.Response:
            return web.json_response(json.loads(json.dumps(self.state(), default=str)))

        async def next_(_: web.Request) -> web.Response:
            self._press(True)
            return web.json_response({"ok": True})

        async def stop(_: web.Request) -> web.Response:
            self._press(False)
            return web.json_response({"ok": True})

        app = web.Application()
        app.router.add_get("/", index)
        app.router.add_get("/state", state)
        app.router.add_post("/next", next_)
        app.router.add_post("/stop", stop)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        await web.TCPSite(runner, self.host, self.port, reuse_address=True).start()
        self._stopping = asyncio.Event()
        self.ready.set()
        await self._stopping.wait()
        await runner.cleanup()

    def start(self) -> None:
        def run() -> None:
            self.loop = asyncio.new_event_loop()
            self.loop.run_until_complete(self._main())
        threading.Thread(target=run, name="session-page", daemon=True).start()
        if not self.ready.wait(10):
            raise RuntimeError(f"the session page cannot serve on {self.host}:{self.port}")

    def stop(self) -> None:
        self._press(False)
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self._stopping.set)
