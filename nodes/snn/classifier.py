"""The classifier contract of snn.infer, coprocessor.loihi and coprocessor.spinnaker.

A classifier node holds a `Classifier`: it takes the input bins and the markers, starts
and ends samples and trials, runs the early-exit rule and makes the decisions. Where the
network runs is a `Backend`, which only advances bins and resets; the node itself is a
shell that builds its backend from its parameters. A backend that cannot honour a shared
parameter says so in its Params' `UNSUPPORTED`, and the graph check refuses the value.
"""
from __future__ import annotations

import collections
from pathlib import Path
from typing import Any, Callable, ClassVar, Literal, Protocol

import numpy as np
from pydantic import Field, model_validator

import streamer.node
from streamer.node import Port, Transform
from streamer.paths import InputPath
from streamer.streams import DECISION, FRAMES, MARKER, SPIKES, Message, decision, spikes

from .conventions import CONVENTIONS
from .early_exit import EarlyExit, Readout
from .model_check import model_ports, model_problems
from .trials import Onsets, input_bins


# Confidences per step sent with each decision (the console draws them climbing to the threshold).
MAX_TRACE = 256

class Backend(Protocol):
    """Where a classifier's network runs. Output rows come back in input order, `depth`
    steps after their bin when `aligned`; a free-running device (not `aligned`) sends its
    rows on its own time, and they are taken as they come."""

    label: str                     # in every decision and the node's details
    details: dict                  # shown with the node's figures (quantisation, approximations)
    in_shape: tuple[int, ...]      # one bin
    n_out: int                     # output neurons = classes
    out_layer: str                 # the output layer's name (the `out` Spikes' layer)
    depth: int                     # steps from a bin to its output row (0: the same step)
    block: int                     # most bins per advance(): 1 gives each bin's output before the next runs
    aligned: bool
    max_count: float | None        # input values above it are clipped (and counted), None: none are
    readout_layer: Any             # a layer with a membrane `v` for readout "membrane", or None

    def advance(self, frames: np.ndarray) -> np.ndarray:
        """Run float32 bins (k, *in_shape); the output rows (r, n_out) that came back."""

    def reset(self) -> None:
        """Zero the network's state: the next bin starts a sample."""

    def close(self) -> None:
        """Release the device."""


class ClassifierParams(streamer.node.Params):
    """The parameters every classifier node takes, with the same names and meaning."""

    # A backend lists the values it cannot honour: {parameter: (value or tuple of values, why)}.
    UNSUPPORTED: ClassVar[dict[str, tuple[Any, str]]] = {}

    model: InputPath = Field(description="path of the NIR file")
    dt_s: float = Field(1e-3, gt=0.0, description="simulation step in seconds (one per bin)")
    convention: Literal[tuple(CONVENTIONS)] = Field(  # type: ignore[valid-type]
        "nir", description="spike/reset rules of the training framework; chips run 'nir'")
    reset: Literal["v_reset", "subtract", None] = Field(
        None, description="override the convention's reset (graphs trained with the other one)")
    labels: list[str] = Field(default_factory=list, description="class names, by output index")
    readout: Readout = Field(
        "spikes", description="class from accumulated output spikes, the output membrane, or the running "
                              "mean of either (spikes_mean, membrane_mean)")
    mode: Literal["continuous", "trial"] = Field(
        "continuous", description="continuous: classify sample after sample; trial: start on Markers")
    trial_markers: list[str] | None = Field(
        None, description="labels of the markers that start a trial (or restart a sample); null: every marker")
    delay_s: float = Field(0.0, ge=0.0, description="trial mode: a trial starts this long after its marker's "
                                                    "device time")
    trigger: Literal["marker", "activity"] = Field(
        "marker", description="trial mode: trials start on Markers, or also on input activity")
    onset_events: float = Field(
        10.0, gt=0.0, description="trigger 'activity': input sum in one bin that starts a trial")
    emit_spikes: bool = Field(False, description="send the output layer's spikes on 'out'")
    early_exit: EarlyExit = Field(default_factory=EarlyExit, description="when to stop a sample")

    @model_validator(mode="after")
    def _supported(self) -> "ClassifierParams":
        for name, (values, why) in type(self).UNSUPPORTED.items():
            value = getattr(self, name)
            if value in (values if isinstance(values, tuple) else (values,)):
                raise ValueError(f"{name} {value!r} is not supported here: {why}")
        return self


class Classifier:
    """Samples and trials over a backend's output rows, decided by the early-exit rule.

    Continuous mode classifies sample after sample; a Marker restarts the current one.
    In trial mode nothing runs until a Marker starts a trial, at the first bin at or
    after its device time (plus `delay_s`), whatever order markers and bins arrive in:
    idle bins are held a while for a marker that is late. With trigger "activity", a
    bin whose input sum rises to `onset_events` also starts a trial. A decision keeps
    the t_origin of the message whose bin completed it.
    """

    def __init__(self, params: ClassifierParams, backend: Backend, count: Callable[..., None],
                 who: str) -> None:
        self.params, self.backend, self.count, self.who = params, backend, count, who
        self.rule = params.early_exit.rule(params.readout)
        self.model_name = Path(params.model).name
        self.trials = params.mode == "trial"
        self.armed = not self.trials
        self.onsets = Onsets(params.trial_markers, params.delay_s, who)
        self.held: list[tuple] = []      # idle bins (t_bin, frame, t_origin) kept for a late marker
        self.pending: list[tuple] = []   # bins run whose output rows are not back yet
        self.spikes_out: list[np.ndarray] = []
        self.steps_run = 0               # output rows taken since start (the `out` Spikes' step)
        self.quiet = True                # trigger "activity": the last idle bin was below onset
        self.last_t_origin = float("nan")
        self._restart()

    # -- the interface the node uses ---------------------------------------------------
    def marker(self, msg: Message) -> dict[str, list[Message]] | None:
        if not self.onsets.wanted(msg.data):
            self.count("ignored_markers")  # rest cues, file boundaries: no trial
            return None
        if not self.trials or not self.onsets.add(msg.data):
            self._begin_trial()  # no device time: the marker acts where it arrives
            return None
        # The trial starts at the first bin at or after the onset, whichever came first.
        held, self.held = self.held, []
        replay = [(t_bin, frame, max(t0, msg.t_origin)) for t_bin, frame, t0 in held]
        return self._emit(self._process(replay), msg.t_origin)

    def bins(self, msg: Message) -> dict[str, list[Message]] | None:
        frames, starts, mismatch = input_bins(msg, self.backend.in_shape, self.params.dt_s,
                                              f"{self.who} ({self.params.model})")
        if mismatch:
            self.count("bin_mismatch")
        top = self.backend.max_count
        if top is not None:
            clipped = int(np.count_nonzero(frames > top))
            if clipped:
                self.count("clipped_inputs", clipped)
                frames = np.minimum(frames, top)
        self.last_t_origin = msg.t_origin
        items = [(t_bin, frame, msg.t_origin) for t_bin, frame in zip(starts, frames)]
        return self._emit(self._process(items), msg.t_origin)

    def finish(self) -> dict[str, list[Message]] | None:
        """The sample cut short by the end of the stream still gets its decision (trial mode)."""
        self._drop_held()
        if not self.armed:
            return None
        out = self._flush()
        if self.trials and self.armed and self.tracker.steps:
            out.append(self._decide(self.last_t_origin))
        return self._emit(out, self.last_t_origin)

    # -- samples and trials --------------------------------------------------------------
    def _restart(self) -> None:
        self.backend.reset()
        self.pending = []
        self.lag = self.backend.depth  # rows still to skip before this sample's first
        self.tracker = self.rule.tracker(self.backend.n_out, self.backend.readout_layer)

    def _begin_trial(self) -> None:
        """A new trial (or sample): one still running is cut. Bins held before it belong to
        no trial: a marker for a later trial arriving mid-trial would replay them into this one."""
        if self.trials and self.armed and (self.tracker.steps or self.pending):
            self.count("trials_cut")
        self._drop_held()
        self.armed = True
        self._restart()

    def _hold(self, item: tuple) -> None:
        """Keep an idle bin a while: a marker may still arrive for a trial that began there."""
        self.held.append(item)
        if len(self.held) > self.params.early_exit.max_steps:
            self.held.pop(0)
            self.count("idle_bins")

    def _drop_held(self) -> None:
        if self.held:
            self.count("idle_bins", len(self.held))
            self.held = []

    def _activity_onset(self, frame: np.ndarray) -> bool:
        """trigger "activity": input rises to `onset_events` in this bin after a quieter one
        (a stream that stays busy after a decision does not start trial after trial)."""
        if not self.trials or self.params.trigger != "activity":
            return False
        active = float(frame.sum()) >= self.params.onset_events
        rising = active and self.quiet
        self.quiet = not active
        return rising

    def _process(self, items: list[tuple]) -> list[Message]:
        """Bins (t_bin, frame, t_origin) in order: trials started where their onsets fall,
        runs of armed bins sent to the backend together, the others held or idle."""
        out: list[Message] = []
        queue = collections.deque(items)
        block: list[tuple] = []
        while queue or block:
            due = bool(queue) and self.trials and self.onsets.due(queue[0][0])
            if block and (not queue or due or len(block) >= self.backend.block):
                out += self._run(block, queue)  # bins after a decision return to the queue
                block = []
                continue
            item = queue.popleft()
            t_bin, frame, _ = item
            if due:
                self.onsets.pop_due(t_bin)
                self._begin_trial()
            elif not self.armed and self._activity_onset(frame):
                self._begin_trial()
            if not self.armed:
                if self.trials and t_bin is not None:
                    self._hold(item)
                else:
                    self.count("idle_bins")  # no device time: no marker can claim it
                continue
            block.append(item)
        return out

    def _run(self, block: list[tuple], rest: collections.deque, flush: bool = False) -> list[Message]:
        """Run bins of the current sample; a decision among their outputs ends the sample,
        and bins run after the deciding one go back to `rest` (their outputs belonged to it)."""
        frames = block[0][1][None] if len(block) == 1 else np.stack([f for _, f, _ in block])
        rows = self.backend.advance(frames)
        aligned = self.backend.aligned
        if aligned and not flush:
            self.pending.extend(block)
        out: list[Message] = []
        for row in rows:
            if aligned:
                if self.lag:
                    self.lag -= 1
                    continue
                if not self.pending:
                    break
                t_origin = self.pending.pop(0)[2]
            else:
                t_origin = block[-1][2]
            self.steps_run += 1
            if self.params.emit_spikes:
                self.spikes_out.append(np.array(row, np.float32).reshape(-1))
            if self.tracker.update(row):
                out.append(self._decide(t_origin))
                after = self.pending
                self._restart()
                self.armed = not self.trials
                if aligned:
                    rest.extendleft(reversed(after))
                    return out
        return out

    def _flush(self) -> list[Message]:
        """Run empty bins until the output of every bin run is back; a decision there
        leaves the bins after it to the next sample (continuous) or idle (trial)."""
        out: list[Message] = []
        while self.pending and self.armed:
            rest: collections.deque = collections.deque()
            t_origin = self.pending[-1][2]
            zeros = [(None, np.zeros(self.backend.in_shape, np.float32), t_origin)] * (self.lag + len(self.pending))
            out += self._run(zeros, rest, flush=True)
            if rest:
                out += self._process(list(rest))
        return out

    def _decide(self, t_origin: float) -> Message:
        r = self.tracker.result()
        labels = self.params.labels
        self.count("decisions")
        return decision(r.index, labels[r.index] if labels else str(r.index), r.probabilities,
                        r.confidence, r.steps, model=self.model_name, policy=self.params.early_exit.policy,
                        backend=self.backend.label, t_origin=t_origin, trace=self.tracker.trace[-MAX_TRACE:])

    def _emit(self, decisions: list[Message], t_origin: float) -> dict[str, list[Message]] | None:
        result = {"decision": decisions} if decisions else {}
        if self.spikes_out:
            n = len(self.spikes_out)
            result["out"] = [spikes(np.stack(self.spikes_out), layer=self.backend.out_layer,
                                    step=self.steps_run - n, dt_s=self.params.dt_s, t_origin=t_origin)]
            self.spikes_out = []
        return result or None


class ClassifierNode(Transform):
    """A node that classifies bins with a NIR spiking network on some backend: the ports,
    the model checks and the Classifier are shared; `make_backend()` is the node's own."""

    inputs = {"in": Port((FRAMES, SPIKES), "binned input, (bins, *input_shape) or (steps, n)"),
              "markers": Port(MARKER, "trial onsets (trial mode) or restarts")}
    outputs = {"decision": Port(DECISION, "one per classified sample"),
               "out": Port(SPIKES, "output layer per simulated step (with emit_spikes)")}

    Params = ClassifierParams
    TYPE = "classifier"  # the type name, in errors

    @classmethod
    def ports(cls, params: ClassifierParams) -> tuple[dict[str, Port], dict[str, Port]]:
        return model_ports(cls, params)

    @classmethod
    def check(cls, params: ClassifierParams) -> list[tuple[str, str]]:
        return model_problems(params)

    def make_backend(self) -> Backend:
        raise NotImplementedError

    def start(self) -> None:
        p = self.params
        if not Path(p.model).is_file():
            raise FileNotFoundError(f"{self.TYPE} {self.name!r}: model {p.model} not found")
        self.backend = self.make_backend()
        n_out = self.backend.n_out
        if p.labels and len(p.labels) != n_out:
            raise ValueError(f"{self.TYPE} {self.name!r}: {len(p.labels)} labels for a model with "
                             f"{n_out} outputs ({p.model})")
        self.details = {"backend": self.backend.label, **self.backend.details}
        self.classifier = Classifier(p, self.backend, self.count, f"{self.TYPE} {self.name!r}")

    def receive(self, port: str, msg: Message):
        if port == "markers":
            return self.classifier.marker(msg)
        return self.classifier.bins(msg)

    def finish(self):
        return self.classifier.finish()

    def stop(self) -> None:
        backend = getattr(self, "backend", None)
        if backend is not None:
            backend.close()

