"""The training loop: seeded, deterministic, on CPU, loss on output spike counts."""
from __future__ import annotations

import random

import numpy as np
import torch
from torch import nn

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


def train(model: SNN, data: Dataset, epochs: int, seed: int, lr: float = 2e-3, batch: int = 32,
          progress=None) -> list[dict]:
    """Adam on cross-entropy of the output spike counts; returns per-epoch figures."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    gen = np.random.default_rng(seed)
    history = []
    n = len(data.y_train)
    task = progress.add_task("training", total=epochs * ((n + batch - 1) // batch)) if progress else None
    for epoch in range(epochs):
        model.train()
        order = gen.permutation(n)
        total, correct, loss_sum = 0, 0, 0.0
        for i in range(0, n, batch):
            idx = order[i:i + batch]
            x = _steps_first(data.x_train[idx])
            y = torch.from_numpy(data.y_train[idx])
            counts = model(x).sum(0)
            loss = loss_fn(counts, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_sum += float(loss.detach()) * len(idx)
            correct += int((counts.argmax(1) == y).sum())
            total += len(idx)
            if progress:
                progress.update(task, advance=1,
                                description=f"epoch {epoch + 1}/{epochs} loss {loss_sum / total:.3f}")
        history.append({"epoch": epoch + 1, "loss": loss_sum / total, "train_accuracy": correct / total,
                        "test_accuracy": accuracy(model, data.x_test, data.y_test)})
        if progress:
            h = history[-1]
            progress.console.print(f"epoch {h['epoch']}: loss {h['loss']:.3f}, train "
                                   f"{h['train_accuracy']:.1%}, held-out {h['test_accuracy']:.1%}")
    return history
