"""Placement in the graph file (`hosts:`, `host:`, `keys:`): what `streamer check` says."""
from __future__ import annotations

import pytest

from streamer import security
from streamer.graph import GraphError, parse_graph
from streamer.hosts import Host

NODES = """nodes:
  counter: {type: util.counter, count: 10, host: cam}
  log: {type: util.log, host: work}
edges:
  - counter -> log
"""


def _problems(text: str, file: str) -> list[str]:
    with pytest.raises(GraphError) as exc:
        parse_graph(text, file)
    return [str(p) for p in exc.value.problems]


@pytest.fixture
def keys(tmp_path):
    security.make_keys(tmp_path / "keys", ["controller", "cam", "work"])
    return tmp_path


def test_a_placed_graph_reads_hosts_and_keys(keys):
    text = f"hosts:\n  cam: 10.0.0.2\n  work: {{address: 10.0.0.3, agent_port: 6000, listen: 0.0.0.0}}\nkeys: keys\n{NODES}"
    g = parse_graph(text, str(keys / "g.yaml"))
    assert g.hosts["cam"] == Host("cam", "10.0.0.2")
    assert g.hosts["work"].agent_endpoint == "tcp://10.0.0.3:6000"
    assert g.hosts["work"].tcp(7000, bind=True) == "tcp://0.0.0.0:7000"
    assert g.nodes["counter"].host == "cam" and g.keys == str(keys / "keys")


def test_unknown_and_missing_hosts_name_the_node_and_line(keys):
    nodes = NODES.replace("host: work}", "host: wrk}\n  free: {type: util.log}") + "  - counter -> free\n"
    text = f"hosts:\n  cam: 10.0.0.2\n  work: 10.0.0.3\nkeys: keys\n{nodes}"
    problems = _problems(text, str(keys / "g.yaml"))
    assert any(":7: node 'log': no host 'wrk' in `hosts:`; did you mean 'work'?" in p for p in problems), problems
    assert any(":8: node 'free': the graph places its nodes on hosts: give this one `host:`" in p
               for p in problems), problems


def test_bad_addresses_groups_across_hosts_and_port_clashes(keys):
    text = """hosts:
  cam: 0.0.0.0
  work: "not an address"
  box: {address: 10.0.0.4, agent_port: 0}
keys: keys
nodes:
  a: {type: util.counter, host: box, group: g, tcp_port: 7000}
  b: {type: util.log, host: work, group: g, tcp_port: 7000}
edges:
  - a -> b
"""
    problems = "\n".join(_problems(text, str(keys / "g.yaml")))
    assert "2: host 'cam': 0.0.0.0 is no address to reach a machine at" in problems
    assert "3: host 'work': 'not an address' is neither an IP address nor a host name" in problems
    assert "4: host 'box': agent_port must be a TCP port number" in problems
    assert "8: node 'b': group 'g' spans hosts 'box' (a) and 'work'" in problems


def test_missing_keys_say_how_to_make_them(tmp_path):
    text = f"hosts:\n  cam: 10.0.0.2\n  work: 10.0.0.3\n{NODES}"
    assert any("needs `keys:`" in p and "streamer keys FOLDER controller cam work" in p
               for p in _problems(text, str(tmp_path / "g.yaml")))
    security.make_keys(tmp_path / "keys", ["controller", "cam"])
    problems = _problems(text.replace("nodes:", "keys: keys\nnodes:"), str(tmp_path / "g.yaml"))
    assert any(":4: keys: no public key work.key" in p and "streamer keys" in p for p in problems), problems


def test_host_without_hosts_section(tmp_path):
    problems = _problems(NODES, str(tmp_path / "g.yaml"))
    assert any("node 'counter': host 'cam': the graph has no `hosts:` section" in p for p in problems)


def test_secret_keys_are_the_users_alone(tmp_path):
    written = security.make_keys(tmp_path, ["cam"])
    secret = next(p for p in written if p.name == "cam.key_secret")
    assert secret.stat().st_mode & 0o077 == 0
    pair = security.key_pair(tmp_path, "cam")
    assert pair.public == security.public_key(tmp_path, "cam") and len(pair.secret) == 40
    assert security.make_keys(tmp_path, ["cam"]) == []  # kept
    with pytest.raises(FileNotFoundError, match="streamer keys"):
        security.key_pair(tmp_path, "work")
