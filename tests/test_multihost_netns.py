"""graphs/demo.yaml split over three hosts in Linux network namespaces joined by veth pairs
(camera; denoise + bins + snn + score; actuation), each host with its agent and the
controller on the processing host: every tcp edge between hosts is CURVE.

This kernel lacks `netem`, so delay is added by a delaying TCP relay inside the test
(tests.delay_relay): a host's advertised address is the relay's, which forwards to the
address its nodes listen on. Loss on a TCP link cannot drop bytes: the relay emulates 1%
lost segments by holding 1% of its reads for TCP's 200 ms retransmission timeout (and all
behind them). Where netem exists it is used instead. Links are cut with `ip link set
down`. Namespaces, links and addresses exist only inside what the test makes; it removes
them at the end, also on failure. Needs root (skips otherwise)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from streamer import security
from tools.netns import Lan, why_not
from tests.shipped_graph import shipped_graph

pytestmark = [pytest.mark.integration, pytest.mark.skipif(bool(why_not()), reason=why_not() or "-")]
ROOT = Path(__file__).resolve().parent.parent
PLACE = {"camera": "cam", "denoise": "proc", "bins": "proc", "snn": "proc", "score": "proc",
         "action": "act", "gate": "act", "out": "act"}
PORTS = {"denoise": 6001, "snn": 6002, "score": 6003, "action": 6004}  # inboxes reached from another host
RELAYED = {"proc": "10.77.0.12", "act": "10.77.0.13"}


@pytest.fixture(scope="module")
def lan(tmp_path_factory):
    folder = tmp_path_factory.mktemp("multihost")
    keys = folder / "keys"
    security.make_keys(keys, ["controller", "cam", "proc", "act"])
    net = Lan(["cam", "proc", "act"])
    try:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        netem = net.netem("proc", "delay", "2ms", "0.5ms", "loss", "1%")
        if netem:
            net.netem("act", "delay", "2ms", "0.5ms", "loss", "1%")
        for host, relayed in RELAYED.items():
            net.add_address(host, relayed)
            if not netem:  # a relay on the receiving host: its advertised address -> its nodes
                ports = [str(p) for n, p in PORTS.items() if PLACE[n] == host]
                ports += ["5790"] if host == "act" else []  # its agent, reached the same way
                relay = net.start(host, [sys.executable, "-m", "tests.delay_relay", "--listen", relayed,
                                         "--to", net.address[host], "--ports", *ports, "--delay-ms", "2",
                                         "--jitter-ms", "0.5", "--loss", "0.01", "--seconds", "280"],
                                  cwd=ROOT, env=env, stdout=subprocess.PIPE)
                assert relay.stdout.readline().strip() == b"ready"
        for host in ("cam", "act"):
            net.start(host, [sys.executable, "-m", "streamer", "agent", "--host", host, "--keys", str(keys),
                             "--listen", net.address[host]], cwd=ROOT, env=env,
                      stderr=open(folder / f"agent-{host}.log", "wb"))
        net.folder, net.keys, net.env, net.with_netem = folder, keys, env, netem
        yield net
    finally:
        net.close()


def _graph(lan, name: str, relayed: bool, trials: int) -> tuple[Path, Path]:
    graph = shipped_graph("demo.yaml", TRIALS=str(trials), SEED="3")
    hosts = {"cam": lan.address["cam"]}
    for host in ("proc", "act"):
        advertised = RELAYED[host] if relayed else lan.address[host]
        hosts[host] = {"address": advertised, "listen": lan.address[host]}
    graph["hosts"], graph["keys"] = hosts, str(lan.keys)
    for node, host in PLACE.items():
        graph["nodes"][node]["host"] = host
    for node, port in PORTS.items():
        graph["nodes"][node]["tcp_port"] = port
    out = lan.folder / f"{name}.jsonl"
    graph["nodes"]["out"]["path"] = str(out)
    path = lan.folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(graph))
    return path, out


def _run(lan, graph: Path, name: str, duration_s: float) -> subprocess.Popen:
    stats = lan.folder / f"{name}.stats.json"
    return lan.start("proc", [sys.executable, "-m", "streamer", "run", str(graph), "--host", "proc", "--no-live",
                              "--duration", str(duration_s), "--stats-json", str(stats)],
                     cwd=ROOT, env=lan.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _finish(lan, proc: subprocess.Popen, name: str, timeout: float = 150) -> dict:
    _, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err.decode()[-3000:]
    return json.loads((lan.folder / f"{name}.stats.json").read_text())


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.timeout(280)  # two runs of the demo on three hosts, one through the delaying relays
def test_demo_over_three_hosts_delivers_everything_in_order_and_shows_the_delay(lan):
    figures = {}
    for name, relayed in (("direct", False), ("delayed", True)):
        graph, out = _graph(lan, name, relayed, trials=15)
        figures[name] = f = _finish(lan, _run(lan, graph, name, 90), name)
        assert f["reason"] == "finished", f["reason"]  # the camera's 15 trials, drained to the end
        # Lossless edges, across hosts too: everything sent arrived, none lost, none refused
        # (a number out of order would be refused or counted lost).
        for key, edge in f["edges"].items():
            assert edge["received"] == edge["sent"] and edge["lost"] == 0 and edge["rejected"] == 0, (key, edge)
        decisions = f["edges"]["snn.decision>action.in"]
        assert decisions["received"] >= 13  # all decisions arrive: one per trial, early exit or not
        assert f["edges"]["snn.decision>score.decision"]["received"] == decisions["received"]
        assert f["nodes"]["denoise"]["counters"]["refused_handshakes"] == 0
        commands = _lines(out)
        assert sum(c["safety"] == "passed" for c in commands) >= 8 and commands[-1]["action"] == "stop"
        assert set(f["hosts"]) == {"cam", "act"} and f["controller_host"] == "proc"
        for host in f["hosts"].values():  # one kernel, one monotonic clock: the offset is the rtt's asymmetry
            assert host["round_trips"] > 10 and abs(host["offset_ms"]) < 5.0
    # The relays add 2 ms one way to each hop between hosts: the first node behind the
    # camera's link sees it (medians of ~1500 chunks; generous for a loaded machine).
    direct = figures["direct"]["nodes"]["denoise"]["latency_ms"]["p50"]
    delayed = figures["delayed"]["nodes"]["denoise"]["latency_ms"]["p50"]
    assert delayed - direct > 1.0, (direct, delayed)
    assert figures["delayed"]["nodes"]["action"]["latency_ms"]["p50"] > delayed + 1.0


@pytest.mark.timeout(200)
def test_cutting_the_actuation_hosts_link_gives_the_safe_command_and_restoring_it_resumes(lan):
    graph, out = _graph(lan, "cut", False, trials=0)
    timeout_s = yaml.safe_load(graph.read_text())["nodes"]["gate"]["timeout_ms"] / 1e3
    proc = _run(lan, graph, "cut", 45)
    try:
        deadline = time.monotonic() + 120
        while not any(c["safety"] == "passed" for c in _lines(out)):
            assert time.monotonic() < deadline and proc.poll() is None, "no command passed the gate"
            time.sleep(0.2)
        time.sleep(1.0)
        t_cut = time.monotonic()  # CLOCK_MONOTONIC: one clock for every namespace of one kernel
        lan.link("act", up=False)
        time.sleep(timeout_s + 2.0)
        cut = [c for c in _lines(out) if c["t_sent"] > t_cut]
        assert cut and cut[0]["action"] == "stop", cut[:3]
        assert cut[0]["t_sent"] - t_cut <= timeout_s + 0.5, cut[0]
        assert not any(c["safety"] == "passed" for c in cut)
        t_up = time.monotonic()
        lan.link("act", up=True)
        deadline = time.monotonic() + 30  # TCP's retransmission backoff decides how soon
        while not any(c["safety"] == "passed" and c["t_sent"] > t_up for c in _lines(out)):
            assert time.monotonic() < deadline, "the graph did not resume after the link came back"
            time.sleep(0.2)
        f = _finish(lan, proc, "cut")
    finally:
        lan.link("act", up=True)
        if proc.poll() is None:
            proc.kill()
    assert f["reason"] == "duration"
    edge = f["edges"]["snn.decision>action.in"]
    assert edge["lost"] == 0 and edge["rejected"] == 0  # the link held what it had: TCP resent it
    assert _lines(out)[-1]["action"] == "stop"
