"""A shipped graph as a dict to change and write elsewhere (a test's tmp_path): its ${VAR}s
filled in and its relative paths made absolute, as `streamer run graphs/NAME` reads them."""
import os

import yaml

from streamer import registry
from streamer.paths import path_fields, resolve
from streamer.yaml_lines import substitute_env
from tests.runtime_helpers import ROOT


def shipped_graph(name: str, **env: str) -> dict:
    """graphs/`name`, with `env` (then the environment, then the defaults) for its ${VAR}s."""
    path = ROOT / "graphs" / name
    graph = yaml.safe_load(substitute_env(path.read_text(), {**os.environ, **env}))
    for spec in graph["nodes"].values():
        for key in path_fields(registry.get(spec["type"]).Params):
            if key in spec:
                spec[key] = resolve(spec[key], str(path.parent))
    return graph
