"""What the operator console costs the graph, and how fast its emergency stop acts, in one run:

1. steady state of two graphs in four modes: without the console (off), with it but no
   client (ui), with a WebSocket client that reads every frame but draws nothing (ws: the
   console server's own cost) and with a headless Chromium page drawing it (page). Each run
   warms up (JIT, page attached) and then measures one fixed window; the figures are the
   medians over --repeats runs, the modes interleaved so that other load on the machine
   falls on all of them alike:
   - the demo's end-to-end latency, camera to actuator (`out`), p50 and p99 in the window;
   - an event graph's throughput, events/s out of the source replayed as fast as possible
     (tests/graphs/events_synthetic_pipeline.yaml, endless, without the full-rate recordings);
   with the CPU share of the console process and of Chromium in the window.
2. the console's CPU share with a 64-channel 1 kHz scope (EEGMMIDB resampled to 1 kHz)
   and a 640 x 480 event view open in the page (aim: under 15 % of one core);
3. click to safe command: a trusted mouse click on the page's emergency stop (DevTools'
   Input events, timed from the button's release) to the safe command's arrival at a UDP
   actuator (aim: well under 100 ms), median over --clicks clicks.

    python -m tools.bench.console [--repeats 3] [--window 20] [--clicks 20]

Needs Debian's chromium and chromium-driver (and, for part 2, ../shared/data/eeg/S001R05.edf).
The machine's cores are shared: Chromium's renderer competes with the graph for them, which
is why the ws mode (the console server alone) is reported beside the page.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import queue
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("STREAMER_DATA", ROOT.parent / "shared" / "data"))
MODES = ("off", "ui", "ws", "page")

EVENT_GRAPH = """
name: events-steady
nodes:
  cam:     {type: dvs.synthetic, n_trials: 0, speed: 0, seed: 3, noise_hz: 2.0, hot_pixels: 2, hot_pixel_hz: 2000}
  denoise: {type: events.denoise, window_us: 2000}
  bins:    {type: events.bin, bin_us: 10000, shape: [2, 16, 16], frames_per_message: 5}
  hot:     {type: events.hotpixels, learn_ms: 300, factor: 10}
  refr:    {type: events.refractory, refractory_us: 3000}
  flip:    {type: events.flip, flip_x: true, rotate: 90}
  down:    {type: events.downsample, factor: 2, accumulate: 2}
  rate:    {type: events.ratelimit, max_events_per_s: 20000}
  rec:     {type: record, path: "{out}"}
edges:
  - cam -> denoise
  - denoise -> bins
  - cam -> hot
  - hot -> refr
  - refr -> flip
  - flip -> down
  - down -> rate
  - cam.markers -> rec.markers
  - rate -> rec.chain
"""

SCOPE_GRAPH = """
name: console-load
nodes:
  eeg: {{type: eeg.file, path: ["{edf}"], speed: 1, chunk_ms: 40}}
  up: {{type: signal.resample, sfreq_hz: 1000}}
  cam: {{type: dvs.synthetic, width: 640, height: 480, size_px: 200, speed: 1, noise_hz: 1.0}}
  denoise: {{type: events.denoise, window_us: 5000}}
edges:
  - eeg -> up
  - cam -> denoise
ui: {{view: [up.out, cam.out]}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    opts = Options()
    opts.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1800"):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)


# -- CPU ------------------------------------------------------------------------------
def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def descendants(root: int) -> list[int]:
    """`root` and every process below it (Chromium's, under chromedriver's pid)."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                ppid = int(Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(ppid, []).append(int(name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += children.get(pid, [])
    return out


# -- one run, in its own process: the runner with a sampler thread ------------------------
def probe(graph_file: str, mode: str, port: int, warm_s: float, window_s: float, browser_pid: int,
          out_file: str) -> None:
    """Run the graph (with the console unless mode 'off'); after the warm-up (and once a
    page or client is attached), take one window: per node the items and the latency
    histogram's change, the CPU seconds of the console and of the browser."""
    from rich.console import Console as Terminal

    from streamer.graph import load_graph
    from streamer.latency import percentile
    from streamer.runner import Runner

    graph = load_graph(graph_file, [])
    if mode != "off":
        from streamer.console import UiOptions, attach
        graph, _ = attach(graph, UiOptions(port=port, view=(graph.ui or {}).get("view")))
    runner = Runner(graph, live=False, console=Terminal(stderr=True, quiet=True), log_level="WARNING")
    result: dict = {"mode": mode}

    def snapshot() -> dict:
        return {n: (f.totals(), f.latency_counts().copy()) for n, f in runner.figures.nodes.items()}

    def sample() -> None:
        try:
            deadline = time.monotonic() + 120
            while not runner.going or (mode in ("ws", "page") and not
                                       runner.figures.nodes["console"].counters().get("pages")):
                if time.monotonic() > deadline:
                    result["error"] = "the graph did not start or no page attached within 120 s"
                    return
                time.sleep(0.1)
            time.sleep(warm_s)
            console = [runner.units[u].proc.pid for u in runner.units if "console" in runner.units[u].nodes] \
                if mode != "off" else []
            chrome = descendants(browser_pid) if mode == "page" else []
            a, ca, cb, t0 = snapshot(), cpu_seconds(console), cpu_seconds(chrome), time.monotonic()
            time.sleep(window_s)
            b, ca2, cb2, t1 = snapshot(), cpu_seconds(console), cpu_seconds(chrome), time.monotonic()
            dt = t1 - t0
            nodes = {}
            for n in b:
                counts = b[n][1] - a[n][1]
                items = {k: b[n][0][k] - a[n][0][k] for k in b[n][0]}
                nodes[n] = {"out_items_per_s": items["out_items"] / dt, "in_msgs": items["in_msgs"],
                            "p50_ms": percentile(counts, 50) * 1e3, "p99_ms": percentile(counts, 99) * 1e3,
                            "latencies": int(counts.sum()), "counts": counts.tolist()}
            result.update(window_s=dt, nodes=nodes, console_cpu=(ca2 - ca) / dt, browser_cpu=(cb2 - cb) / dt,
                          console_counters=runner.figures.nodes["console"].counters() if mode != "off" else {})
        finally:
            runner._request_stop("the benchmark's window is over")

    threading.Thread(target=sample, daemon=True).start()
    result["exit_code"] = runner.run()
    Path(out_file).write_text(json.dumps(result))


def window_run(graph: Path, mode: str, args: argparse.Namespace, driver, env: dict | None = None) -> dict:
    """One run of `graph` in `mode`, measured in the probe's window."""
    with tempfile.TemporaryDirectory() as tmp:
        out, port = Path(tmp) / "window.json", free_port()
        browser_pid = driver.service.process.pid if driver is not None else 0
        cmd = [sys.executable, "-m", "tools.bench.console", "--probe", str(graph), mode, str(port),
               str(args.warm), str(args.window), str(browser_pid), str(out)]
        log = Path(tmp) / "probe.log"
        proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL,
                                stderr=log.open("w"))
        client, page_script = None, None
        try:
            if mode in ("ws", "page"):
                wait_for_console(port, proc)
                if mode == "page":
                    driver.get(f"http://127.0.0.1:{port}/")
                else:
                    client = FrameReader(port)
            proc.wait(timeout=300)
            if mode == "page":  # the page's script share over its life (the rest is Chromium's drawing)
                ms, since = driver.execute_script("return window.consoleScriptMs()")
                page_script = ms / since
        except RuntimeError as exc:
            raise RuntimeError(f"{graph.name} ({mode}): {exc}; its log ends:\n{log.read_text()[-2000:]}") from None
        finally:
            if proc.poll() is None:
                proc.kill()
            if client is not None:
                client.close()
            if mode == "page":
                driver.get("about:blank")
        if not out.exists():
            raise RuntimeError(f"{graph.name} ({mode}): no figures; its log ends:\n{log.read_text()[-2000:]}")
        result = json.loads(out.read_text())
        if "error" in result:
            raise RuntimeError(f"{graph.name} ({mode}): {result['error']}")
        result["page_script"] = page_script
        return result


def wait_for_console(port: int, proc: subprocess.Popen, timeout_s: float = 90.0) -> None:
    import urllib.request
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/info", timeout=2).read()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"no console on port {port}") from None
            time.sleep(0.2)


class FrameReader:
    """A WebSocket client that takes every frame the console sends and draws nothing."""

    def __init__(self, port: int) -> None:
        self.nbytes = 0
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._read(port),), daemon=True)
        self.thread.start()

    async def _read(self, port: int) -> None:
        import aiohttp
        async with aiohttp.ClientSession() as session, session.ws_connect(f"http://127.0.0.1:{port}/ws") as ws:
            async for msg in ws:  # until the graph ends and the console closes it
                self.nbytes += len(msg.data)

    def close(self) -> None:
        self.thread.join(timeout=5)


# -- click to safe command ------------------------------------------------------------
def press(driver, element_id: str) -> float:
    """A user's click on the element (trusted mouse events through DevTools, at its centre);
    the monotonic time of the release, when the page's click fires. (selenium's element
    click spends ~100 ms in chromedriver, scrolling and hit-testing, before the page sees it.)"""
    x, y = driver.execute_script(
        "const e = document.getElementById(arguments[0]); e.scrollIntoView({block: 'center'});"
        "const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2];", element_id)
    mouse = {"x": x, "y": y, "button": "left", "clickCount": 1}
    driver.execute_cdp_cmd("Input.dispatchMouseEvent", {"type": "mousePressed", **mouse})
    t = time.monotonic()
    driver.execute_cdp_cmd("Input.dispatchMouseEvent", {"type": "mouseReleased", **mouse})
    return t


def click_to_safe(driver, clicks: int) -> list[float]:
    """Milliseconds from each click on the emergency stop to the safe command at a UDP actuator
    (tests/graphs/console_loop.yaml: the demo's loop), re-armed between clicks."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    arrivals: queue.SimpleQueue = queue.SimpleQueue()

    def listen() -> None:  # timestamps on arrival, whatever the main thread is doing
        while True:
            try:
                data = sock.recv(65536)
            except OSError:
                return
            arrivals.put((time.monotonic(), json.loads(data)))

    threading.Thread(target=listen, daemon=True).start()

    def wait(pred, timeout_s: float) -> float | None:
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                t, p = arrivals.get(timeout=left)
            except queue.Empty:
                return None
            if pred(p):
                return t
        return None

    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "UDP_ADDR": f"127.0.0.1:{sock.getsockname()[1]}", "REC_PATH": f"{tmp}/s.rec"}
        proc = subprocess.Popen([sys.executable, "-m", "streamer", "run", "tests/graphs/console_loop.yaml", "--ui",
                                 "--ui-port", str(port), "--no-live", "--duration", "600"], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out = []
        try:
            wait_for_console(port, proc)
            driver.get(f"http://127.0.0.1:{port}/")
            if wait(lambda p: p["action"] != "stop", 120) is None:
                raise RuntimeError("console_loop.yaml sent no command within 120 s")
            time.sleep(3.0)  # the page drawing
            for i in range(clicks):
                wait(lambda p: p["action"] != "stop", 10)
                time.sleep(0.2 + 0.1 * (i % 4))  # not in step with the decoder's commands
                while not arrivals.empty():
                    arrivals.get()
                t_click = press(driver, "estop")
                t_safe = wait(lambda p: p.get("safety") == "estop", 5)
                if t_safe is not None:
                    out.append((t_safe - t_click) * 1e3)
                driver.execute_script("document.getElementById('rearm-confirm').click();")  # confirmed re-arm
        finally:
            proc.send_signal(2)
            proc.wait(timeout=30)
            driver.get("about:blank")
            sock.close()
    return out


# -- report ---------------------------------------------------------------------------
def report(title: str, runs: dict[str, list[dict]], figure, unit: str, better: str) -> None:
    print(title)
    base = statistics.median(figure(r) for r in runs["off"])
    for mode, rs in runs.items():
        values = [figure(r) for r in rs]
        m = statistics.median(values)
        cpu = statistics.median(r["console_cpu"] for r in rs)
        chrome = statistics.median(r["browser_cpu"] for r in rs)
        extra = (f"  console {100 * cpu:5.1f} %" if mode != "off" else "") + \
                (f"  chromium {100 * chrome:5.1f} % of one core (the page's script "
                 f"{100 * statistics.median(r['page_script'] for r in rs):.1f} %)" if mode == "page" else "")
        print(f"  {mode:5s} {m:9.3f} {unit}  ratio to off {m / base:5.2f} ({better})  "
              f"runs {', '.join(f'{v:.3g}' for v in values)}{extra}")


def pooled_tail(lat: dict[str, list[dict]]) -> None:
    """The demo's p99 over every run of a mode together: one window holds a few dozen
    commands, whose p99 is nearly their maximum."""
    from streamer.latency import percentile
    pooled = {m: np.sum([r["nodes"]["out"]["counts"] for r in rs], axis=0) for m, rs in lat.items()}
    base = percentile(pooled["off"], 99)
    print("demo end-to-end latency, p99 of all runs' commands together:")
    for mode, counts in pooled.items():
        p99 = percentile(counts, 99) * 1e3
        print(f"  {mode:5s} {p99:9.3f} ms  ratio to off {p99 / (base * 1e3):5.2f}  ({int(counts.sum())} commands)")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--probe":
        graph, mode, port, warm, window, bpid, out = argv[1:]
        probe(graph, mode, int(port), float(warm), float(window), int(bpid), out)
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3, help="runs per mode (medians over them)")
    ap.add_argument("--warm", type=float, default=6.0, help="seconds after the start (and the page) not measured")
    ap.add_argument("--window", type=float, default=20.0, help="seconds measured in each run")
    ap.add_argument("--clicks", type=int, default=20, help="emergency stops clicked in the page")
    args = ap.parse_args(argv)
    print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f} at the start")
    driver = browser()
    try:
        delays = click_to_safe(driver, args.clicks)
        print(f"click to safe command at a UDP actuator, {len(delays)} of {args.clicks} clicks: median "
              f"{statistics.median(delays):.1f} ms, max {max(delays):.1f} ms "
              f"(aim 100 ms: ratio {statistics.median(delays) / 100:.2f})")
        demo = ROOT / "graphs" / "demo.yaml"
        with tempfile.TemporaryDirectory() as tmp:
            events = Path(tmp) / "events.yaml"
            events.write_text(EVENT_GRAPH.replace("{out}", f"{tmp}/e.rec"))
            lat = {m: [] for m in MODES}
            rate = {m: [] for m in MODES}
            for _ in range(args.repeats):
                for mode in MODES:
                    lat[mode].append(window_run(demo, mode, args, driver))
                    rate[mode].append(window_run(events, mode, args, driver))
        print(f"steady state: {args.warm:g} s of warm-up, then one {args.window:g} s window per run; "
              f"medians over {args.repeats} runs")
        report("demo end-to-end latency (camera to actuator), p99 in the window:", lat,
               lambda r: r["nodes"]["out"]["p99_ms"], "ms", "lower is better")
        report("demo end-to-end latency, p50 in the window:", lat,
               lambda r: r["nodes"]["out"]["p50_ms"], "ms", "lower is better")
        print(f"  (commands per window: {statistics.median(r['nodes']['out']['latencies'] for r in lat['off']):.0f})")
        pooled_tail(lat)
        report("event graph throughput (source events/s in the window):", rate,
               lambda r: r["nodes"]["cam"]["out_items_per_s"] / 1e6, "M/s", "higher is better")
        edf = DATA / "eeg" / "S001R05.edf"
        if not edf.exists():
            print(f"console CPU with a scope and an event view: skipped, {edf} is absent")
            return
        with tempfile.TemporaryDirectory() as tmp:
            g = Path(tmp) / "load.yaml"
            g.write_text(SCOPE_GRAPH.format(edf=edf))
            runs = {m: [window_run(g, m, args, driver) for _ in range(args.repeats)] for m in ("ui", "ws", "page")}
        print("console CPU with a 64-channel 1 kHz scope and a 640x480 event view (aim < 15 % of one core):")
        for mode, rs in runs.items():
            cpu = statistics.median(r["console_cpu"] for r in rs)
            chrome = statistics.median(r["browser_cpu"] for r in rs)
            print(f"  {mode:5s} console {100 * cpu:5.1f} % of one core"
                  + (f"; chromium {100 * chrome:5.1f} % (the page's script "
                     f"{100 * statistics.median(r['page_script'] for r in rs):.1f} %)" if mode == "page" else "")
                  + f"; counters {rs[-1]['console_counters']}")
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
