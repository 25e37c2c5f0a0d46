"""Hosts for tests and benchmarks in Linux network namespaces, joined by veth pairs to a
bridge in a namespace of their own. Every namespace, link and address lives inside what
`Lan` made, and `close()` removes it all (the processes started in them first)."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

SUBNET = "10.77.0"


def why_not() -> str:
    """Why namespaces cannot be made here ('' when they can)."""
    if os.geteuid() != 0:
        return "network namespaces need root (CI runs as root)"
    if shutil.which("ip") is None:
        return "no `ip` command (iproute2)"
    return ""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=20)


class Lan:
    def __init__(self, hosts: list[str]) -> None:
        tag = f"mh{os.getpid() % 100000}"
        self.lan = f"{tag}lan"
        self.ns = {h: f"{tag}{h}" for h in hosts}
        self.address = {h: f"{SUBNET}.{i + 1}" for i, h in enumerate(hosts)}
        self.dev = {h: f"e{h}"[:15] for h in hosts}
        self.procs: list[subprocess.Popen] = []
        try:
            _ip("netns", "add", self.lan)
            _ip("-n", self.lan, "link", "add", "br0", "type", "bridge")
            _ip("-n", self.lan, "link", "set", "br0", "up")
            for h, ns in self.ns.items():
                _ip("netns", "add", ns)
                _ip("-n", ns, "link", "set", "lo", "up")
                _ip("-n", ns, "link", "add", self.dev[h], "type", "veth", "peer", "name", f"p{h}"[:15],
                    "netns", self.lan)
                _ip("-n", ns, "addr", "add", f"{self.address[h]}/24", "dev", self.dev[h])
                _ip("-n", ns, "link", "set", self.dev[h], "up")
                _ip("-n", self.lan, "link", "set", f"p{h}"[:15], "master", "br0", "up")
        except BaseException:
            self.close()
            raise

    def add_address(self, host: str, address: str) -> None:
        _ip("-n", self.ns[host], "addr", "add", f"{address}/24", "dev", self.dev[host])

    def link(self, host: str, up: bool) -> None:
        """Cut (or restore) the host's only link, as a pulled cable."""
        _ip("-n", self.ns[host], "link", "set", self.dev[host], "up" if up else "down")

    def netem(self, host: str, *args: str) -> bool:
        """Apply `tc qdisc ... netem ARGS` on the host's link; False where the kernel lacks netem."""
        r = subprocess.run(["ip", "netns", "exec", self.ns[host], "tc", "qdisc", "add", "dev", self.dev[host],
                            "root", "netem", *args], capture_output=True, timeout=20)
        return r.returncode == 0

    def start(self, host: str, argv: list[str], **kwargs) -> subprocess.Popen:
        proc = subprocess.Popen(["ip", "netns", "exec", self.ns[host], *argv], **kwargs)
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        for ns in [*self.ns.values(), self.lan]:
            if Path("/run/netns", ns).exists():
                subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=20)
