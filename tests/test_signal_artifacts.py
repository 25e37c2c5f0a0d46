"""signal.artifacts: flags on real EEG with planted artifacts, against plain run finding."""
import mne
import numpy as np
import pytest

from nodes.signal.artifacts import Artifacts
from streamer import streams
from streamer.testing import run
from tests.conftest import need

SFREQ = 160.0


def runs(mask, min_len=1):
    """(start, end) of the runs of True at least min_len long, written plainly."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(int(a), int(b)) for a, b in zip(starts, ends) if b - a >= min_len]


def chunked(x, names, seed, t_first_s=0.0):
    rng = np.random.default_rng(seed)
    out, i = [], 0
    while i < x.shape[1]:
        n = int(rng.integers(1, 150))
        out.append(streams.samples(x[:, i:i + n], sfreq=SFREQ, ch_names=names, first_sample=i,
                                   t_first_s=t_first_s + i / SFREQ))
        i += n
    return out


@pytest.fixture(scope="module")
def planted(shared_data):
    raw = mne.io.read_raw_edf(need(shared_data / "eeg" / "S001R04.edf"), preload=True, verbose="error")
    x = raw.get_data()[:8, :6000].astype(np.float32)
    x[1, 1000:1100] = x[1, 999]                  # 100 samples flat (amplifier saturated/unplugged)
    x[3, 2000:2004] = np.nan                     # a dropped packet
    x[3, 4000] = np.inf
    x[5] = np.clip(x[5], -120e-6, 120e-6)        # clipped at the amplifier's range
    x[6, 3000:3010] += 800e-6                    # a movement spike
    return x, [n.strip(".") for n in raw.ch_names[:8]]


def expected(x, flat_n, clip_level, clip_n, amplitude):
    want = set()
    for c in range(x.shape[0]):
        v = x[c].astype(np.float64)
        fin = np.isfinite(v)
        for a, b in runs(~fin):
            want.add(("nonfinite", c, a, b))
        same = np.concatenate([[False], (np.diff(v) == 0) & fin[1:] & fin[:-1]])
        # a flat run includes the sample before its first repeat
        flat = same | np.concatenate([same[1:], [False]])
        for a, b in runs(flat, flat_n):
            want.add(("flat", c, a, b))
        for a, b in runs(fin & (np.abs(np.nan_to_num(v)) >= clip_level), clip_n):
            want.add(("clipped", c, a, b))
        for a, b in runs(fin & (np.abs(np.nan_to_num(v)) > amplitude)):
            want.add(("amplitude", c, a, b))
    return want


def test_flags_equal_plain_run_finding_whatever_the_chunking(planted):
    x, names = planted
    params = dict(flat_ms=250, clip_level=120e-6, clip_samples=3, amplitude=500e-6)
    want = expected(x, round(0.25 * SFREQ), 120e-6, 3, 500e-6)
    assert {k for k, *_ in want} == {"nonfinite", "flat", "clipped", "amplitude"}
    for seed in (0, 1, 2):
        node = Artifacts(**params)
        out = run(node, chunked(x, names, seed, t_first_s=10.0))
        starts = {(m.data["value"], names.index(m.data["channel"]), m.data["sample"])
                  for m in out["markers"] if m.data["label"] == "artifact"}
        ends = {(m.data["value"], names.index(m.data["channel"]), m.data["start_sample"], m.data["sample"])
                for m in out["markers"] if m.data["label"] == "artifact_end"}
        assert ends == want and starts == {(k, c, a) for k, c, a, _ in want}
        first = min((m for m in out["markers"] if m.data["value"] == "nonfinite"), key=lambda m: m.data["sample"])
        assert first.data["time_s"] == pytest.approx(10.0 + 2000 / SFREQ)
        # The data pass through untouched, NaNs included.
        got = np.concatenate([m.data for m in out["out"]], axis=1)
        np.testing.assert_array_equal(got, x)
        assert node.counters["nonfinite_samples"] == 5
        assert node.counters["flat_samples"] == 101
        flagged = [m.meta["artifacts"] for m in out["out"]]
        assert any("flat" in f and f["flat"] == [names[1]] for f in flagged)


def test_clipping_found_without_a_level():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 2000)).astype(np.float32)
    x[1, 1500:1510] = x[1].max() + 1.0   # stuck at a new extreme
    out = run(Artifacts(flat_ms=None, clip_samples=5), chunked(x, ["a", "b"], 3))
    got = [(m.data["channel"], m.data["start_sample"], m.data["sample"]) for m in out["markers"]
           if m.data["label"] == "artifact_end"]
    assert got == [("b", 1500, 1510)]


def test_wrong_stream_is_named():
    with pytest.raises(ValueError, match="signal.artifacts takes a Samples stream.*got Frames"):
        run(Artifacts(), [streams.frames(np.zeros((1, 2, 3)), bin_us=1000)])
