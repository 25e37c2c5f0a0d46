"""signal.reref and signal.pick on real scalp EEG and human ECoG, any chunking, against MNE."""
import mne
import numpy as np
import pytest
import scipy.spatial
from hypothesis import HealthCheck, given, settings, strategies as st

from nodes.signal.channels import Pick, Reref, shaft_pairs
from streamer import streams
from streamer.testing import run
from tests.conftest import need

LAY = "sub-pt1_ses-02_task-monitor_acq-ecog_run-01_clip2.lay"


def chunked(x, sfreq, names, types, sizes):
    out, i, k = [], 0, 0
    while i < x.shape[1]:
        n = sizes[k % len(sizes)]
        out.append(streams.samples(x[:, i:i + n], sfreq=sfreq, ch_names=names, ch_types=types, first_sample=i))
        i, k = i + n, k + 1
    return out


@pytest.fixture(scope="module")
def ecog(shared_data):
    raw = mne.io.read_raw_persyst(need(shared_data / "ieeg" / LAY), verbose="error").load_data()
    # The file calls every channel eeg; the POL X and DC contacts are the implanted strips.
    types = {n: "ecog" for n in raw.ch_names if n.startswith(("POL X", "POL DC"))}
    raw.set_channel_types(types, verbose="error")
    return raw


@pytest.fixture(scope="module")
def edf(shared_data):
    return mne.io.read_raw_edf(need(shared_data / "eeg" / "S001R04.edf"), preload=True, verbose="error")


chunk_sizes = st.lists(st.integers(1, 300), min_size=1, max_size=8)
slow_ok = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@slow_ok
@given(sizes=chunk_sizes)
def test_bipolar_along_ecog_strips_equals_mne(ecog, sizes):
    names, types = ecog.ch_names, ecog.get_channel_types()
    pairs = shaft_pairs(names, types)
    # Only the strips: scalp neighbours (C3/C4) and EKG1/EKG2 are not contacts of one shaft.
    assert ("POL X1", "POL X2") in pairs and ("POL DC15", "POL DC16") in pairs
    assert all(a.startswith(("POL X", "POL DC")) for a, _ in pairs) and len(pairs) == 30 + 15
    x = ecog.get_data().astype(np.float32)
    out = run(Reref(method="bipolar"), chunked(x, 200.0, names, types, sizes))["out"]
    raw = mne.io.RawArray(x.astype(np.float64), ecog.info, verbose="error")
    bip = mne.set_bipolar_reference(raw, [a for a, _ in pairs], [b for _, b in pairs], verbose="error")
    want = bip.get_data(picks=[f"{a}-{b}" for a, b in pairs])
    np.testing.assert_allclose(np.concatenate([m.data for m in out], axis=1), want, rtol=1e-6, atol=1e-12)
    assert out[0].meta["ch_types"] == ["ecog"] * len(pairs)


@slow_ok
@given(sizes=chunk_sizes)
def test_average_of_the_ecog_strips_equals_mne(ecog, sizes):
    x = ecog.get_data().astype(np.float32)
    out = run(Reref(method="average", types=["ecog"]),
              chunked(x, 200.0, ecog.ch_names, ecog.get_channel_types(), sizes))["out"]
    raw = mne.io.RawArray(x.astype(np.float64), ecog.info, verbose="error")
    raw.set_eeg_reference("average", ch_type="ecog", verbose="error")
    np.testing.assert_allclose(np.concatenate([m.data for m in out], axis=1), raw.get_data(), rtol=1e-5,
                               atol=1e-6 * np.abs(x).max())


def test_laplacian_from_the_montage_equals_nearest_neighbours(edf):
    x = edf.get_data()[:, :2000].astype(np.float32)
    names = edf.ch_names
    pos = mne.channels.make_standard_montage("colin27_1005").get_positions()["ch_pos"]
    lower = {k.lower(): v for k, v in pos.items()}
    xyz = np.array([lower[n.strip(".").lower()] for n in names])
    _, nn = scipy.spatial.cKDTree(xyz).query(xyz, k=5)
    want = x.astype(np.float64) - x[nn[:, 1:]].astype(np.float64).mean(axis=1)
    out = run(Reref(method="laplacian", montage="colin27_1005", n_neighbours=4),
              chunked(x, 160.0, names, None, [7, 160, 33]))["out"]
    np.testing.assert_allclose(np.concatenate([m.data for m in out], axis=1), want, rtol=1e-5, atol=1e-9)


def test_missing_channels_and_wrong_streams_are_named(edf):
    msg = streams.samples(np.zeros((3, 5)), sfreq=160.0, ch_names=["C3", "C4", "Cz"])
    with pytest.raises(ValueError, match=r"not in the stream: \['Pz'\]; it has C3, C4, Cz"):
        run(Reref(method="bipolar", pairs=[("C3", "Pz")]), [msg])
    with pytest.raises(ValueError, match="none found along shafts"):
        run(Reref(method="bipolar"), [msg])
    with pytest.raises(ValueError, match=r"channels \['Fz'\] not in the stream; it has C3, C4, Cz"):
        run(Pick(names=["Fz"]), [msg])
    with pytest.raises(ValueError, match="signal.reref takes a Samples stream.*got Marker"):
        run(Reref(), [streams.marker("T1")])
    with pytest.raises(ValueError, match="no channel of types"):
        run(Reref(types=["seeg"]), [msg])
