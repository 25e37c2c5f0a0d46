"""signal.project on real scalp EEG: any chunking gives matrix @ channels, channels found by
name (EDF's padded labels too), filters from inline lists, .npz files and NIR metadata."""
import mne
import nir
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from nodes.signal.project import Project, load_filters
from streamer import streams
from streamer.testing import run
from tests.conftest import need
from tests.test_signal_reref import chunked


@pytest.fixture(scope="module")
def edf(shared_data):
    return mne.io.read_raw_edf(need(shared_data / "eeg" / "S001R04.edf"), preload=True, verbose="error")


WANTED = ["C4", "C3", "Cz", "FC3", "CP4"]  # the file has "Fc3.", "C3..": found without case and dots


def _weights(n_out: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n_out, len(WANTED)))


def _offline(edf, w):
    idx = [[n.strip(".").lower() for n in edf.ch_names].index(c.lower()) for c in WANTED]
    return (w @ edf.get_data()[idx].astype(np.float32).astype(np.float64)).astype(np.float32)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sizes=st.lists(st.integers(1, 400), min_size=1, max_size=6))
def test_chunked_projection_equals_offline(edf, sizes):
    w = _weights()
    x = edf.get_data().astype(np.float32)
    node = Project(matrix=w.tolist(), channels=WANTED, names=["a", "b", "c"])
    out = run(node, chunked(x, 160.0, edf.ch_names, ["eeg"] * len(x), sizes))["out"]
    np.testing.assert_array_equal(np.concatenate([m.data for m in out], axis=1), _offline(edf, w))
    assert out[0].meta["ch_names"] == ["a", "b", "c"] and out[0].meta["ch_types"] == ["misc"] * 3
    assert [m.meta["first_sample"] for m in out[:2]] == [0, sizes[0]][:len(out[:2])]


def test_filters_from_npz_and_nir_metadata(edf, tmp_path):
    w = _weights(2, seed=1)
    np.savez(tmp_path / "f.npz", matrix=w, channels=np.array(WANTED), names=np.array(["csp1", "csp2"]))
    graph = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([2])),
                                "output": nir.Output(output_type=np.array([2]))},
                         edges=[("input", "output")],
                         metadata={"spatial_filters": {"matrix": w, "channels": WANTED, "names": ["csp1", "csp2"]}})
    nir.write(tmp_path / "m.nir", graph)
    x = edf.get_data()[:, :500].astype(np.float32)
    msg = streams.samples(x, sfreq=160.0, ch_names=edf.ch_names, ch_types=["eeg"] * len(x), first_sample=0)
    for name in ("f.npz", "m.nir"):
        matrix, channels, names = load_filters(tmp_path / name)
        assert channels == WANTED and names == ["csp1", "csp2"]
        out = run(Project(filters=str(tmp_path / name)), [msg])["out"][0]
        np.testing.assert_allclose(out.data, _offline(edf, w)[:, :500], rtol=1e-6)
        assert out.meta["ch_names"] == ["csp1", "csp2"]


def test_bad_filters_and_missing_channels_say_what_is_wrong(edf, tmp_path):
    with pytest.raises(ValueError, match="either filters"):
        Project()
    with pytest.raises(ValueError, match="one weight per name"):
        Project(matrix=[[1.0, 2.0]], channels=["C3"])
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        Project(filters=str(tmp_path / "nope.npz")).start()
    (tmp_path / "f.txt").write_text("1 2 3")
    with pytest.raises(ValueError, match=r"\.nir model or an \.npz"):
        Project(filters=str(tmp_path / "f.txt")).start()
    x = edf.get_data()[:, :10].astype(np.float32)
    msg = streams.samples(x, sfreq=160.0, ch_names=edf.ch_names, ch_types=["eeg"] * len(x), first_sample=0)
    with pytest.raises(ValueError, match=r"\['Oz2'\].*not in the stream"):
        run(Project(matrix=[[1.0, 1.0]], channels=["C3", "Oz2"]), [msg])


def test_nan_samples_are_counted_not_hidden():
    x = np.ones((2, 8), np.float32)
    x[1, 3] = np.nan
    node = Project(matrix=[[1.0, 1.0]], channels=["A", "B"])
    out = run(node, [streams.samples(x, sfreq=100.0, ch_names=["A", "B"], ch_types=["eeg"] * 2, first_sample=0)])
    assert np.isnan(out["out"][0].data[0, 3]) and node.counters["nan_samples"] == 1
