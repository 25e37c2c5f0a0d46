"""`cues.feedback`: the online decisions as a bar on the stimulus page."""
from __future__ import annotations

from pydantic import Field

from streamer.node import Params, Port, Rejected, Transform
from streamer.streams import DECISION, MARKER, Message, marker, now


class Feedback(Transform):
    """Turns each Decision of a two-class decoder into a `feedback` marker that the
    console's /stimulus page draws as a bar: its position is P(second class) - P(first
    class) in [-1, 1] (left to right), coloured by whether the decision matched the cue
    when that is known. The marker is recorded like any other, with the decision's label;
    its `time_s` is the host time it was sent (cues.align places it on an amplifier's
    samples), and its `sample` the epoch's last one when the decision names it (a replay)."""

    inputs = {"in": Port(DECISION, "decisions of a two-class decoder")}
    outputs = {"out": Port(MARKER, "feedback markers for the page and the recording")}

    class Params(Params):
        hold_s: float = Field(1.5, gt=0, description="how long the page shows each decision")

    def receive(self, port: str, msg: Message) -> Message:
        if msg.stream != DECISION:
            raise Rejected(f"{self.name}: takes Decisions, got {msg.stream}")
        d = msg.data
        probs = d.get("probabilities") or []
        position = float(probs[1] - probs[0]) if len(probs) == 2 else (1.0 if d.get("index") else -1.0)
        self.count("feedback")
        t = now()
        extra = {"sample": int(d["last_sample"])} if isinstance(d.get("last_sample"), int) else {}
        return marker("feedback", d.get("label"), time_s=t, t_origin=msg.t_origin, source="cues.feedback",
                      stimulus={"show": "feedback", "position": position, "label": d.get("label"),
                                "correct": d.get("correct"), "duration_s": self.params.hold_s}, **extra)
