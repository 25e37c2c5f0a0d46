"""bci.csp_lda and bci.seizure driven directly: calibration on the stream, decisions,
counts against the labels, and bad input named."""
import numpy as np
import pytest

from nodes.bci.csp import class_covariance, csp_fit, log_variance
from nodes.bci.csp_lda import CspLda
from nodes.bci.seizure_detector import SeizureDetector
from streamer import streams
from streamer.node import Rejected
from streamer.testing import feed, run

SFREQ = 160.0


def epoch(x, label):
    return streams.frames(x[None].astype(np.float32), bin_us=1e6 / SFREQ, label=label, first_sample=0)


def two_class_epochs(n, seed=0, n_ch=8, n_s=320):
    """Class T1: a source of large variance behind pattern a, T2 behind pattern b."""
    rng = np.random.default_rng(seed)
    pattern = {"T1": rng.normal(size=n_ch), "T2": rng.normal(size=n_ch)}
    labels = rng.choice(["T1", "T2"], size=n)
    out = []
    for lab in labels:
        x = rng.normal(size=(n_ch, n_s)) + 3.0 * np.outer(pattern[lab], rng.normal(size=n_s))
        out.append((x, str(lab)))
    return out


def test_csp_filters_maximise_the_variance_ratio():
    data = two_class_epochs(60)
    x = np.stack([e for e, _ in data])
    y = np.array([lab == "T2" for _, lab in data], int)
    filters = csp_fit(x, y, n_pairs=2, shrinkage=0.0)
    c0, c1 = class_covariance(x[y == 0], 0.0), class_covariance(x[y == 1], 0.0)

    def ratio(w):
        return (w @ c0 @ w) / (w @ (c0 + c1) @ w)
    random = np.random.default_rng(1).normal(size=(2000, x.shape[1]))
    ratios = [ratio(w) for w in random]
    assert ratio(filters[0]) >= max(ratios) - 1e-9 and ratio(filters[-1]) <= min(ratios) + 1e-9
    assert ratio(filters[0]) > ratio(filters[1]) and ratio(filters[-1]) < ratio(filters[-2])
    feats = log_variance(filters, x)
    # the first filter's output carries more of the variance in class 0 than in class 1
    assert feats[y == 0, 0].mean() > feats[y == 1, 0].mean() + 1.0


def test_csp_lda_calibrates_on_the_first_labelled_epochs_then_decides_each_one():
    data = two_class_epochs(50, seed=2)
    msgs = [epoch(np.ones((8, 320)), "T0")] + [epoch(x, lab) for x, lab in data] + [epoch(data[0][0], None)]
    node = CspLda(classes=["T1", "T2"], names=["left", "right"], n_calibration=20)
    out = run(node, msgs)["out"]
    assert node.counters["ignored"] == 1 and node.counters["calibration"] == 20
    assert len(out) == 31 and node.counters["decisions"] == 31
    for d, (_, lab) in zip(out, data[20:]):
        item = d.data
        assert item["truth"] == lab and item["label"] == ("left", "right")[item["index"]]
        assert item["correct"] == (("T1", "T2")[item["index"]] == lab)
        assert sum(item["probabilities"]) == pytest.approx(1.0)
        assert item["confidence"] == max(item["probabilities"]) and (item["score"] > 0) == bool(item["index"])
    assert out[-1].data["truth"] is None and out[-1].data["correct"] is None
    assert node.counters["right"] + node.counters["wrong"] == 30
    assert node.counters["right"] >= 27


def test_csp_lda_waits_for_both_classes_and_names_bad_input():
    data = [(x, "T1") for x, _ in two_class_epochs(6)] + two_class_epochs(10, seed=3)
    node = CspLda(classes=["T1", "T2"], n_calibration=4)
    run(node, [epoch(x, lab) for x, lab in data])
    assert node.filters is not None
    second_t2 = [i for i, (_, lab) in enumerate(data) if lab == "T2"][1]
    assert node.counters["calibration"] == second_t2 + 1 > 4
    with pytest.raises(ValueError, match="classes must name two different labels"):
        CspLda(classes=["T1"])
    node = CspLda(classes=["T1", "T2"])
    node.start()
    bad = streams.samples(np.zeros((2, 10)), sfreq=SFREQ, ch_names=["a", "b"])
    with pytest.raises(ValueError, match=r"expects epochs as Frames \(1, channels, samples\)"):
        node.receive("in", bad)


def noise_window(rng, scale=1.0):
    return rng.normal(scale=scale, size=(4, 400))


def window_at(x, label, second):
    """A 1 s window at 400 Hz starting `second` seconds into the recording."""
    return streams.frames(x[None].astype(np.float32), bin_us=1e6 / 400, label=label, first_sample=400 * second)


def test_seizure_detector_fills_its_baseline_with_normal_windows_and_flags_rhythmic_bursts():
    rng = np.random.default_rng(5)
    t = np.arange(400) / 400.0
    burst = lambda: noise_window(rng) + 8.0 * np.sin(2 * np.pi * 12 * t)  # noqa: E731 - a spike-wave-like rhythm
    msgs = [epoch(noise_window(rng), "ictal")]  # not used to calibrate
    msgs += [epoch(noise_window(rng), "interictal") for _ in range(40)]
    msgs += [epoch(burst(), "ictal") for _ in range(10)] + [epoch(noise_window(rng), "interictal") for _ in range(20)]
    node = SeizureDetector(baseline_windows=40, calibration_labels=["interictal"], quantile=1.0)
    out = run(node, [m.with_data(m.data, bin_us=1e6 / 400) for m in msgs])
    c = node.counters
    assert c["skipped"] == 1 and c["calibration"] == 40 and len(out["out"]) == 30 == c["decisions"]
    assert c["detected"] == 10 and c["missed"] == 0 and c["false_alarms"] <= 2
    assert [d.data["label"] for d in out["out"][:10]] == ["seizure"] * 10
    for d in out["out"]:
        assert (d.data["score"] > d.data["threshold"]) == (d.data["index"] == 1)
        assert d.data["probabilities"][1] > 0.5 if d.data["index"] else d.data["probabilities"][1] <= 0.5
    # every window starts at sample 0: one alarm, the others fall in its refractory period
    assert c["alarms"] == 1 and [d.data["window"] for d in out["alarm"]] == [1] and out["alarm"][0].data["alarm"]


def test_seizure_detector_follows_slow_drift_and_spaces_its_alarms():
    rng = np.random.default_rng(7)
    t = np.arange(400) / 400.0
    node = SeizureDetector(baseline_windows=20, threshold=0.25, refractory_s=5)
    msgs = [window_at(noise_window(rng), "interictal", s) for s in range(20)]
    # the signal grows threefold over 110 s: a fixed baseline would flag the end of it
    gain = np.exp(np.linspace(0, np.log(3), 110))
    msgs += [window_at(noise_window(rng, g), "interictal", 20 + k) for k, g in enumerate(gain)]
    # then a 12 s seizure at the new level
    msgs += [window_at(3 * (noise_window(rng) + 8.0 * np.sin(2 * np.pi * 12 * t)), "ictal", 130 + k) for k in range(12)]
    out = run(node, msgs)
    c = node.counters
    assert (c["false_alarms"], c["true_normal"]) == (0, 110)
    assert (c["detected"], c["missed"]) == (12, 0)
    # alarms at the seizure's first window, then 5 s and 10 s into it
    assert [d.data["first_sample"] // 400 for d in out["alarm"]] == [130, 135, 140]
    assert all(d.data["alarm"] == (d in out["alarm"]) for d in out["out"])


def test_seizure_detector_takes_a_lasting_change_of_level_as_the_new_baseline():
    # A gain doubled for good (a new amplifier setting): flagged, but no longer than a
    # seizure could last; then the baseline restarts from the new level.
    rng = np.random.default_rng(8)
    node = SeizureDetector(baseline_windows=10, threshold=0.25, refractory_s=10, max_seizure_s=20)
    msgs = [window_at(noise_window(rng), "interictal", s) for s in range(10)]
    msgs += [window_at(noise_window(rng, 4.0), "interictal", 10 + k) for k in range(60)]
    out = run(node, msgs)
    flagged = [d.data["index"] for d in out["out"]]
    assert flagged[:21] == [1] * 21 and sum(flagged[21:]) == 0
    assert node.counters["alarms"] == 3


def test_seizure_detector_names_bands_above_nyquist():
    node = SeizureDetector(baseline_windows=2)
    node.start()
    msg = streams.frames(np.zeros((1, 2, 100), np.float32), bin_us=1e6 / 200)
    with pytest.raises(ValueError, match="band up to 180.0 Hz above the Nyquist frequency 100.0 Hz"):
        node.receive("in", msg)
    with pytest.raises(ValueError, match=r"band 'x': \[5.0, 1.0\] Hz is not an interval"):
        SeizureDetector(bands={"x": [5, 1]})


def test_seizure_detector_refuses_a_flat_channel_rather_than_calibrating_on_it():
    # log line length of a flat channel is -inf: calibrated on, it made every later score NaN
    rng = np.random.default_rng(6)
    node = SeizureDetector(baseline_windows=2)
    node.start()
    flat = noise_window(rng)
    flat[1] = 0.0
    with pytest.raises(Rejected, match=r"channels \[1\] of the window are flat"):
        node.receive("in", streams.frames(flat[None].astype(np.float32), bin_us=1e6 / 400))
    for _ in range(2):
        node.receive("in", streams.frames(noise_window(rng)[None].astype(np.float32), bin_us=1e6 / 400))
    d = node.receive("in", streams.frames(noise_window(rng)[None].astype(np.float32), bin_us=1e6 / 400))["out"]
    assert np.isfinite(d.data["score"]) and node.counters["calibration"] == 2


def test_csp_lda_calibration_that_cannot_train_starts_again():
    data = two_class_epochs(8, seed=3, n_ch=4, n_s=64)
    node = CspLda(classes=["T1", "T2"], n_calibration=4, n_pairs=1, cov_shrinkage=0.0)
    node.start()
    same = np.ones((4, 64)) * np.arange(64)  # every channel alike: no covariance to invert
    labels = ["T1", "T2", "T1", "T2"]
    with pytest.raises(Rejected, match="calibration starts again"):
        for lab in labels:
            node.receive("in", epoch(same, lab))
    assert node.filters is None and node.train_x == []
    with pytest.raises(Rejected, match="epoch of 3 channels x 64 samples"):
        feed(node, [epoch(data[0][0], data[0][1]), epoch(data[1][0][:3], data[1][1])], finish=False)
