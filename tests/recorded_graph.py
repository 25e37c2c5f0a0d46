"""Run a shipped graph on the shared recordings as fast as possible, with a recorder added."""
from pathlib import Path

import yaml

from streamer import recording
from tests.runtime_helpers import run, write_graph
from tests.shipped_graph import shipped_graph


def run_recorded(name: str, tmp_path: Path, shared_data: Path, record: list[str], *sets: str,
                 change=None, timeout: float = 60):
    """graphs/`name` with its data root and SPEED=0 filled in, `record` edges ('a.port ->
    stream') to a recorder, `change(graph)` applied; returns (recording, figures, stderr)."""
    graph = shipped_graph(name, STREAMER_DATA=str(shared_data), SPEED="0")
    graph["nodes"]["rec"] = {"type": "record", "path": str(tmp_path / "graph.rec")}
    graph["edges"] += [edge.replace("-> ", "-> rec.") for edge in record]
    if change is not None:
        change(graph)
    code, figures, err = run(write_graph(tmp_path, yaml.safe_dump(graph)), *sets, timeout=timeout)
    assert code == 0, err[-3000:]
    return recording.read(tmp_path / "graph.rec"), figures, err
