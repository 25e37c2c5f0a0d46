"""`signal.pick` and `signal.reref`: choosing and re-referencing channels."""
from __future__ import annotations

import re
from typing import Literal

import numpy as np
from numba import njit
from pydantic import Field, model_validator

from streamer.node import Params, Port, Rejected, Transform
from streamer.streams import SAMPLES, Message

from .checks import as_signal, channel_list, require_samples


def pick_indices(ch_names: list[str], ch_types: list[str], names: list[str] | None,
                 types: list[str] | None) -> list[int]:
    """Indices of the channels named (in that order) and/or of the given types."""
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
    # ch_types and units are optional: subset those the stream gives
    lists = {k: [msg.meta[k][i] for i in idx] for k in ("ch_names", "ch_types", "units") if msg.meta.get(k) is not None}
    return msg.with_data(np.ascontiguousarray(msg.data[idx] if data is None else data), **lists, **meta)


def pick(x: np.ndarray, *, ch_names: list[str], ch_types: list[str] | None = None,
         names: list[str] | None = None, types: list[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """Channels by name and/or type (what `signal.pick` does).

    Parameters
    ----------
    x : ndarray, (channels, samples)
        The signal.
    ch_names : list of str
        Name of each row of x.
    ch_types : list of str or None
        Type of each row (MNE's: eeg, seeg, ecog, ...); needed when picking by type.
    names : list of str or None
        Channels to keep, in this order (default: all, in their order).
    types : list of str or None
        Channel types to keep.

    Returns
    -------
    data : ndarray, float32, (picked channels, samples)
        The rows picked (a new array).
    ch_names : list of str
        Their names.

    Examples
    --------
    >>> import numpy as np
    >>> data, names = pick(np.arange(6.0).reshape(3, 2), ch_names=["C3", "Cz", "C4"], names=["C4", "C3"])
    >>> data.tolist(), names
    ([[4.0, 5.0], [0.0, 1.0]], ['C4', 'C3'])
    """
    x = as_signal(x, "pick")
    types_of = list(ch_types) if ch_types is not None else [""] * len(ch_names)
    idx = pick_indices(list(ch_names), types_of, names, types)
    return np.ascontiguousarray(x[idx]), [ch_names[i] for i in idx]


class Pick(Transform):
    """Keeps channels by name (in the given order) and/or by type (eeg, seeg, ecog, ...)."""

    inputs = {"in": Port(SAMPLES)}
    outputs = {"out": Port(SAMPLES)}

    class Params(Params):
        names: list[str] | None = Field(None, description="channel names to keep, in order")
        types: list[str] | None = Field(None, description="channel types to keep")

    key: tuple | None = None  # the channel layout the indices were made for

    def start(self) -> None:
        self.key = None

    def receive(self, port: str, msg: Message) -> Message:
        require_samples(msg, "signal.pick")
        names, types = msg.meta["ch_names"], channel_list(msg.meta, "ch_types", "")
        key = (tuple(names), tuple(types))
        if key != self.key:
            try:
                self.idx = pick_indices(list(names), types, self.params.names, self.params.types)
            except ValueError as exc:
                raise Rejected(f"signal.pick: {exc}") from None
            self.key = key
        return _subset(msg, self.idx)


_CONTACT = re.compile(r"^(.*?)(\d+)$")


def shaft_pairs(names: list[str], types: list[str] | None = None,
                shaft_types: tuple[str, ...] = ("seeg", "ecog")) -> list[tuple[str, str]]:
    """Neighbouring contacts along each depth electrode or strip: LA1-LA2, LA2-LA3, ...
    Only channels of `shaft_types` count (when types are given), so scalp pairs such as
    C3/C4 are never taken for contacts of one shaft."""
    shafts: dict[str, list[tuple[int, str]]] = {}
    for k, n in enumerate(names):
        if types is not None and types[k] not in shaft_types:
            continue
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


def montage_neighbours(names: list[str], montage: str, n: int) -> dict[str, list[str]]:
    """Each channel's n nearest channels of the stream on a standard MNE montage. Names
    are matched ignoring case and trailing dots (EDF's 'C3..'); unknown names are left out."""
    import mne

    pos = mne.channels.make_standard_montage(montage).get_positions()["ch_pos"]
    lookup = {k.lower(): v for k, v in pos.items()}
    known = [(name, lookup[name.strip(". ").lower()]) for name in names if name.strip(". ").lower() in lookup]
    if len(known) <= n:
        raise ValueError(f"only {len(known)} channels of the stream are on montage {montage!r} "
                         f"({[k for k, _ in known]}); need more than n_neighbours={n}")
    xyz = np.array([p for _, p in known])
    d = np.linalg.norm(xyz[:, None] - xyz[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    return {known[i][0]: [known[j][0] for j in np.argsort(d[i], kind="stable")[:n]] for i in range(len(known))}


@njit(cache=True, nogil=True)
def average_kernel(x: np.ndarray, use: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """x minus the float64 mean of the `ref` channels, on the `use` channels."""
    n_ch, n = x.shape
    mean = np.zeros(n)
    for c in ref:
        for i in range(n):
            mean[i] += x[c, i]
    mean /= ref.size
    y = x.copy()
    for c in use:
        for i in range(n):
            y[c, i] = x[c, i] - mean[i]
    return y


@njit(cache=True, nogil=True)
def combine_kernel(x: np.ndarray, rows: np.ndarray, cols: np.ndarray, weights: np.ndarray,
                   n_out: int) -> np.ndarray:
    """y[r] = sum of weights[k] * x[cols[k]] over the k with rows[k] == r, in float64."""
    n = x.shape[1]
    acc = np.zeros((n_out, n))
    for k in range(rows.size):
        r, c, w = rows[k], cols[k], weights[k]
        for i in range(n):
            acc[r, i] += w * x[c, i]
    return acc.astype(np.float32)


def plan_reref(m: dict, p: "Reref.Params") -> tuple:
    """Index arrays for a channel layout (the stream's meta: ch_names, ch_types, units):
    (use, ref) for average, else (rows, cols, weights, n_out, out_meta). A ValueError
    says why the layout does not fit the parameters."""
    names, types = list(m["ch_names"]), channel_list(m, "ch_types", "")
    idx = {n: i for i, n in enumerate(names)}
    if p.method == "average":
        use = [i for i, t in enumerate(types) if t in p.types]
        ref = [i for i in use if names[i] not in p.bads]
        if not ref:
            raise ValueError(f"no channel of types {p.types} outside bads {p.bads} to average; "
                             f"the stream has types {sorted(set(types))}")
        return np.array(use, np.int64), np.array(ref, np.int64)
    out_meta = {}
    if p.method == "bipolar":
        pairs = p.pairs or shaft_pairs(names, types, tuple(p.shaft_types))
        if not pairs:
            raise ValueError(f"no bipolar pairs given and none found along shafts "
                             f"(channels of types {p.shaft_types} named like LA1, LA2); give `pairs`")
        missing = sorted({c for pair in pairs for c in pair if c not in idx})
        if missing:
            raise ValueError(f"bipolar pairs name channels not in the stream: {missing}; "
                             f"it has {', '.join(names)}")
        rows = [k for k in range(len(pairs)) for _ in (0, 1)]
        cols = [idx[c] for pair in pairs for c in pair]
        weights = [1.0, -1.0] * len(pairs)
        out_meta = {"ch_names": [f"{a}-{b}" for a, b in pairs]}
        for key in ("ch_types", "units"):
            if m.get(key) is not None:
                out_meta[key] = [m[key][idx[a]] for a, _ in pairs]
    else:
        nb = p.neighbours or (montage_neighbours(names, p.montage, p.n_neighbours) if p.montage else {})
        if not nb:
            raise ValueError("laplacian needs `neighbours` or a `montage`")
        missing = sorted({c for ch, cs in nb.items() for c in [ch, *cs] if c not in idx})
        if missing:
            raise ValueError(f"laplacian names channels not in the stream: {missing}; "
                             f"it has {', '.join(names)}")
        rows, cols, weights = [], [], []
        for i, n in enumerate(names):
            rows.append(i), cols.append(i), weights.append(1.0)
            for c in nb.get(n, []):
                rows.append(i), cols.append(idx[c]), weights.append(-1.0 / len(nb[n]))
    n_out = max(rows) + 1 if p.method == "bipolar" else len(names)
    return (np.array(rows, np.int64), np.array(cols, np.int64), np.array(weights, np.float64), n_out,
            out_meta)



def apply_reref(x: np.ndarray, plan: tuple, method: str) -> tuple[np.ndarray, dict]:
    """(re-referenced x, the output's channel meta when it changes) for a plan of plan_reref."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    if method == "average":
        return average_kernel(x, *plan), {}
    rows, cols, weights, n_out, out_meta = plan
    return combine_kernel(x, rows, cols, weights, n_out), out_meta


def reref(x: np.ndarray, *, ch_names: list[str], ch_types: list[str] | None = None, method: str = "average",
          types: list[str] = ("eeg", "seeg", "ecog"), bads: list[str] = (), pairs: list[tuple[str, str]] | None = None,
          shaft_types: list[str] = ("seeg", "ecog"), neighbours: dict[str, list[str]] | None = None,
          montage: str | None = None, n_neighbours: int = 4) -> tuple[np.ndarray, list[str]]:
    """Re-referencing (what `signal.reref` does):

    - "average": minus the mean of the channels of `types` outside `bads` (those of `types`
      are re-referenced); MNE's set_eeg_reference("average");
    - "bipolar": anode minus cathode for `pairs`, or for neighbouring contacts of each shaft
      (channels of `shaft_types` named like LA1, LA2, ...); MNE's set_bipolar_reference;
    - "laplacian": each channel minus the mean of its `neighbours`, given or, with
      `montage`, its `n_neighbours` nearest channels on that standard MNE montage.

    Parameters
    ----------
    x : ndarray, (channels, samples)
        The signal.
    ch_names : list of str
        Name of each row of x.
    ch_types : list of str or None
        Type of each row (MNE's); without them no channel is of `types` or `shaft_types`.
    method : {"average", "bipolar", "laplacian"}
        The reference.
    types, bads, pairs, shaft_types, neighbours, montage, n_neighbours
        As for `signal.reref` (see above).

    Returns
    -------
    data : ndarray, float32, (channels out, samples)
        The re-referenced signal (a new array; float64 sums).
    ch_names : list of str
        The output's channel names ("anode-cathode" for bipolar).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> data, names = reref(x, ch_names=["C3", "C4"], ch_types=["eeg", "eeg"])
    >>> data.tolist()
    [[-1.0, -1.0], [1.0, 1.0]]
    """
    p = Reref.Params(method=method, types=list(types), bads=list(bads), pairs=pairs, shaft_types=list(shaft_types),
                     neighbours=neighbours or {}, montage=montage, n_neighbours=n_neighbours)
    x = as_signal(x, "reref")
    meta = {"ch_names": list(ch_names), "ch_types": None if ch_types is None else list(ch_types)}
    y, out_meta = apply_reref(x, plan_reref(meta, p), p.method)
    return y, out_meta.get("ch_names", list(ch_names))


class Reref(Transform):
    """Re-references the signals:

    - `average`: common average over the channels of `types`, `bads` left out of the mean
      (they are still re-referenced); equal to MNE's set_eeg_reference('average');
    - `bipolar`: anode minus cathode for the given `pairs`, or for neighbouring contacts of
      each shaft or strip (channels of `shaft_types` named like LA1, LA2, ...); equal to
      MNE's set_bipolar_reference;
    - `laplacian`: each channel minus the mean of its `neighbours`, given or, with
      `montage`, its `n_neighbours` nearest channels on that standard montage."""

    inputs = {"in": Port(SAMPLES)}
    outputs = {"out": Port(SAMPLES)}

    class Params(Params):
        method: Literal["average", "bipolar", "laplacian"] = Field("average", description="reference")
        types: list[str] = Field(["eeg", "seeg", "ecog"], description="channels re-referenced (average)")
        bads: list[str] = Field([], description="channels left out of the average")
        pairs: list[tuple[str, str]] | None = Field(None, description="bipolar [anode, cathode] pairs; "
                                                    "default: neighbouring contacts of each shaft")
        shaft_types: list[str] = Field(["seeg", "ecog"], description="bipolar: channel types found on shafts")
        neighbours: dict[str, list[str]] = Field({}, description="laplacian: channel -> its neighbours")
        montage: str | None = Field(None, description="laplacian: standard montage giving the neighbours "
                                    "(e.g. colin27_1005)")
        n_neighbours: int = Field(4, ge=1, description="laplacian: neighbours taken from the montage")

        @model_validator(mode="after")
        def _laplacian(self) -> "Reref.Params":
            if self.method != "laplacian":
                return self
            if not self.neighbours and not self.montage:
                raise ValueError("method laplacian needs neighbours or a montage")
            if self.montage and not self.neighbours:
                import mne

                known = mne.channels.get_builtin_montages()
                if self.montage not in known:
                    raise ValueError(f"montage {self.montage!r} is not a standard MNE montage; one of "
                                     f"{', '.join(known)}")
            return self

    key: tuple | None = None  # the channel layout the plan was made for

    def start(self) -> None:
        self.key = None

    def warm_up(self) -> None:
        x = np.zeros((2, 3), np.float32)
        average_kernel(x, np.arange(2), np.arange(2))
        combine_kernel(x, np.zeros(1, np.int64), np.zeros(1, np.int64), np.ones(1), 1)

    def _plan(self, m: dict) -> tuple:
        """The plan for this channel layout, made once rather than per chunk; Rejected
        when the layout does not fit the parameters (nothing is kept then)."""
        try:
            return plan_reref(m, self.params)
        except ValueError as exc:
            raise Rejected(f"signal.reref: {exc}") from None

    def receive(self, port: str, msg: Message) -> Message:
        require_samples(msg, "signal.reref")
        m = msg.meta
        key = (tuple(m["ch_names"]), tuple(channel_list(m, "ch_types", "")))
        if key != self.key:
            self.plan = self._plan(m)
            self.key = key
        y, out_meta = apply_reref(msg.data, self.plan, self.params.method)
        return msg.with_data(y, **out_meta)
