"""tools.train on a folder of one's own labelled recordings (<label>/<file>), as the header
of graphs/dvs_live.yaml advises: files written in Prophesee's EVT 3.0 and read back by
dvs.file's reader, binned as the live graph bins the camera."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from drivers.dvs import synthetic  # noqa: E402
from drivers.dvs.writers import write_events  # noqa: E402
from tools.train.data import bin_events  # noqa: E402
from tools.train.recordings import load_recordings  # noqa: E402


def recordings(folder, n: int, seed: int = 0) -> list:
    trials = synthetic.generate_trials(n, seed=seed)
    for i, t in enumerate(trials):
        label = folder / synthetic.CLASSES[t.label]
        label.mkdir(exist_ok=True)
        write_events(label / f"take{i:03d}.raw", t.events, 32, 32)
    return trials


def test_recordings_are_binned_as_the_live_graph_bins_them(tmp_path):
    trials = recordings(tmp_path, 12)
    data = load_recordings(tmp_path, test_fraction=0.25)
    assert data.classes == sorted({synthetic.CLASSES[t.label] for t in trials})
    assert data.input_shape == (2, 32, 32) and data.x_train.shape[1] == 30 and data.dt_s == pytest.approx(0.01)
    frames = {bin_events(t.events, 30, 10_000, 32, 32, int(t.events["t"][0])).tobytes() for t in trials}
    got = {x.tobytes() for x in np.concatenate([data.x_train, data.x_test])}
    assert got == frames and len(data.y_train) + len(data.y_test) == 12


@pytest.mark.integration  # trains a network from recordings: tens of seconds
def test_train_command_takes_a_folder_of_recordings(tmp_path, capsys):
    from tools.train.__main__ import main

    folder = tmp_path / "mine"
    folder.mkdir()
    recordings(folder, 240, seed=3)
    out = tmp_path / "mine.nir"
    assert main(["--data", "recordings", "--data-dir", str(folder), "--out", str(out), "--epochs", "8",
                 "--lr", "5e-3", "--batch", "16", "--seed", "3"]) == 0
    acc = float(capsys.readouterr().out.strip().splitlines()[-1])
    assert out.is_file() and acc > 0.5  # four classes: chance is 0.25


def test_a_folder_without_label_sub_folders_says_what_it_expects(tmp_path):
    from tools.train.__main__ import main

    (tmp_path / "take1.raw").write_bytes(b"")
    assert main(["--data", "recordings", "--data-dir", str(tmp_path), "--out", str(tmp_path / "x.nir")]) == 2
