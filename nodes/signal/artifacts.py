"""`signal.artifacts`: flags flat, clipped, too large and non-finite stretches of signal."""
from __future__ import annotations

import numpy as np
from numba import njit
from pydantic import Field

from streamer import streams
from streamer.node import Params, Port, Transform
from streamer.streams import MARKER, SAMPLES, Message

from .checks import as_signal, first_sample, require_samples, t_first_s

KINDS = ("nonfinite", "flat", "clipped", "amplitude")
NONFINITE, FLAT, CLIPPED, AMPLITUDE = range(4)


@njit(cache=True, nogil=True)
def _push(ev: np.ndarray, n: int, c: int, k: int, start: int, end: int) -> np.ndarray:
    if n == ev.shape[0]:
        grown = np.empty((2 * ev.shape[0], 4), np.int64)
        grown[:n] = ev[:n]
        ev = grown
    ev[n, 0], ev[n, 1], ev[n, 2], ev[n, 3] = c, k, start, end
    return ev


@njit(cache=True, nogil=True)
def artifact_kernel(x: np.ndarray, first: int, flat_n: int, flat_tol: float, clip_level: float,
                    clip_n: int, amplitude: float, prev: np.ndarray, run_flat: np.ndarray,
                    run_clip: np.ndarray, vmin: np.ndarray, vmax: np.ndarray, active: np.ndarray,
                    start: np.ndarray, flagged: np.ndarray, n_samples: np.ndarray):
    """One pass over x (channels, samples), stream samples first.. . Episodes of each kind
    (see KINDS) open and close per channel; the state arrays carry runs across chunks.
    Returns events (n, 4): channel, kind, start sample, end sample (-1: just opened).
    flagged (channels, kinds) is set where a channel was in an episode in this chunk;
    n_samples (kinds) counts flagged samples (a run's earlier samples when it qualifies)."""
    n_ch, n = x.shape
    ev = np.empty((16, 4), np.int64)
    n_ev = 0
    cond = np.zeros(4, np.bool_)
    for c in range(n_ch):
        for k in range(4):
            if active[c, k]:
                flagged[c, k] = True
        for i in range(n):
            s = first + i
            v = np.float64(x[c, i])
            cond[:] = False
            if not np.isfinite(v):
                cond[NONFINITE] = True
                run_flat[c] = 0
                run_clip[c] = 0
            else:
                if v > vmax[c]:
                    vmax[c] = v
                if v < vmin[c]:
                    vmin[c] = v
                same = run_flat[c] > 0 and abs(v - prev[c]) <= flat_tol
                run_flat[c] = run_flat[c] + 1 if same else 1
                if clip_level > 0:
                    rail = abs(v) >= clip_level
                    run_clip[c] = run_clip[c] + 1 if rail else 0
                else:
                    # Without a known range: the same value repeated at the extreme so far.
                    rail = (v == vmax[c] or v == vmin[c]) and vmax[c] > vmin[c]
                    if not rail:
                        run_clip[c] = 0
                    elif run_clip[c] > 0 and v == prev[c]:
                        run_clip[c] += 1
                    else:
                        run_clip[c] = 1
                prev[c] = v
                cond[FLAT] = flat_n > 0 and run_flat[c] >= flat_n
                cond[CLIPPED] = run_clip[c] >= clip_n
                cond[AMPLITUDE] = amplitude > 0 and abs(v) > amplitude
            for k in range(4):
                if cond[k] and not active[c, k]:
                    back = 0
                    if k == FLAT:
                        back = run_flat[c] - 1
                    elif k == CLIPPED:
                        back = run_clip[c] - 1
                    active[c, k] = True
                    start[c, k] = s - back
                    n_samples[k] += back
                    flagged[c, k] = True
                    ev = _push(ev, n_ev, c, k, s - back, -1)
                    n_ev += 1
                elif active[c, k] and not cond[k]:
                    active[c, k] = False
                    ev = _push(ev, n_ev, c, k, start[c, k], s)
                    n_ev += 1
                if cond[k]:
                    n_samples[k] += 1
    return ev[:n_ev]


class ArtifactState:
    """`artifacts` chunk by chunk for one signal of `n_channels` at `sfreq`: runs carry over
    from the chunks before (fresh at construction), so the rows of all calls equal one
    `artifacts` call. After each call, `flagged` (channels, kinds) says which channels
    were in an episode of each kind during the chunk, and `samples` (kinds) counts the
    samples flagged so far."""

    def __init__(self, *, sfreq: float, n_channels: int, flat_ms: float | None = 100.0, flat_tol: float = 0.0,
                 clip_level: float | None = None, clip_samples: int = 3, amplitude: float | None = None) -> None:
        p = self.params = Artifacts.Params(flat_ms=flat_ms, flat_tol=flat_tol, clip_level=clip_level,
                                           clip_samples=clip_samples, amplitude=amplitude)
        self.flat_n = 0 if p.flat_ms is None else max(2, round(p.flat_ms * 1e-3 * sfreq))
        self.n_ch = n_channels
        self.prev = np.zeros(n_channels)
        self.run_flat = np.zeros(n_channels, np.int64)
        self.run_clip = np.zeros(n_channels, np.int64)
        self.vmin = np.full(n_channels, np.inf)
        self.vmax = np.full(n_channels, -np.inf)
        self.active = np.zeros((n_channels, 4), np.bool_)
        self.first = np.zeros((n_channels, 4), np.int64)
        self.flagged = np.zeros((n_channels, 4), np.bool_)
        self.samples = np.zeros(4, np.int64)

    def __call__(self, x: np.ndarray, first_sample: int = 0) -> np.ndarray:
        """The rows (channel, kind, start, end) of the episodes that open or close in the
        chunk x, whose first sample is `first_sample` of the signal."""
        x = as_signal(x, "artifacts")
        if x.shape[0] != self.n_ch:
            raise ValueError(f"artifacts: {x.shape[0]} channels for a state made for {self.n_ch}")
        p = self.params
        self.flagged = np.zeros((self.n_ch, 4), np.bool_)
        return artifact_kernel(x, first_sample, self.flat_n, p.flat_tol, p.clip_level or 0.0, p.clip_samples,
                               p.amplitude or 0.0, self.prev, self.run_flat, self.run_clip, self.vmin, self.vmax,
                               self.active, self.first, self.flagged, self.samples)


def artifacts(x: np.ndarray, *, sfreq: float, flat_ms: float | None = 100.0, flat_tol: float = 0.0,
              clip_level: float | None = None, clip_samples: int = 3, amplitude: float | None = None) -> np.ndarray:
    """Artifact episodes of a whole signal (the markers `signal.artifacts` sends), of the
    kinds in KINDS (by index):

    0. "nonfinite": NaN or infinite samples;
    1. "flat": at least `flat_ms` of consecutive samples changing by at most `flat_tol`;
    2. "clipped": at least `clip_samples` consecutive samples at or beyond `clip_level`,
       or, without a level, repeated at the channel's extreme so far;
    3. "amplitude": |x| above `amplitude`.

    Parameters
    ----------
    x : ndarray, (channels, samples)
        The signal (its units for flat_tol, clip_level and amplitude).
    sfreq : float
        Sampling rate (Hz).
    flat_ms : float or None
        Shortest flat stretch (ms); None: off.
    flat_tol : float
        Largest step between samples still flat.
    clip_level : float or None
        |x| at which the amplifier clips.
    clip_samples : int
        Consecutive clipped samples flagged.
    amplitude : float or None
        |x| above this is flagged; None: off.

    Returns
    -------
    ndarray, int64, (rows, 4)
        One row per marker the node sends: channel, kind, start sample, end sample; end
        is -1 on the row of an episode's start (an `artifact` marker) and the sample after
        its last on the row of its end (`artifact_end`). Episodes still open at the end of
        x have no end row. Rows come channel by channel (a node sends them so chunk by
        chunk).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.ones((1, 10)); x[0, 3:5] = 200.0
    >>> artifacts(x, sfreq=100.0, flat_ms=None, clip_level=1000.0, amplitude=100.0).tolist()
    [[0, 3, 3, -1], [0, 3, 3, 5]]
    """
    x = as_signal(x, "artifacts")
    return ArtifactState(sfreq=sfreq, n_channels=x.shape[0], flat_ms=flat_ms, flat_tol=flat_tol,
                         clip_level=clip_level, clip_samples=clip_samples, amplitude=amplitude)(x)


class Artifacts(Transform):
    """Flags artifacts without touching the data: the signal leaves unchanged on `out`,
    with meta `artifacts` {kind: [channels flagged in this chunk]}, and each artifact's
    start and end leave as Markers on `markers` (label `artifact` / `artifact_end`, value
    the kind, with `channel`, `sample` and `start_sample`). Kinds:

    - `nonfinite`: NaN or infinite samples;
    - `flat`: at least `flat_ms` of consecutive samples changing by at most `flat_tol`;
    - `clipped`: at least `clip_samples` consecutive samples at or beyond `clip_level`
      (the amplifier's range), or, without a level, repeated at the channel's extreme so far;
    - `amplitude`: |x| above `amplitude` (signal units).
    Flagged samples are counted per kind (`<kind>_samples`). The same markers come out
    whatever the chunking: runs are carried across chunks."""

    inputs = {"in": Port(SAMPLES)}
    outputs = {"out": Port(SAMPLES), "markers": Port(MARKER)}

    class Params(Params):
        flat_ms: float | None = Field(100.0, gt=0, description="shortest flat stretch (None: off)")
        flat_tol: float = Field(0.0, ge=0, description="largest step between samples still flat")
        clip_level: float | None = Field(None, gt=0, description="|x| at which the amplifier clips")
        clip_samples: int = Field(3, ge=1, description="consecutive clipped samples flagged")
        amplitude: float | None = Field(None, gt=0, description="|x| above this is flagged (None: off)")

    def start(self) -> None:
        self.key = None
        self.state: ArtifactState | None = None

    def warm_up(self) -> None:
        ArtifactState(sfreq=100.0, n_channels=1, flat_ms=20.0)(np.zeros((1, 4), np.float32))

    def receive(self, port: str, msg: Message) -> dict:
        sfreq = require_samples(msg, "signal.artifacts")
        names = msg.meta["ch_names"]
        first = first_sample(msg, "signal.artifacts", sfreq)
        t_dev = t_first_s(msg, "signal.artifacts")
        if self.key != (sfreq, tuple(names)):
            if self.key is not None:
                self.count("restarted")
            self.state = ArtifactState(sfreq=sfreq, n_channels=len(names), **self.params.model_dump())
            self.key = (sfreq, tuple(names))
        before = self.state.samples.copy()
        ev = self.state(msg.data, first)
        flagged = self.state.flagged
        for k, n in enumerate(self.state.samples - before):
            if n:
                self.count(f"{KINDS[k]}_samples", int(n))
        # Device time of sample 0 of the stream, to time the markers.
        t0 = t_dev - first / sfreq
        markers = []
        for c, k, s0, s1 in ev:
            at = s0 if s1 < 0 else s1
            if s1 < 0:
                self.count(KINDS[k])
            markers.append(streams.marker("artifact" if s1 < 0 else "artifact_end", KINDS[k],
                                          time_s=t0 + at / sfreq, source="signal.artifacts", t_origin=msg.t_origin,
                                          channel=names[c], sample=int(at), start_sample=int(s0)))
        found = {KINDS[k]: [names[c] for c in np.flatnonzero(flagged[:, k])] for k in range(4) if flagged[:, k].any()}
        return {"out": msg.with_data(msg.data, artifacts=found), "markers": markers}
