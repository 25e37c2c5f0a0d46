"""Placement: which machine runs which node.

    hosts:
      camera-box: 10.0.0.2                              # name -> address
      workstation: {address: 10.0.0.3, agent_port: 5790}
      robot: {address: 10.0.0.4, listen: 0.0.0.0}       # bind elsewhere (NAT, a relay)
    keys: keys/            # public keys: controller.key and NAME.key of every host
    nodes:
      camera: {type: dvs.synthetic, host: camera-box}

With `hosts:`, every node says its `host:` (the nodes of a group share one), and edges
between hosts go over tcp to the receiving host's address, with CURVE (streamer.security).
Each host runs `streamer agent`; the machine that runs `streamer run` is the controller and
runs the nodes of a host whose address is its own itself (or none).
"""
from __future__ import annotations

import ipaddress
import os
import re
import socket
from dataclasses import dataclass
from typing import Any

from .yaml_lines import LineDict

AGENT_PORT = 5790
CONTROLLER = "controller"   # the controller's key is controller.key
HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$")
HOST_KEYS = ("address", "agent_port", "listen")


@dataclass(frozen=True)
class Host:
    name: str
    address: str                # where the other hosts reach it
    agent_port: int = AGENT_PORT
    listen: str | None = None   # where its nodes bind, if not `address`

    @property
    def bind_address(self) -> str:
        return self.listen or self.address

    def tcp(self, port: int, bind: bool = False) -> str:
        addr = self.bind_address if bind else self.address
        return f"tcp://[{addr}]:{port}" if ":" in addr else f"tcp://{addr}:{port}"

    @property
    def agent_endpoint(self) -> str:
        return self.tcp(self.agent_port)


def _address_problem(value: Any) -> str:
    text = str(value)
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return "" if HOSTNAME.match(text) else f"{text!r} is neither an IP address nor a host name"
    if ip.is_unspecified:
        return f"{text} is no address to reach a machine at; give the host's own address (or `listen: {text}`)"
    return ""


def check_placement(raw: LineDict, nodes: dict, file: str, problems: list) -> tuple[dict[str, Host], str | None]:
    """Validate `hosts:`, `keys:` and the nodes' `host:`; returns (hosts by name, keys folder)."""
    from .graph import NAME, Problem, _suggest

    section = raw.get("hosts")
    hosts: dict[str, Host] = {}
    if section is not None and (not isinstance(section, LineDict) or not section):
        problems.append(Problem(file, raw.line_of("hosts"), None, "`hosts:` maps host names to addresses "
                                "(`camera-box: 10.0.0.2` or `camera-box: {address: 10.0.0.2, agent_port: 5790}`)"))
        section = None
    for name, body in (section or {}).items():
        line = section.line_of(name)
        name = str(name)
        if not NAME.match(name) or name == CONTROLLER:
            problems.append(Problem(file, line, None, f"host name {name!r}: use letters, digits, '_' and '-', "
                                    f"start with a letter, and not {CONTROLLER!r} (the controller's key)"))
            continue
        entry = dict(body) if isinstance(body, LineDict) else {"address": body}
        for key in entry:
            if key not in HOST_KEYS:
                problems.append(Problem(file, body.line_of(key), None, f"host {name!r}: unknown key {key!r}"
                                        + _suggest(str(key), HOST_KEYS) + f" (keys: {', '.join(HOST_KEYS)})"))
        if "address" not in entry or entry["address"] in (None, ""):
            problems.append(Problem(file, line, None, f"host {name!r} needs an address"))
            continue
        why = _address_problem(entry["address"])
        port = entry.get("agent_port", AGENT_PORT)
        if why:
            problems.append(Problem(file, line, None, f"host {name!r}: {why}"))
        elif not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
            problems.append(Problem(file, line, None, f"host {name!r}: agent_port must be a TCP port number"))
        else:
            listen = entry.get("listen")
            hosts[name] = Host(name, str(entry["address"]), port, None if listen is None else str(listen))
    known = set(hosts) | {str(n) for n in (section or {})}
    group_host: dict[str, tuple[str | None, str]] = {}
    ports: dict[tuple[str | None, int], str] = {}
    for spec in nodes.values():
        if spec.host is not None and section is None:
            problems.append(Problem(file, spec.line, spec.name, f"host {spec.host!r}: the graph has no `hosts:` "
                                    "section naming the machines and their addresses"))
        elif spec.host is not None and spec.host not in known:
            problems.append(Problem(file, spec.line, spec.name, f"no host {spec.host!r} in `hosts:`"
                                    + _suggest(spec.host, known) + f" (hosts: {', '.join(sorted(known))})"))
        elif spec.host is None and section is not None and spec.group is None:
            problems.append(Problem(file, spec.line, spec.name, "the graph places its nodes on hosts: "
                                    f"give this one `host:` ({', '.join(sorted(known))})"))
        if spec.group is not None and section is not None:
            first = group_host.setdefault(spec.group, (spec.host, spec.name))
            if spec.host is not None and first[0] is None:
                group_host[spec.group] = (spec.host, spec.name)
            elif spec.host is not None and first[0] != spec.host:
                problems.append(Problem(file, spec.line, spec.name, f"group {spec.group!r} spans hosts "
                                        f"{first[0]!r} ({first[1]}) and {spec.host!r}; a group is one process"))
        if spec.tcp_port is not None:
            other = ports.setdefault((spec.host, spec.tcp_port), spec.name)
            if other != spec.name:
                problems.append(Problem(file, spec.line, spec.name, f"tcp_port {spec.tcp_port} is taken by "
                                        f"{other!r} on the same host"))
    for spec in nodes.values():  # a group's host, given on any of its nodes
        if spec.group in group_host and spec.host is None:
            spec.host = group_host[spec.group][0]
            if spec.host is None:
                problems.append(Problem(file, spec.line, spec.name, f"group {spec.group!r} has no `host:`; "
                                        "give it on one of its nodes"))
    return hosts, _keys(raw, hosts, file, problems) if section is not None else None


def _keys(raw: LineDict, hosts: dict[str, Host], file: str, problems: list) -> str | None:
    from .graph import Problem

    folder = raw.get("keys")
    if folder is None:
        problems.append(Problem(file, raw.line_of("hosts"), None, "a graph on several hosts needs `keys:`, the "
                                "folder of their public keys; make them with `streamer keys FOLDER "
                                f"{CONTROLLER} {' '.join(hosts)}`"))
        return None
    path = os.path.join(os.path.dirname(os.path.abspath(file)), os.path.expanduser(str(folder)))
    missing = [n for n in [CONTROLLER, *hosts] if not os.path.isfile(os.path.join(path, f"{n}.key"))]
    if missing:
        problems.append(Problem(file, raw.line_of("keys"), None, f"keys: no public key {', '.join(m + '.key' for m in missing)} "
                                f"in {path}; make them with `streamer keys {path} {' '.join(missing)}` on "
                                "each machine and copy the .key files (never .key_secret) here"))
    return path


def is_local(address: str) -> bool:
    """Whether `address` belongs to this machine (binding to it succeeds)."""
    try:
        infos = socket.getaddrinfo(address, 0, type=socket.SOCK_STREAM)
    except OSError:
        return False
    for family, kind, proto, _, addr in infos:
        try:
            with socket.socket(family, kind, proto) as s:
                s.bind((addr[0], 0))
                return True
        except OSError:
            continue
    return False


def free_port(address: str = "127.0.0.1") -> int:
    """A TCP port free on `address` now (the caller binds it soon after)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family) as s:
        s.bind((address, 0))
        return s.getsockname()[1]
