"""The plain functions of nodes.events.functional and nodes.signal.functional keep their
promises: keywords named as their node's parameters, every parameter documented with a
Parameters, Returns and Examples section, and the examples run."""
from __future__ import annotations

import doctest
import inspect
import sys

import pytest

import nodes.events.functional as EF
import nodes.signal.functional as SF
from streamer import registry

# function -> its node type; and the keywords that are not node parameters (the data,
# and what a stream's metadata or messages give a node)
NODES = {
    EF.denoise: "events.denoise", EF.refractory: "events.refractory", EF.hotpixels: "events.hotpixels",
    EF.roi: "events.roi", EF.flip: "events.flip", EF.polarity: "events.polarity",
    EF.downsample: "events.downsample", EF.ratelimit: "events.ratelimit", EF.bin_events: "events.bin",
    SF.filter_data: "signal.filter", SF.resample: "signal.resample", SF.bandpower: "signal.bandpower",
    SF.windows: "signal.window", SF.epochs: "signal.epochs", SF.pick: "signal.pick", SF.reref: "signal.reref",
    SF.artifacts: "signal.artifacts", SF.encode: "signal.encode", SF.project: "signal.project",
}
FROM_THE_STREAM = {"events", "width", "height", "x", "sfreq", "ch_names", "ch_types", "samples"}


def test_every_event_and_signal_node_has_a_function():
    names = {n for n in registry.names() if n.startswith(("events.", "signal."))}
    assert names == set(NODES.values())


@pytest.mark.parametrize("fn", list(NODES), ids=lambda f: f.__name__)
def test_keywords_are_the_nodes_parameters_and_documented(fn):
    node_params = set(registry.get(NODES[fn]).Params.model_fields)
    sig = inspect.signature(fn)
    own = [n for n in sig.parameters if n not in FROM_THE_STREAM]
    assert set(own) <= node_params, f"{fn.__name__}: {set(own) - node_params} are not {NODES[fn]} parameters"
    assert all(p.kind is p.KEYWORD_ONLY for n, p in sig.parameters.items() if n in node_params)
    doc = inspect.getdoc(fn)
    for section in ("Parameters\n----------", "Returns\n-------", "Examples\n--------"):
        assert section in doc, f"{fn.__name__} has no {section.splitlines()[0]}"
    params_text = doc.split("Parameters\n----------")[1].split("Returns\n-------")[0]
    assert all(n in params_text for n in sig.parameters), f"{fn.__name__}: a parameter is undocumented"


def test_docstring_examples_run():
    modules = {sys.modules[f.__module__] for f in NODES}
    for mod in sorted(modules, key=lambda m: m.__name__):
        result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, mod.__name__
        assert result.attempted > 0, mod.__name__
