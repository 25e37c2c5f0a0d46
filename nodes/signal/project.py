"""`signal.project`: spatial filters (CSP, ICA unmixing, any linear map over channels)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import Field, model_validator

from streamer.node import Params, Port, Rejected, Transform
from streamer.paths import InputPath
from streamer.streams import SAMPLES, Message

from .checks import as_signal, require_samples


def _text(names) -> list[str]:
    return [n.decode() if isinstance(n, bytes) else str(n) for n in names]


def load_filters(path: str | Path) -> tuple[np.ndarray, list[str], list[str]]:
    """(matrix (outputs, channels), input channel names, output names) from a NIR model's
    metadata (`spatial_filters`, written by tools.train) or an .npz with the same keys."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"signal.project: filters file {path} not found")
    if path.suffix == ".nir":
        import nir

        spec = nir.read(path).metadata.get("spatial_filters")
        if spec is None:
            raise ValueError(f"{path}: the model's metadata has no spatial_filters; it was trained "
                             "without a spatial front end (give the filters another way)")
    elif path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            spec = {k: z[k] for k in z.files}
    else:
        raise ValueError(f"{path}: spatial filters come from a .nir model or an .npz file "
                         "(matrix, channels, names)")
    missing = [k for k in ("matrix", "channels") if k not in spec]
    if missing:
        raise ValueError(f"{path}: spatial filters lack {missing}")
    matrix = np.asarray(spec["matrix"], np.float64)
    channels = _text(spec["channels"])
    names = _text(spec["names"]) if "names" in spec else [f"f{i + 1}" for i in range(len(matrix))]
    if matrix.ndim != 2 or matrix.shape[1] != len(channels) or matrix.shape[0] != len(names):
        raise ValueError(f"{path}: matrix {matrix.shape} does not fit {len(channels)} channels "
                         f"and {len(names)} outputs")
    return matrix, channels, names


def _key(name: str) -> str:
    # EDF pads labels with dots ("C3.."): compare names without them and without case.
    return name.strip(". ").lower()


def match_channels(wanted: list[str], have: list[str]) -> list[int]:
    """Index in `have` of each name in `wanted`: exact names first, then ignoring case and
    EDF padding dots; a ValueError lists the missing ones."""
    exact = {n: i for i, n in enumerate(have)}
    loose = {_key(n): i for i, n in enumerate(have)}
    idx, missing = [], []
    for n in wanted:
        i = exact.get(n, loose.get(_key(n)))
        if i is None:
            missing.append(n)
        else:
            idx.append(i)
    if missing:
        raise ValueError(f"channels {missing} of the spatial filters are not in the stream; "
                         f"it has {', '.join(have)}")
    return idx


def project(x: np.ndarray, *, ch_names: list[str] | None = None, filters: str | Path | None = None,
            matrix: np.ndarray | list[list[float]] | None = None, channels: list[str] | None = None) -> np.ndarray:
    """Linear spatial filters (what `signal.project` does): each output channel is a
    weighted sum of input channels, `matrix @ x[channels]`, in float64.

    Parameters
    ----------
    x : ndarray, (channels, samples)
        The signal.
    ch_names : list of str or None
        Name of each row of x; the filters' channels are found by name (exact, else ignoring
        case and EDF's padding dots). Without them, the rows of x are the matrix's columns.
    filters : path or None
        A .nir model whose metadata has `spatial_filters` (tools.train writes them for CSP),
        or an .npz with `matrix` and `channels`; or give `matrix` and `channels`.
    matrix : array (outputs, channels) or None
        Inline filters.
    channels : list of str or None
        Input channel of each matrix column.

    Returns
    -------
    ndarray, float32, (outputs, samples)
        The projected signal (a new array).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 2.0], [3.0, 5.0], [9.0, 9.0]])
    >>> project(x, ch_names=["C3", "Cz", "C4"], matrix=[[1.0, -1.0]], channels=["C4", "C3"]).tolist()
    [[8.0, 7.0]]
    """
    if (filters is None) == (matrix is None):
        raise ValueError("project: give either filters (a file) or matrix (inline), not both")
    if filters is not None:
        m, channels, _ = load_filters(filters)
    else:
        m = np.asarray(matrix, np.float64)
    x = as_signal(x, "project")
    if ch_names is not None and channels is not None:
        x = x[match_channels(list(channels), list(ch_names))]
    if m.ndim != 2 or m.shape[1] != x.shape[0]:
        raise ValueError(f"project: a matrix of shape {m.shape} does not apply to {x.shape[0]} channels")
    return (m @ x.astype(np.float64)).astype(np.float32)


class Project(Transform):
    """Linear spatial filters: each output channel is a weighted sum of input channels,
    `out = matrix @ in[channels]`, chunk by chunk (memoryless, so any chunking gives the
    same output). The filters come from a model file (`filters:` a .nir whose metadata has
    `spatial_filters`, as tools.train writes for CSP, or an .npz with matrix, channels and
    names) or inline (`matrix` with `channels`). Input channels are found by name, so the
    stream may hold more channels or another order. Outputs are `misc` channels."""

    inputs = {"in": Port(SAMPLES)}
    outputs = {"out": Port(SAMPLES, "one channel per filter")}

    class Params(Params):
        filters: InputPath | None = Field(None, description="a .nir model with spatial_filters metadata, or an .npz")
        matrix: list[list[float]] | None = Field(None, description="inline filters, (outputs, channels)")
        channels: list[str] | None = Field(None, description="input channel of each matrix column")
        names: list[str] | None = Field(None, description="output channel names (default f1, f2, ...)")

        @model_validator(mode="after")
        def _check(self) -> "Project.Params":
            if (self.filters is None) == (self.matrix is None):
                raise ValueError("give either filters (a file) or matrix (inline), not both")
            if self.matrix is not None:
                widths = {len(row) for row in self.matrix}
                if not self.channels or widths != {len(self.channels)}:
                    raise ValueError(f"matrix rows must have one weight per name in channels "
                                     f"({len(self.channels or [])}), got row lengths {sorted(widths)}")
                if self.names is not None and len(self.names) != len(self.matrix):
                    raise ValueError(f"{len(self.names)} names for {len(self.matrix)} filters (matrix rows); "
                                     "give one name per filter")
            return self

    @classmethod
    def check(cls, params: "Project.Params") -> list[tuple[str, str]]:
        """The filters file holds filters, one per name given."""
        if params.filters is None:
            return []
        try:
            matrix, _, _ = load_filters(params.filters)
        except (OSError, ValueError) as exc:
            return [("filters", str(exc))]
        if params.names is not None and len(params.names) != len(matrix):
            return [("names", f"{len(params.names)} names for the {len(matrix)} filters of {params.filters}; "
                              "give one name per filter")]
        return []

    def start(self) -> None:
        p = self.params
        if p.filters is not None:
            self.matrix, self.channels, names = load_filters(p.filters)
        else:
            self.matrix, self.channels = np.asarray(p.matrix, np.float64), list(p.channels or [])
            names = [f"f{i + 1}" for i in range(len(self.matrix))]
        if p.names is not None:
            if len(p.names) != len(self.matrix):
                raise ValueError(f"{len(p.names)} names for {len(self.matrix)} filters")
            names = list(p.names)
        self.out_names = names
        self.layout: tuple | None = None

    def receive(self, port: str, msg: Message) -> Message:
        require_samples(msg, "signal.project")
        names = msg.meta["ch_names"]
        if tuple(names) != self.layout:
            try:
                self.idx = match_channels(self.channels, list(names))
            except ValueError as exc:
                raise Rejected(f"signal.project: {exc}") from None
            units = {(msg.meta.get("units") or [None] * len(names))[i] for i in self.idx}
            unit = units.pop() if len(units) == 1 else None
            self.unit = unit if isinstance(unit, str) else "a.u."
            self.layout = tuple(names)
        x = msg.data[self.idx]
        if not np.all(np.isfinite(x)):
            self.count("nan_samples", int((~np.isfinite(x)).sum()))
        out = project(x, matrix=self.matrix)
        n = len(out)
        return msg.with_data(out, ch_names=list(self.out_names), ch_types=["misc"] * n, units=[self.unit] * n)
