"""The console node: a sink fed through `latest` edges that keeps a reduced view of each
stream, serves them to a web page, and sends the operator's controls into the graph."""
from __future__ import annotations

import logging
import queue
import time
from typing import Any

from pydantic import Field

from ..node import WILDCARD, Params, Port, Sink
from ..streams import ANY, COMMAND, MARKER, Message, command, marker, now
from .server import ConsoleServer
from .views import View, make_view, warm_up_kernels

log = logging.getLogger("streamer.console")

# While the gates are latched, the console tells them again this often: a gate that
# restarted (and came back armed) is latched again within this time.
RELATCH_S = 1.0


class Console(Sink):
    """Operator console: a web page with the graph and its live figures, a view of each
    stream (scope, event frames, images, spike rasters, decisions, commands), and the
    controls: emergency stop (latches every gate), pause/resume of actuation, markers and
    start/stop of recording. Added by `streamer run --ui`; every input is a `latest` edge,
    so it never holds the graph back, and what it does not show is counted."""

    optional = True
    default_on_failure = "detach"
    takes_figures = True
    # The operator's controls do not wait for it: the server wakes the node (see _on_control).
    tick_interval_s = 0.1
    inputs = {WILDCARD: Port(ANY, "any stream to view; the port name is the view's name")}
    outputs = {"control": Port(COMMAND, "to the gates' control port: estop, rearm, pause, resume"),
               "markers": Port(MARKER, "markers typed or clicked in the page"),
               "record": Port(COMMAND, "to the recorders' control port: record on/off")}

    class Params(Params):
        # not `host`: that key of the runtime places a node on another machine
        address: str = Field("127.0.0.1", description="address to serve on")
        http_port: int = Field(8765, ge=0, lt=65536, description="TCP port of the page")
        token: str = Field("", description="required in the page's address (?token=) when not empty")
        graph: dict = Field(default_factory=dict, description="the graph drawn in the page")
        names: dict[str, str] = Field(default_factory=dict, description="input port -> stream name shown")
        gates: list[str] = Field(default_factory=list, description="gates its emergency stop reaches")
        recorders: list[str] = Field(default_factory=list, description="recorders its markers reach")

    def start(self) -> None:
        self.views: dict[str, View] = {}
        self.controls: queue.SimpleQueue = queue.SimpleQueue()
        self.latched = False
        self.paused = False
        self.recording = True
        self.t_relatch = 0.0
        self.log_items: list[dict] = []
        p = self.params
        self.server = ConsoleServer(p.address, p.http_port, p.token, self.views, self._info, self._on_control)
        self.server.start()
        self.details["backend"] = f"http://{p.address}:{p.http_port}/"

    def warm_up(self) -> None:
        warm_up_kernels()

    def stop(self) -> None:
        if getattr(self, "server", None) is not None:
            self.server.stop()

    def on_figures(self, figures: dict) -> None:
        self.server.figures = figures

    def _info(self) -> dict:
        p = self.params
        return {"graph": p.graph, "gates": p.gates, "recorders": p.recorders,
                "actuation": "estop" if self.latched else "paused" if self.paused else "armed",
                "recording": self.recording, "time": now(), "wall_time": time.time()}

    # -- data -------------------------------------------------------------------------
    def receive(self, port: str, msg: Message) -> None:
        if msg.stream == MARKER and isinstance(msg.data.get("stimulus"), dict):
            # a cue node's marker: to the stimulus page (its time on our clock: t_origin)
            self.server.stimulus({**msg.data["stimulus"], "label": msg.data.get("label"),
                                  "trial": msg.data.get("trial"), "t_host": msg.t_origin})
        view = self.views.get(port)
        if view is None or view.stream != msg.stream:
            view = make_view(len(self.views) if view is None else view.vid,
                             self.params.names.get(port, port), msg.stream)
            if view is None:
                self.count("not_shown")
                return
            self.views[port] = view
        view.take(msg)

    # -- controls ---------------------------------------------------------------------
    def _on_control(self, req: dict) -> str:
        """Called in the server's thread: checked here, sent by tick() in the node's thread,
        which is woken at once (an emergency stop does not wait for a timer)."""
        op = req["op"]
        if op in ("estop", "rearm", "pause", "resume") and not self.params.gates:
            raise ValueError("this graph has no gate (actions.gate): nothing to stop or re-arm")
        if op == "rearm" and req.get("confirm") != "confirmed":
            raise ValueError("re-arming needs the operator's confirmation")
        if op == "marker":
            label = str(req.get("label", "")).strip()
            if not label or len(label) > 200:
                raise ValueError("a marker needs a label of 1 to 200 characters")
            req = {"op": op, "label": label, "value": req.get("value") if isinstance(req.get("value"), (str, int, float)) else None}
        if op in ("shown", "frames"):
            req = _stimulus_report(req)
        if op == "record" and not self.params.recorders:
            raise ValueError("this graph has no recorder (record): add one to record")
        self.controls.put(req)
        self.wake()
        if op in ("shown", "frames"):
            return op
        return {"estop": "emergency stop sent", "rearm": "re-arm sent", "pause": "pause sent",
                "resume": "resume sent", "marker": "marker sent", "record": "recording switched"}[op]

    def tick(self) -> dict | None:
        out: dict[str, list[Message]] = {"control": [], "markers": [], "record": []}
        while True:
            try:
                req = self.controls.get_nowait()
            except queue.Empty:
                break
            op = req["op"]
            t = now()
            if op in ("estop", "rearm", "pause", "resume"):
                self.count(op)
                log.warning("console: %s by the operator", op)
                self.latched = op == "estop" or (self.latched and op != "rearm")
                self.paused = op == "pause" or (self.paused and op not in ("resume", "estop"))
                value = "confirmed" if op == "rearm" else None
                out["control"].append(command(op, value, safety="operator", t_origin=t, source="console"))
                self.t_relatch = t + RELATCH_S
            elif op == "marker":
                self.count("markers")
                out["markers"].append(marker(req["label"], req["value"], time_s=t, source="console",
                                             wall_time=time.time(), t_origin=t))
            elif op in ("shown", "frames"):
                self.count(f"stimulus_{op}")
                t_shown = req.pop("t_host")
                label = f"shown:{req.pop('label')}" if op == "shown" else "frame_times"
                out["markers"].append(marker(label, req.pop("value", None), time_s=t_shown, t_origin=t_shown,
                                             source="stimulus page", **req))
            elif op == "record":
                self.recording = bool(req.get("on"))
                out["record"].append(command("record", self.recording, safety="operator", t_origin=t,
                                             source="console"))
        if self.latched and now() >= self.t_relatch:
            self.t_relatch = now() + RELATCH_S
            out["control"].append(command("estop", None, safety="operator", t_origin=now(), source="console"))
        c = self.counters
        c["frames_sent"] = self.server.frames_sent
        c["frames_skipped"] = self.server.frames_skipped
        c["pages"] = len(self.server.clients)
        skipped = sum(getattr(v, "skipped_samples", 0) for v in list(self.views.values()))
        if skipped:
            c["skipped_samples"] = skipped
        return {k: v for k, v in out.items() if v} or None


def _number_list(v: object, n_max: int) -> list[float]:
    if not isinstance(v, list) or len(v) > n_max or not all(isinstance(x, (int, float)) for x in v):
        raise ValueError(f"expected a list of at most {n_max} numbers")
    return [float(x) for x in v]


def _stimulus_report(req: dict) -> dict:
    """What the stimulus page reports, checked and reduced to plain fields: `shown` (a
    stimulus's label and the host time of the frame that drew it) or `frames` (frame
    times on the host clock and each target's luminance in them)."""
    t = req.get("t_host")
    if req["op"] == "shown":
        if not isinstance(t, (int, float)) or not isinstance(req.get("label"), str) or len(req["label"]) > 200:
            raise ValueError("shown needs the stimulus's label and t_host, the host time of its frame")
        return {"op": "shown", "label": req["label"], "t_host": float(t),
                "trial": req.get("trial") if isinstance(req.get("trial"), int) else None}
    times = _number_list(req.get("times"), 1000)
    lum = req.get("luminance")
    if not times or not isinstance(lum, list) or len(lum) > 64:
        raise ValueError("frames needs times (host clock) and luminance, a list per target")
    lum = [_number_list(x, 1000) for x in lum]
    if any(len(x) != len(times) for x in lum):
        raise ValueError("frames: one luminance per frame time for every target")
    freqs = _number_list(req.get("freqs_hz", []), 64)
    return {"op": "frames", "t_host": times[0], "frame_times": times, "luminance": lum, "freqs_hz": freqs,
            "target": req.get("target") if isinstance(req.get("target"), int) else None}
