"""`streamer agent`: starts and supervises the node processes of one host for a controller.

    streamer agent --host camera-box --keys keys/ --listen 10.0.0.2

The agent listens on a CURVE-secured ROUTER (`--listen`, `--port`, 5790 by default) and
takes commands only from the controller's key (KEYS/controller.key): a process without
it cannot even complete the handshake, and each refused handshake is counted. It uses
its own key pair (KEYS/HOST.key_secret) for itself and for the nodes it starts.

Protocol (one msgpack frame each way, over DEALER -> ROUTER):
  controller -> agent: hello (ports wanted on an address), spawn (a unit's spec), to (a
      message for a worker), kill (a unit's process group), clock (a round trip), bye
  agent -> controller: hello (run directory, ports), spawned, from (a worker's message),
      exit (exit status and the counters files), log (a worker's stderr line), clock
      (the agent's monotonic time)

A run ends with `bye`, a new `hello`, or the controller's silence for `--orphan-s`
seconds: the workers are stopped as the supervisor stops them (their last words, the
gate's safe command, go out), then killed after the grace. The agent keeps running.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zmq

from . import counters, security
from .hosts import AGENT_PORT, CONTROLLER, free_port
from .process import die_with_parent
from .runner import RUN_DIR_PREFIX, STOP_GRACE_S, _start_time, remove_stale_run_dirs
from .wire import pack, unpack

ORPHAN_S = 10.0
log = logging.getLogger("streamer.agent")


@dataclass
class Remote:
    spec: dict
    proc: subprocess.Popen
    reported: bool = False


@dataclass
class Session:
    peer: bytes
    run_dir: str
    workers: zmq.Socket
    units: dict[str, Remote] = field(default_factory=dict)


class Agent:
    def __init__(self, host: str, keys_dir: str, listen: str, port: int = AGENT_PORT,
                 orphan_s: float = ORPHAN_S) -> None:
        self.host, self.keys_dir, self.orphan_s = host, keys_dir, orphan_s
        self.keys = security.key_pair(keys_dir, host)
        controller_key = security.public_key(keys_dir, CONTROLLER)
        self.ctx = zmq.Context()
        self.guard = security.Guard(self.ctx, [controller_key])  # commands from the controller only
        self.sock = self.ctx.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        security.server(self.sock, self.keys.as_dict())
        self.endpoint = f"tcp://[{listen}]:{port}" if ":" in listen else f"tcp://{listen}:{port}"
        self.sock.bind(self.endpoint)
        self.refusals = security.Refusals(self.sock)
        self.session: Session | None = None
        self.lines: queue.SimpleQueue = queue.SimpleQueue()
        self.last_heard = time.monotonic()
        self.stopping = False
        self.refused_logged = 0

    # -- the controller's commands ---------------------------------------------------
    def reply(self, kind: str, **body: Any) -> None:
        if self.session is None:
            return
        try:
            self.sock.send_multipart([self.session.peer, pack({"kind": kind, **body})], zmq.NOBLOCK)
        except zmq.ZMQError:
            pass

    def on_command(self, peer: bytes, msg: dict) -> None:
        kind = msg.get("kind")
        if kind == "hello":
            self.end_session("a new run")
            remove_stale_run_dirs()
            run_dir = tempfile.mkdtemp(prefix=RUN_DIR_PREFIX, dir="/tmp")
            os.chmod(run_dir, 0o700)  # ipc sockets: only this user can open them
            Path(run_dir, "supervisor.pid").write_text(f"{os.getpid()} {_start_time(os.getpid())}\n")
            workers = self.ctx.socket(zmq.ROUTER)
            workers.setsockopt(zmq.LINGER, 0)
            workers.bind(f"ipc://{run_dir}/control")
            self.session = Session(peer, run_dir, workers)
            address = str(msg.get("address") or "127.0.0.1")
            ports = [free_port(address) for _ in range(int(msg.get("ports", 0)))]
            log.info("run from the controller: %s", run_dir)
            self.reply("hello", run_dir=run_dir, ports=ports, pid=os.getpid(), host=self.host)
        elif self.session is None or peer != self.session.peer:
            return  # a controller that has not said hello (or was replaced)
        elif kind == "spawn":
            self.spawn(msg["unit"], msg["spec"])
        elif kind == "to":
            try:
                self.session.workers.send_multipart([msg["unit"].encode(), msg["raw"]], zmq.NOBLOCK)
            except zmq.ZMQError:
                pass
        elif kind == "kill":
            remote = self.session.units.get(msg["unit"])
            if remote is not None and remote.proc.poll() is None:
                _killpg(remote.proc.pid)
        elif kind == "clock":
            self.reply("clock", t0=msg["t0"], t=time.monotonic())
        elif kind == "bye":
            self.end_session("the run ended")

    def spawn(self, unit: str, spec: dict) -> None:
        session = self.session
        assert session is not None
        spec = dict(spec, control=f"ipc://{session.run_dir}/control", supervisor_pid=os.getpid())
        if "security" in spec:  # this host's own key: it never leaves the machine
            spec["security"] = {**spec["security"], **self.keys.as_dict()}
        path = os.path.join(session.run_dir, f"{unit}.json")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(spec, f)
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        python = spec.get("python") or sys.executable
        proc = subprocess.Popen([python, "-m", "streamer.worker", path], start_new_session=True, env=env,
                                preexec_fn=die_with_parent, stderr=subprocess.PIPE)
        threading.Thread(target=_forward, args=(proc.stderr, self.lines), daemon=True).start()
        session.units[unit] = Remote(spec, proc)
        self.reply("spawned", unit=unit, pid=proc.pid)

    # -- the workers -----------------------------------------------------------------
    def exits(self) -> None:
        if self.session is None:
            return
        for unit, remote in self.session.units.items():
            code = remote.proc.poll()
            if code is not None and not remote.reported:
                remote.reported = True
                self.relay_workers(0)  # its last words first
                _killpg(remote.proc.pid)
                self.reply("exit", unit=unit, code=code, counters=_counters(remote.spec))

    def relay_workers(self, timeout_ms: int) -> None:
        if self.session is None or not self.session.workers.poll(timeout_ms):
            return
        while True:
            try:
                ident, raw = self.session.workers.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            except ValueError:
                continue
            self.reply("from", unit=ident.decode(), raw=raw)

    def end_session(self, why: str) -> None:
        """Stop the run's workers (their last words go out), kill what remains, clean up."""
        session = self.session
        if session is None:
            return
        alive = [r for r in session.units.values() if r.proc.poll() is None]
        if alive:
            log.info("stopping %d worker(s): %s", len(alive), why)
        for unit in session.units:
            try:
                session.workers.send_multipart([unit.encode(), pack({"kind": "stop"})], zmq.NOBLOCK)
            except zmq.ZMQError:
                pass
        deadline = time.monotonic() + STOP_GRACE_S
        while alive and time.monotonic() < deadline:
            self.relay_workers(20)
            alive = [r for r in alive if r.proc.poll() is None]
        for r in session.units.values():
            _killpg(r.proc.pid)
            try:
                r.proc.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                pass
        self.exits()
        session.workers.close(0)
        shutil.rmtree(session.run_dir, ignore_errors=True)
        self.session = None

    # -- main loop -------------------------------------------------------------------
    def serve(self, until: float | None = None) -> int:
        log.info("agent %s listening on %s (commands from the controller's key only)", self.host, self.endpoint)
        try:
            while not self.stopping and (until is None or time.monotonic() < until):
                poller = zmq.Poller()  # the workers' socket changes with each run
                poller.register(self.sock, zmq.POLLIN)
                if self.session is not None:
                    poller.register(self.session.workers, zmq.POLLIN)
                if self.sock in dict(poller.poll(50)):
                    while True:
                        try:
                            peer, raw = self.sock.recv_multipart(zmq.NOBLOCK)
                        except zmq.Again:
                            break
                        except ValueError:
                            continue
                        self.last_heard = time.monotonic()
                        try:
                            self.on_command(peer, unpack(raw))
                        except Exception:  # noqa: BLE001 - a bad command never stops the agent
                            log.exception("command refused")
                self.relay_workers(0)
                self.exits()
                while True:
                    try:
                        line = self.lines.get_nowait()
                    except queue.Empty:
                        break
                    sys.stderr.write(line + "\n")
                    self.reply("log", line=f"[{self.host}] {line}")
                refused = self.refusals.count()
                if refused > self.refused_logged:
                    log.warning("refused %d handshake(s) so far: peers without the controller's key",
                                refused)
                    self.refused_logged = refused
                if self.session is not None and time.monotonic() - self.last_heard > self.orphan_s:
                    self.end_session(f"no word from the controller for {self.orphan_s:.0f} s")
        finally:
            self.end_session("the agent stops")
            self.refusals.close()
            self.sock.close(0)
            self.guard.close()
            self.ctx.term()
        return 0


def _counters(spec: dict) -> dict[str, dict]:
    """The exact edge counters each node of a unit left in its file."""
    return {n["name"]: counters.read(n["counters"], [e["key"] for e in n["in_edges"]],
                                     [e["key"] for e in n["out_edges"]]) for n in spec["nodes"]}


def _forward(pipe: Any, lines: queue.SimpleQueue) -> None:
    with pipe:
        for raw in iter(pipe.readline, b""):
            lines.put(raw.decode("utf-8", "replace").rstrip("\n"))


def _killpg(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="streamer agent", description="Start and supervise this host's node "
                                "processes for the controller of a graph (`streamer run` on another machine).")
    p.add_argument("--host", required=True, help="this machine's name in the graph's `hosts:`")
    p.add_argument("--keys", required=True, metavar="FOLDER", help="folder with controller.key and HOST.key_secret")
    p.add_argument("--listen", default="127.0.0.1", metavar="ADDR", help="address to listen on (this host's address)")
    p.add_argument("--port", type=int, default=AGENT_PORT, help=f"TCP port (default {AGENT_PORT})")
    p.add_argument("--orphan-s", type=float, default=ORPHAN_S, metavar="S",
                   help=f"stop the workers after S seconds without word from the controller (default {ORPHAN_S:.0f})")
    p.add_argument("--log-level", default="INFO")
    args = p.parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format=f"%(asctime)s agent {args.host} %(levelname)s: %(message)s", datefmt="%H:%M:%S")
    try:
        agent = Agent(args.host, args.keys, args.listen, args.port, args.orphan_s)
    except (OSError, ValueError, zmq.ZMQError) as exc:
        print(f"streamer agent: {exc}", file=sys.stderr)
        return 2

    def stop(signum: int, frame: Any) -> None:
        agent.stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    return agent.serve()


if __name__ == "__main__":
    sys.exit(main())
