"""The training loop: seeded, deterministic, on CPU, loss on output spike counts."""
from __future__ import annotations

import random

import numpy as np
import torch
from torch import nn

from .augment import Augment, augment_batch
from .data import Dataset
from .model import SNN


def seed_everything(seed: int, threads: int = 1) -> None:
    """The same seed gives the same model, bit for bit, on the same machine."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(threads)


def _steps_first(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x)).transpose(0, 1)  # (T, B, ...)


@torch.no_grad()
def predict(model: SNN, x: np.ndarray, batch: int = 64) -> np.ndarray:
    """Output spike counts summed over steps, (N, classes)."""
    model.eval()
    out = [model(_steps_first(x[i:i + batch])).sum(0).numpy() for i in range(0, len(x), batch)]
    return np.concatenate(out) if out else np.zeros((0, model.n_classes), np.float32)


def accuracy(model: SNN, x: np.ndarray, y: np.ndarray) -> float:
    """Fraction classified right; ties in the counts go to the lowest class (argmax)."""
    return float(np.mean(predict(model, x).argmax(1) == y)) if len(y) else float("nan")


def loss_on(model: SNN, x: np.ndarray, y: np.ndarray, temperature: float = 1.0, batch: int = 64) -> float:
    """Mean cross-entropy of the output spike counts (the training loss) on a set."""
    if not len(y):
        return float("nan")
    counts = torch.from_numpy(predict(model, x, batch)) / temperature
    return float(nn.functional.cross_entropy(counts, torch.from_numpy(y)))


def train(model: SNN, data: Dataset, epochs: int, seed: int, lr: float = 2e-3, batch: int = 32,
          progress=None, weight_decay: float = 0.0, scale: float = 1.0,
          temperature: float = 1.0, loss_every: int = 0, augment: Augment | None = None,
          keep_best: bool = False, cosine: bool = False, loss_steps: tuple[int, ...] = ()) -> list[dict]:
    """Adam on cross-entropy of the output spike counts; returns per-epoch figures.

    `weight_decay` is AdamW's decoupled decay; `scale` > 1 multiplies each training sample
    by a factor drawn log-uniformly in [1/scale, scale] every time it is seen, so that a
    recording louder or quieter than the training ones is read alike. When the dataset has
    a validation set (`x_val`), its loss and accuracy are logged after every epoch.
    `temperature` divides the counts in the loss: above 1, a sample already right by a few
    spikes stops pulling the weights (a softer target against overfitting few trials).
    `loss_every` > 0 averages the loss over the counts accumulated after every
    `loss_every` steps, not only after the last: the network is trained to be right early,
    which is what an early-exit rule reads; `loss_steps` (e.g. 10, 20, 40, 80, 300) names
    the steps after which the counts enter the loss instead, weighting the first steps of a
    sample as much as an early exit needs. `augment` moves and thins each training sample
    afresh every time it is seen (tools.train.augment). With `keep_best` and a validation
    set, the model ends with the weights of the epoch `best_epoch` picks (early stopping
    without a second training run). With `cosine` the learning rate falls from `lr` to 0
    along half a cosine over all the batches: large steps while the augmented samples are
    new, small ones to settle at the end."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    n_batches = epochs * ((len(data.y_train) + batch - 1) // batch)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, n_batches) if cosine else None
    loss_fn = nn.CrossEntropyLoss()
    gen = np.random.default_rng(seed)
    history: list[dict] = []
    best_state: dict = {}
    n = len(data.y_train)
    task = progress.add_task("training", total=epochs * ((n + batch - 1) // batch)) if progress else None
    for epoch in range(epochs):
        model.train()
        order = gen.permutation(n)
        total, correct, loss_sum = 0, 0, 0.0
        for i in range(0, n, batch):
            idx = order[i:i + batch]
            xb = data.x_train[idx]
            if augment is not None and augment.active:
                xb = augment_batch(xb, augment, gen)
            if scale > 1.0:
                f = np.exp(gen.uniform(-np.log(scale), np.log(scale), len(idx))).astype(np.float32)
                xb = xb * f.reshape((-1,) + (1,) * (xb.ndim - 1))
            x = _steps_first(xb)
            y = torch.from_numpy(data.y_train[idx])
            out = model(x)
            counts = out.sum(0)
            if loss_steps or loss_every > 0:
                at = [k - 1 for k in loss_steps if k <= len(out)] if loss_steps else \
                    list(range(loss_every - 1, len(out), loss_every))
                cum = out.cumsum(0)[at]
                loss = torch.stack([loss_fn(c / temperature, y) for c in cum]).mean()
            else:
                loss = loss_fn(counts / temperature, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if schedule is not None:
                schedule.step()
            loss_sum += float(loss.detach()) * len(idx)
            correct += int((counts.argmax(1) == y).sum())
            total += len(idx)
            if progress:
                progress.update(task, advance=1,
                                description=f"epoch {epoch + 1}/{epochs} loss {loss_sum / total:.3f}")
        h = {"epoch": epoch + 1, "loss": loss_sum / total, "train_accuracy": correct / total}
        if data.x_val is not None:
            h.update(val_loss=loss_on(model, data.x_val, data.y_val, temperature),
                     val_accuracy=accuracy(model, data.x_val, data.y_val))
        # the held-out set may be the validation set itself (early stopping on it): run it once
        h["test_accuracy"] = (h["val_accuracy"] if data.x_test is data.x_val
                              else accuracy(model, data.x_test, data.y_test))
        history.append(h)
        if keep_best and data.x_val is not None and best_epoch(history) == epoch + 1:
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if progress:
            val = (f", validation {h['val_accuracy']:.1%} (loss {h['val_loss']:.3f})"
                   if "val_loss" in h else "")
            progress.console.print(f"epoch {h['epoch']}: loss {h['loss']:.3f}, train "
                                   f"{h['train_accuracy']:.1%}, held-out {h['test_accuracy']:.1%}{val}")
    if keep_best and data.x_val is not None:
        model.load_state_dict(best_state)
    return history


def best_epoch(history: list[dict]) -> int:
    """Early stopping: the epoch with the most validation samples right, the lowest
    validation loss among those (the earliest among equals). With a dozen validation
    trials the loss alone swings with one confident mistake; the count does not."""
    best = min(history, key=lambda h: (-h["val_accuracy"], h["val_loss"], h["epoch"]))
    return int(best["epoch"])
