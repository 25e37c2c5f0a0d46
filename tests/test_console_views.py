"""The console's views reduce streams for the page: scope blocks, event frames, images,
rasters and items, as binary frames the page reads in place."""
from __future__ import annotations

import numpy as np

from streamer.console import protocol
from streamer.console.views import EventsView, ImageView, ItemsView, SamplesView, SpikesView, warm_up_kernels
from streamer.streams import as_events, command, decision, events, frames, samples, spikes


def parse(buf: bytes):
    kind, view, header, payload = protocol.parse(buf)
    return kind, view, header, np.frombuffer(payload, header["dtype"]).reshape(header["shape"]) if "dtype" in header else None


def test_scope_sends_min_max_per_block_and_marks_skipped_samples():
    warm_up_kernels()
    v = SamplesView(3, "eeg.out", "Samples")
    x = np.arange(2 * 25, dtype=np.float32).reshape(2, 25)
    x[1] *= -1
    v.take(samples(x, sfreq=1000.0, ch_names=["C3", "C4"], first_sample=0))  # k = 10 at 1 kHz
    kind, view, h, pairs = parse(v.frames()[0])
    assert (kind, view, h["ch_names"], h["points_per_s"]) == (protocol.SAMPLES, 3, ["C3", "C4"], 200.0)
    assert pairs[0].tolist() == [0, 9, 10, 19] and pairs[1].tolist() == [-34, -25, -44, -35]
    # the carried block (samples 20-24) completes with the next chunk; a jump is a gap
    v.take(samples(np.zeros((2, 5), np.float32), sfreq=1000.0, ch_names=["C3", "C4"], first_sample=25))
    v.take(samples(np.ones((2, 10), np.float32), sfreq=1000.0, ch_names=["C3", "C4"], first_sample=100))
    _, _, h, pairs = parse(v.frames()[0])
    assert pairs[0, :2].tolist() == [0, 24] and np.isnan(pairs[0, 2:4]).all() and pairs[0, 4:].tolist() == [1, 1]
    assert h["skipped_samples"] == 70
    assert v.frames() == [] and len(v.history()) == 1


def test_event_frame_colours_persist_then_clear():
    v = EventsView(0, "camera.out", "Events")
    ev = as_events([1, 2, 5000], [0, 3, 1], [1, 0, 1], [10, 20, 30])
    v.take(events(ev, width=4, height=4))
    _, _, h, img = parse(v.frames()[0])
    assert img.shape == (4, 4) and img[0, 1] == 1 and img[3, 2] == 2 and img.sum() == 3  # off-sensor skipped
    shown = [parse(f)[3].sum() for _ in range(5) for f in v.frames()]
    assert shown == [3, 3, 0]  # lit for a few frames, one dark frame, then nothing while idle


def test_image_sums_what_arrived_and_spikes_fold_large_layers():
    v = ImageView(1, "bins.out", "Frames")
    a = np.zeros((3, 2, 4, 5), np.float32)
    a[0, 0, 1, 2] = 2
    v.take(frames(a, bin_us=1000))
    v.take(frames(a, bin_us=1000))
    _, _, h, img = parse(v.frames()[0])
    assert img.shape == (4, 5) and img[1, 2] == 255 and h["max"] == 4.0
    s = SpikesView(2, "snn.out", "Spikes")
    s.take(spikes(np.eye(3, 3000, dtype=np.float32) * 2, layer="out"))
    _, _, h, raster = parse(s.frames()[0])
    assert raster.shape == (3, 1000) and raster[:, 0].tolist() == [1, 1, 1] and raster.sum() == 3


def test_decisions_carry_probabilities_and_trace_in_the_payload():
    v = ItemsView(4, "snn.decision", "Decision")
    v.take(decision(1, "square", [0.1, 0.9], 0.9, 3, trace=[0.5, 0.7, 0.9]))
    kind, _, h, payload = parse(v.frames()[0])
    assert kind == protocol.DECISION and h["label"] == "square" and h["n_probabilities"] == 2
    assert np.allclose(payload, [0.1, 0.9, 0.5, 0.7, 0.9])
    c = ItemsView(5, "gate.out", "Command")
    c.take(command("stop", safety="estop"))
    kind, _, h, _ = parse(c.frames()[0])
    assert kind == protocol.ITEMS and h["items"][0]["safety"] == "estop"
