"""Node base classes: sources produce, transforms react to each input, sinks consume.

A node is a small class with typed ports, validated parameters and one method that does
the work. It knows nothing of processes or sockets, so a test can drive it directly:

    node = Denoise(window_us=2000)
    node.start()
    out = node.receive("in", msg)      # -> Message, list, {port: ...} or None

What a node returns ("Emit") is normalised by `emitted()`: None for nothing, a Message or
a list of Messages for the default output port, or a dict {port: Message | list}.
"""
from __future__ import annotations

import collections
import math
from typing import Any, ClassVar, Iterable, Mapping, Union

from pydantic import BaseModel, ConfigDict

from .streams import ANY, SPIKES, Message

Emit = Union[None, Message, list, Mapping[str, Any]]


class EndOfStream(Exception):
    """Raised by a source's `produce()` when it has nothing more to produce."""


class Unavailable(RuntimeError):
    """Raised by a node when what it needs is not there (no camera plugged in, no board, a
    missing SDK): its message says what to do, and is shown as it is, without a traceback."""


class Rejected(ValueError, TypeError):
    """Raised by `receive()` for an input the node refuses (wrong shape, units, sensor,
    channels...). The runtime counts it as `rejected` with the reason and goes on; any
    other exception is a failure of the node."""


class Port:
    """A typed input or output of a node.

    What the parameters fix about the port may be declared too (in `ports()`), so that a
    graph check compares the two ends of an edge before anything runs:
    `shape`, the shape of one step of an array stream (a Frames bin, a Spikes step)
    that an output sends or an input needs, with `shape_from`, the parameter that sets
    it; `commands`, the (action, value) pairs an output of Commands can send."""

    def __init__(self, stream: str | tuple[str, ...] = ANY, doc: str = "", *,
                 shape: tuple[int, ...] | None = None, shape_from: str = "",
                 commands: list[tuple[str, Any]] | None = None) -> None:
        self.stream = stream
        self.doc = doc
        self.shape = None if shape is None else tuple(int(n) for n in shape)
        self.shape_from = shape_from
        self.commands = commands

    def __repr__(self) -> str:
        return f"Port({self.stream!r})"

    def takes_shape(self, sent: "Port") -> bool:
        """Whether steps of `sent`'s declared shape fit this input's (Spikes need only the
        same number of values: a receiver reshapes them); undeclared shapes fit."""
        if self.shape is None or sent.shape is None or sent.shape == self.shape:
            return True
        return sent.stream == SPIKES and math.prod(sent.shape) == math.prod(self.shape)

    @property
    def stream_names(self) -> str:
        return self.stream if isinstance(self.stream, str) else " | ".join(self.stream)


# An input port named WILDCARD accepts edges to any port name (a recorder, a logger).
WILDCARD = "*"


class Params(BaseModel):
    """Base of every node's parameters: unknown names are errors, values are checked."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Node:
    """Common base. Subclasses set `inputs`, `outputs` and a nested `Params` model."""

    role: ClassVar[str] = "node"
    inputs: ClassVar[dict[str, Port]] = {}
    outputs: ClassVar[dict[str, Port]] = {}
    Params: ClassVar[type[Params]] = Params
    # Seconds between calls to `tick()`, or None: for timers and watchdogs.
    tick_interval_s: ClassVar[float | None] = None
    # What the runtime does when this node fails, unless the graph says (`on_failure`):
    # "stop" the graph through its safe state, "restart" the node, or "detach" it.
    default_on_failure: ClassVar[str] = "stop"
    # Optional nodes (recorders, viewers, logs) never hold the control loop back: once
    # they fail for good they are detached, not waited for.
    optional: ClassVar[bool] = False
    # On a stop, keep taking input for up to this long, until every input has ended
    # (actuators: so that the gate's safe command reaches them before they close).
    stop_drain_s: ClassVar[float] = 0.0
    # A node that owns a safe state (the gate) names the output its safe commands leave on;
    # a node that acts on commands (an actuator) has `safe_action`/`safe_value` parameters
    # that, left unset, take the safe command of the node feeding it (see `safe_command`).
    safe_port: ClassVar[str | None] = None
    inherits_safe_command: ClassVar[bool] = False
    # Inputs for an operator's control (the gate's emergency stop): the node does not wait
    # for their edges to end before it ends, and they may close a loop with a viewer.
    control_inputs: ClassVar[tuple[str, ...]] = ()
    # How to make the interpreter a graph gives this node (`python:`), told when it is missing.
    python_hint: ClassVar[str] = ""

    def __init__(self, **params: Any) -> None:
        self.params = self.Params(**params)
        self.name: str = type(self).__name__
        # Named counters shown in the live figures (blocked commands, dropped events...).
        self.counters: collections.Counter[str] = collections.Counter()
        # Facts about this run for the figures, set once by start(): "backend" (shown next
        # to the node's state) and any JSON-able reports (quantisation, approximations).
        self.details: dict[str, Any] = {}
        # Set by the runtime before start(): 0 for the first process of this node, n after
        # n restarts (a recorder appends to its file instead of replacing it).
        self.incarnation = 0

    def wake(self) -> None:
        """Have `tick()` called at once rather than at its next interval: for a node's own
        threads (the console's web server hands over an emergency stop). Thread-safe once
        the runtime runs the node; a no-op when the node is driven directly."""

    @classmethod
    def ports(cls, params: Params) -> tuple[dict[str, Port], dict[str, Port]]:
        """Input and output ports for these parameters (override when they depend on them)."""
        return dict(cls.inputs), dict(cls.outputs)

    @classmethod
    def check(cls, params: Params) -> list[tuple[str, str]]:
        """What would make `start()` fail with these parameters and the files they name,
        as (parameter, message) pairs, found without devices and without compiling
        anything (a model with another number of outputs than `labels`). Run by the graph
        check once the input paths are known to exist."""
        return []

    @classmethod
    def check_input(cls, params: Params, port: str, sent: Port) -> list[str]:
        """Problems with what an edge brings to input `port`, judged from the output port
        it comes from and what that port declares (e.g. commands a gate would always
        block). Each message says what to change."""
        return []

    @classmethod
    def safe_command(cls, params: Params) -> tuple[str, Any] | None:
        """(action, value) of the safe command this node sends on `safe_port`, if any."""
        return None

    def count(self, key: str, n: int = 1) -> None:
        self.counters[key] += n

    def start(self) -> None:
        """Open devices, files, compile kernels. Called once before any data."""

    def warm_up(self) -> None:
        """Called by the runtime once after `start()`, before the graph starts: compile or
        load kernels here so that the first live message is not delayed by it."""

    def stop(self) -> None:
        """Release what `start()` took. Called once, also after errors."""

    def tick(self) -> Emit:
        """Called every `tick_interval_s` seconds when set."""
        return None

    def on_go(self) -> Emit:
        """Called once when the graph starts running (also after a restart of this node):
        what it returns goes out first (a gate's safe command)."""
        return None

    def on_stop(self) -> Emit:
        """Called when the run is stopped early (duration, signal, a failure elsewhere),
        before `stop()`: what it returns is still sent (a gate's safe command)."""
        return None

    @property
    def output_ports(self) -> dict[str, Port]:
        """The output ports for this node's parameters (asked once: they depend on nothing
        else, and a node such as `replay` reads a file to know them)."""
        try:
            return self._output_ports
        except AttributeError:
            self._output_ports = type(self).ports(self.params)[1]
            return self._output_ports

    @property
    def default_output(self) -> str | None:
        try:
            return self._default_output
        except AttributeError:
            pass
        outs = self.output_ports
        if "out" in outs or not outs:
            port = "out" if outs else None
        else:
            port = next(iter(outs)) if len(outs) == 1 else None
        self._default_output = port  # ports depend only on the parameters: ask once
        return port


class Source(Node):
    """Produces messages. `produce()` is called in a loop; it may block briefly (< 0.1 s)
    and returns what is ready (None if nothing yet). Raise EndOfStream when done."""

    role = "source"

    def produce(self) -> Emit:
        raise NotImplementedError


class Transform(Node):
    """Reacts to each input message with zero or more output messages."""

    role = "transform"

    def receive(self, port: str, msg: Message) -> Emit:
        raise NotImplementedError

    def finish(self) -> Emit:
        """Every upstream has ended: flush what is held back."""
        return None


class Sink(Transform):
    """Consumes messages and emits nothing (but may still have outputs for status)."""

    role = "sink"


def emitted(node: Node, out: Emit) -> list[tuple[str, Message]]:
    """Normalise what a node returned into (port, message) pairs, checking port names."""
    if out is None:
        return []
    if isinstance(out, Message):
        return [(_default_port(node), out)]
    if isinstance(out, dict) or isinstance(out, Mapping):  # dict first: the ABC check costs µs
        outs = node.output_ports
        pairs = []
        for port, value in out.items():
            if port not in outs:
                raise KeyError(f"node {node.name!r} emitted on unknown port {port!r}; "
                               f"its outputs are {sorted(outs)}")
            for msg in _as_list(value):
                pairs.append((port, msg))
        return pairs
    if isinstance(out, (list, tuple)):
        port = _default_port(node)
        return [(port, m) for m in out if m is not None]
    raise TypeError(f"node {node.name!r} returned {type(out).__name__}; expected a Message, "
                    "a list of Messages, a dict {port: ...} or None")


def _as_list(value: Any) -> Iterable[Message]:
    if value is None:
        return []
    if isinstance(value, Message):
        return [value]
    return [m for m in value if m is not None]


def _default_port(node: Node) -> str:
    port = node.default_output
    if port is None:
        raise KeyError(f"node {node.name!r} has several outputs; return a dict {{port: message}}")
    return port
