"""`signal.pick` and `signal.reref`: choosing and re-referencing channels."""
from __future__ import annotations

import re
from typing import Literal

import numpy as np
from pydantic import Field

from streamer.node import Params, Port, Transform
from streamer.streams import SAMPLES, Message


def pick_indices(ch_names: list[str], ch_types: list[str], names: list[str] | None,
                 types: list[str] | None) -> list[int]:
    if names:
        missing = [n for n in names if n not in ch_names]
        if missing:
            raise ValueError(f"channels {missing} not in the stream; it has {', '.join(ch_names)}")
        idx = [ch_names.index(n) for n in names]
    else:
        idx = list(range(len(ch_names)))
    if types:
        idx = [i for i in idx if ch_types[i] in types]
        if not idx:
            raise ValueError(f"no channel of type {types}; the stream has types {sorted(set(ch_types))}")
    return idx


def _subset(msg: Message, idx: list[int], data: np.ndarray | None = None, **meta) -> Message:
    m = msg.meta
    return msg.with_data(np.ascontiguousarray(msg.data[idx] if data is None else data),
                         ch_names=[m["ch_names"][i] for i in idx], ch_types=[m["ch_types"][i] for i in idx],
                         units=[m["units"][i] for i in idx], **meta)


class Pick(Transform):
    """Keeps channels by name (in the given order) and/or by type (eeg, seeg, ecog, ...)."""

    inputs = {"in": Port(SAMPLES)}
    outputs = {"out": Port(SAMPLES)}

    class Params(Params):
        names: list[str] | None = Field(None, description="channel names to keep, in order")
        types: list[str] | None = Field(None, description="channel types to keep")

    def receive(self, port: str, msg: Message) -> Message:
        idx = pick_indices(msg.meta["ch_names"], msg.meta["ch_types"], self.params.names, self.params.types)
        return _subset(msg, idx)


_CONTACT = re.compile(r"^(.*?)(\d+)$")


def shaft_pairs(names: list[str]) -> list[tuple[str, str]]:
    """Neighbouring contacts along each depth electrode: LA1-LA2, LA2-LA3, ..."""
    shafts: dict[str, list[tuple[int, str]]] = {}
    for n in names:
        m = _CONTACT.match(n)
        if m:
            shafts.setdefault(m.group(1), []).append((int(m.group(2)), n))
    pairs = []
    for contacts in shafts.values():
        contacts.sort()
        for (i, a), (j, b) in zip(contacts, contacts[1:]):
            if j == i + 1:
                pairs.append((a, b))
    return pairs


class Reref(Transform):
    """Re-references the signals: common average (`average`, over channels of `types`,
    bad channels excluded from the mean), bipolar pairs (`bipolar`, given as [anode,
    cathode] or found along sEEG shafts), or a surface Laplacian (`laplacian`: each channel
    minus the mean of its given neighbours). Equal to MNE's set_eeg_reference and
    set_bipolar_reference on the same data."""

    inputs = {"in": Port(SAMPLES)}
    outputs = {"out": Port(SAMPLES)}

    class Params(Params):
        method: Literal["average", "bipolar", "laplacian"] = Field("average", description="reference")
        types: list[str] = Field(["eeg", "seeg", "ecog"], description="channels re-referenced (average)")
        bads: list[str] = Field([], description="channels left out of the average")
        pairs: list[tuple[str, str]] | None = Field(None, description="bipolar [anode, cathode] pairs; "
                                                    "default: neighbouring contacts of each shaft")
        neighbours: dict[str, list[str]] = Field({}, description="laplacian: channel -> its neighbours")

    def receive(self, port: str, msg: Message) -> Message:
        m, x = msg.meta, msg.data
        names = m["ch_names"]
        p = self.params
        if p.method == "average":
            use = [i for i, t in enumerate(m["ch_types"]) if t in p.types]
            ref = [i for i in use if names[i] not in p.bads]
            if not ref:
                raise ValueError(f"no channel of types {p.types} to average")
            y = np.array(x, dtype=np.float32, copy=True)
            mean = x[ref].astype(np.float64).mean(axis=0)
            y[use] = (x[use] - mean).astype(np.float32)
            return msg.with_data(y)
        if p.method == "bipolar":
            pairs = p.pairs or shaft_pairs(names)
            if not pairs:
                raise ValueError("no bipolar pairs given and none found along shafts (names like LA1, LA2)")
            idx = {n: i for i, n in enumerate(names)}
            missing = sorted({c for pair in pairs for c in pair if c not in idx})
            if missing:
                raise ValueError(f"bipolar pairs name channels not in the stream: {missing}")
            y = np.stack([x[idx[a]].astype(np.float64) - x[idx[b]] for a, b in pairs]).astype(np.float32)
            return msg.with_data(y, ch_names=[f"{a}-{b}" for a, b in pairs],
                                 ch_types=[m["ch_types"][idx[a]] for a, _ in pairs],
                                 units=[m["units"][idx[a]] for a, _ in pairs])
        idx = {n: i for i, n in enumerate(names)}
        y = np.array(x, dtype=np.float32, copy=True)
        for ch, nb in p.neighbours.items():
            missing = [c for c in [ch, *nb] if c not in idx]
            if missing:
                raise ValueError(f"laplacian names channels not in the stream: {missing}")
            y[idx[ch]] = x[idx[ch]] - x[[idx[c] for c in nb]].astype(np.float64).mean(axis=0)
        return msg.with_data(y)
