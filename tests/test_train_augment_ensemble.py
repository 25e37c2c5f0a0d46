"""tools.train's augmentation (event frames moved in space and time, thinned) and the seed
ensemble merged into one network (hidden layers side by side, output drives averaged)."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tools.train.augment import Augment, augment_batch  # noqa: E402
from tools.train.ensemble import merge  # noqa: E402
from tools.train.fit import seed_everything  # noqa: E402
from tools.train.model import SNN, conv_arch, dense_arch  # noqa: E402


def _frames(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.zeros((6, 20, 2, 16, 16), np.float32)
    x[:, 5:15, :, 4:12, 4:12] = rng.poisson(2.0, (6, 10, 2, 8, 8))  # events away from the edges
    return x


def test_shifts_keep_every_event_and_move_it_within_bounds():
    x = _frames()
    out = augment_batch(x, Augment(jitter_px=2, time_jitter=3), np.random.default_rng(1))
    assert out.shape == x.shape and out.dtype == x.dtype
    assert np.array_equal(out.sum(axis=(1, 2, 3, 4)), x.sum(axis=(1, 2, 3, 4)))  # nothing fell off
    for a, b in zip(x, out):
        # the event pattern is the same, moved: some shift within the bounds gives it back
        found = any(np.array_equal(np.roll(a, (dt, dy, dx), axis=(0, 2, 3)), b)
                    for dt in range(-3, 4) for dy in range(-2, 3) for dx in range(-2, 3))
        assert found
    assert not all(np.array_equal(a, b) for a, b in zip(x, out))  # something moved


def test_shift_fills_with_zeros_and_does_not_wrap_round():
    x = np.zeros((1, 4, 2, 8, 8), np.float32)
    x[0, :, :, :, 7] = 1.0  # the last column
    for seed in range(20):
        out = augment_batch(x, Augment(jitter_px=3), np.random.default_rng(seed))
        assert out[0, :, :, :, :4].sum() == 0  # nothing came round to the left edge


def test_event_drop_thins_counts_by_its_probability():
    x = _frames()
    out = augment_batch(x, Augment(drop=0.25), np.random.default_rng(2))
    assert np.all(out <= x) and np.all(out == np.round(out))
    assert out.sum() / x.sum() == pytest.approx(0.75, abs=0.03)
    assert Augment().active is False and Augment(drop=0.1).active


def _drive(model: SNN, x: torch.Tensor) -> torch.Tensor:
    """The output layer's input current for a batch of one step's spikes."""
    h = model.layers[0](x)
    h = (model.layers[1](h) > 1.0).float()  # the hidden layer's first-step spikes (v starts at 0)
    return model.layers[2](h)


@pytest.mark.parametrize("bias", [False, True])
def test_merged_ensemble_is_the_members_side_by_side_with_drives_averaged(bias):
    members = []
    for k in range(3):
        seed_everything(k)
        members.append(SNN((8,), dense_arch(2, 5), bias=bias))
    merged = merge(members)
    assert merged.shapes == [(8,), (15,), (2,)]
    x = torch.from_numpy(np.random.default_rng(0).poisson(1.5, (10, 8)).astype(np.float32))
    want = torch.stack([_drive(m, x) for m in members]).mean(0)
    torch.testing.assert_close(_drive(merged, x), want, rtol=1e-5, atol=1e-6)
    # one member merged is that member
    one = merge(members[:1])
    for a, b in zip(one.parameters(), members[0].parameters()):
        assert torch.equal(a, b)


def test_merge_refuses_what_it_cannot_merge():
    with pytest.raises(ValueError, match="at least one"):
        merge([])
    with pytest.raises(ValueError, match="dense networks"):
        merge([SNN((2, 8, 8), conv_arch(2, 4, 8))])
