"""What the operator console costs the graph, in one run:

1. the demo's end-to-end p99 latency (camera to actuator, `out`'s latency) and the event
   graph's throughput (tests/graphs/events_synthetic_pipeline.yaml replayed as fast as
   possible), without the console, with it but no page, and with a headless Chromium page
   open on it (aim: at most 10 % worse);
2. the console process's CPU share with a 64-channel 1 kHz scope (EEGMMIDB resampled to
   1 kHz) and a 640 x 480 event view open in the page (aim: under 15 % of one core).

    python -m tools.bench.console [--seconds 20]

Medians over --repeats runs. Needs Debian's chromium and chromium-driver (and, for part
2, ../shared/data/eeg/S001R05.edf).
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("STREAMER_DATA", ROOT.parent / "shared" / "data"))


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
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1800"):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)


def run(graph: Path, mode: str, seconds: float | None, env: dict, driver=None, cpu_of: str = "") -> dict:
    """Run a graph (mode: off, ui, page); its final figures, plus the console's CPU seconds."""
    with tempfile.TemporaryDirectory() as tmp:
        stats = Path(tmp) / "stats.json"
        port = free_port()
        cmd = [sys.executable, "-m", "streamer", "run", str(graph), "--no-live", "--stats-json", str(stats)]
        if seconds:
            cmd += ["--duration", str(seconds)]
        if mode != "off":
            cmd += ["--ui", "--ui-port", str(port)]
        proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        cpu = None
        if mode == "page":
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    driver.get(f"http://127.0.0.1:{port}/")
                    break
                except Exception:  # noqa: BLE001 - not serving yet
                    time.sleep(0.3)
        if cpu_of:
            time.sleep(8)  # started, compiled, page drawing
            pid = console_pid()
            t0, c0 = time.monotonic(), cpu_seconds(pid)
            time.sleep(10)
            cpu = (cpu_seconds(pid) - c0) / (time.monotonic() - t0)
            proc.send_signal(2)
        proc.wait()
        if mode == "page":
            driver.get("about:blank")
        out = json.loads(stats.read_text())
        out["console_cpu"] = cpu
        return out


def console_pid() -> int:
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"streamer.worker" in cmd and cmd[-2].endswith(b"/console.json"):
                return int(pid)
    raise RuntimeError("no console process")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="length of each demo run")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    driver = browser()
    try:
        demo = ROOT / "graphs" / "demo.yaml"
        events = ROOT / "tests" / "graphs" / "events_synthetic_pipeline.yaml"
        p99 = {m: [] for m in ("off", "ui", "page")}
        rate = {m: [] for m in ("off", "ui", "page")}
        for _ in range(args.repeats):
            for mode in p99:
                f = run(demo, mode, args.seconds, {}, driver)
                p99[mode].append(f["nodes"]["out"]["latency_ms"]["p99"])
                with tempfile.TemporaryDirectory() as tmp:
                    f = run(events, mode, None, {"OUT": f"{tmp}/e.rec"}, driver)
                cam = f["nodes"]["cam"]
                rate[mode].append(cam["out_items"] / max(f["elapsed_s"], 1e-9))
        print("demo end-to-end p99 (camera to actuator), median ms:")
        for mode, v in p99.items():
            m = statistics.median(v)
            print(f"  {mode:5s} {m:7.2f}  ratio to no console {m / statistics.median(p99['off']):.2f}")
        print("event graph throughput (source events/s over the run), median:")
        for mode, v in rate.items():
            m = statistics.median(v)
            print(f"  {mode:5s} {m / 1e6:7.3f} M/s  ratio to no console {m / statistics.median(rate['off']):.2f}")
        edf = DATA / "eeg" / "S001R05.edf"
        if not edf.exists():
            print(f"console CPU: skipped, {edf} is absent")
            return
        with tempfile.TemporaryDirectory() as tmp:
            g = Path(tmp) / "load.yaml"
            g.write_text(SCOPE_GRAPH.format(edf=edf))
            f = run(g, "page", None, {}, driver, cpu_of="console")
        print(f"console CPU with a 64-channel 1 kHz scope and a 640x480 event view open: "
              f"{100 * f['console_cpu']:.1f} % of one core (aim < 15 %); "
              f"console counters {f['nodes']['console']['counters']}")
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
