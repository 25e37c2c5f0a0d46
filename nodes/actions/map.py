"""Decision -> Command through a label table, with the guards a real-time decoder needs.

A classifier's decisions flicker. `actions.map` turns them into commands only when they
are confident, held and not too soon after the previous command:

- min_confidence: decisions below it are ignored (they count as a glitch, see debounce);
- hysteresis: keeping the current command needs min_confidence, switching to another
  needs switch_confidence (higher), so two close classes do not make it chatter;
- dwell: a new label must be held for dwell_decisions decisions and dwell_ms (both, by
  the decisions' t_origin) before its command is sent;
- debounce: up to debounce_decisions consecutive disagreeing or weak decisions inside a
  dwell are tolerated without starting the dwell again (they do not count towards it);
- refractory: no command for refractory_ms after each command; a label held through the
  refractory period fires on the first decision after it.
"""
from __future__ import annotations

import logging
import math
from typing import Any, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

import streamer.node
from streamer.node import Port, Transform
from streamer.streams import COMMAND, DECISION, Message, command, now

log = logging.getLogger(__name__)

# Durations are differences of float seconds: compare them with a tolerance far below 1 µs.
EPS_MS = 1e-6


class ActionSpec(BaseModel):
    """The command a label stands for."""

    model_config = ConfigDict(extra="forbid")
    action: str = Field(description="action name sent to the actuator")
    value: Any = Field(default=None, description="value sent with the action")


Entry = Union[str, ActionSpec, None]


class Map(Transform):
    """Turns decisions into commands through a label table.

    `labels` is a list (each label is its own action; a decision whose label is empty is
    looked up by its class index) or a table {label: action | {action, value} | null};
    null means "no command" (a rest class). A command is sent when a label other than the
    current one has been held with enough confidence for the dwell time, outside the
    refractory period after the previous command. The command keeps the t_origin of the
    newest decision that led to it and carries the label and confidence.
    Counters: low_confidence, unmapped, commands.
    """

    inputs = {"in": Port(DECISION, "decisions of a classifier")}
    outputs = {"out": Port(COMMAND, "commands, one per accepted change of label")}

    class Params(streamer.node.Params):
        labels: Union[list[str], dict[str, Entry]] = Field(
            description="label table: a list of labels (action = label) or "
                        "{label: action | {action: ..., value: ...} | null}")
        min_confidence: float = Field(0.0, ge=0.0, le=1.0,
                                      description="decisions below this confidence are ignored")
        switch_confidence: float | None = Field(
            None, ge=0.0, le=1.0,
            description="confidence needed to switch to another label (hysteresis); "
                        "default: min_confidence")
        dwell_decisions: int = Field(1, ge=1, description="decisions a new label must be held for")
        dwell_ms: float = Field(0.0, ge=0.0,
                                description="time (by t_origin) a new label must be held for")
        debounce_decisions: int = Field(
            0, ge=0, description="disagreeing or weak decisions tolerated inside a dwell")
        refractory_ms: float = Field(0.0, ge=0.0, description="no command for this long after one")
        repeat: bool = Field(False, description="a command for every accepted decision, also when the "
                                                "label does not change (trial-based control)")

        @model_validator(mode="after")
        def _check(self) -> "Map.Params":
            if self.switch_confidence is not None and self.switch_confidence < self.min_confidence:
                raise ValueError(f"switch_confidence ({self.switch_confidence}) must be >= "
                                 f"min_confidence ({self.min_confidence}): switching may not "
                                 "be easier than keeping")
            if not self.labels:
                raise ValueError("labels is empty: give the classifier's labels or a table")
            return self

    @staticmethod
    def table(params: "Map.Params") -> dict[str, ActionSpec | None]:
        """label -> the command it stands for (None: no command)."""
        table = {lab: lab for lab in params.labels} if isinstance(params.labels, list) else params.labels
        return {lab: ActionSpec(action=e) if isinstance(e, str) else e for lab, e in table.items()}

    @classmethod
    def ports(cls, params: "Map.Params") -> tuple[dict[str, Port], dict[str, Port]]:
        """The output declares every (action, value) its table can send, for the gate's check."""
        sends = [(spec.action, spec.value) for spec in cls.table(params).values() if spec is not None]
        return dict(cls.inputs), {"out": Port(COMMAND, cls.outputs["out"].doc, commands=sends)}

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        p = self.params
        self._names = list(p.labels) if isinstance(p.labels, list) else None
        self._table = self.table(p)
        self._switch = p.min_confidence if p.switch_confidence is None else p.switch_confidence
        self._reset()

    def start(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.current: str | None = None        # label of the last command sent
        self._cand: str | None = None           # label being dwelt on
        self._cand_n = 0
        self._cand_t0 = 0.0
        self._glitches = 0
        self._t_last_cmd = -math.inf

    def _label(self, item: dict) -> str | None:
        label = item.get("label") or ""
        if label in self._table:
            return label
        if not label and self._names is not None:
            i = item.get("index", -1)
            if 0 <= i < len(self._names):
                return self._names[i]
        return None

    def _glitch(self) -> None:
        self._glitches += 1
        if self._glitches > self.params.debounce_decisions:
            self._cand, self._cand_n, self._glitches = None, 0, 0

    def receive(self, port: str, msg: Message) -> Message | None:
        p = self.params
        item = msg.data
        t = msg.t_origin if math.isfinite(msg.t_origin) else now()
        label = self._label(item)
        if label is None:
            self.count("unmapped")
            log.debug("%s: label %r (index %s) is not in the table", self.name,
                      item.get("label"), item.get("index"))
            return None
        conf = float(item.get("confidence", 0.0))
        if conf < p.min_confidence:
            self.count("low_confidence")
            self._glitch()
            return None
        if label == self.current and not p.repeat:
            if self._cand is not None:
                self._glitch()
            return None
        if conf < self._switch:
            self.count("low_confidence")
            self._glitch()
            return None
        if label != self._cand:
            if self._cand is not None:
                self._glitch()
                if self._cand is not None:  # within the debounce: keep dwelling on the old one
                    return None
            self._cand, self._cand_n, self._cand_t0 = label, 0, t
        self._cand_n += 1
        self._glitches = 0
        held = self._cand_n >= p.dwell_decisions and (t - self._cand_t0) * 1e3 >= p.dwell_ms - EPS_MS
        if not held or (t - self._t_last_cmd) * 1e3 < p.refractory_ms - EPS_MS:
            return None
        self.current, self._cand, self._cand_n = label, None, 0
        self._t_last_cmd = t
        spec = self._table[label]
        if spec is None:  # a rest label: becomes current but sends nothing
            return None
        self.count("commands")
        return command(spec.action, spec.value, t_origin=msg.t_origin, label=label,
                       confidence=conf, steps=item.get("steps"))
