"""Per-step latency of the N-MNIST CNN (cnn_sinabs.nir) at batch size 1: ours vs snnTorch, Norse.

Every framework runs the same NIR graph on the same real N-MNIST samples (1 ms bins, one
step per bin, state carried between calls, as a live stream would drive it). Ours runs
on one thread; each torch-based comparator is probed at one thread and at torch's
default (every core) and measured at its faster setting, which is printed. Prints the median
and p99 of the time of one step call, the ratios, and each framework's accuracy on the
samples as a check that they all run the real network.

    python -m tools.bench.snn [--samples 20] [--steps 300] [--profile]

snnTorch 1.0's import_from_nir cannot run this graph (its IF layers return (spike, v)
tuples into the next convolution), so the snnTorch model is assembled here from the same
NIR weights with snntorch.Leaky(beta=1) integrate-and-fire layers.
"""
from __future__ import annotations

import argparse
import time

import nir
import numpy as np

import nodes.snn as snn
from tools.calibrate import nmnist_frames
from tools.datasets import data_path


def time_steps(reset, step, samples) -> tuple[np.ndarray, list[int]]:
    """Nanoseconds of each step call, and the argmax of summed outputs per sample."""
    times, preds = [], []
    for frames in samples:
        reset()
        acc = 0
        for x in frames:
            t0 = time.perf_counter_ns()
            out = step(x)
            times.append(time.perf_counter_ns() - t0)
            acc = acc + out
        preds.append(int(np.argmax(np.asarray(acc).reshape(-1))))
    return np.array(times), preds


def ours(model, convention):
    net = snn.load(model, dt=1e-3, convention=convention)
    return net.reset, net.step


def profile(model, samples, convention: str) -> None:
    """Where one step's time goes: each layer run alone (its own kernel call) on the inputs
    it saw in the fused run, with the density of those inputs (nonzero fraction)."""
    net = snn.load(model, dt=1e-3, convention=convention)
    names = [n for i, n in enumerate(net.names) if i != net._in]
    record = {}
    for frames in samples:
        net.reset()
        _, rec = net.step(frames, record=tuple(net.names))
        for n, v in rec.items():
            record.setdefault(n, []).append(v)
    inputs = {n: np.concatenate(record[n]) for n in net.names}
    print(f"per-layer profile ({convention} rules, {len(samples)} samples, each layer alone):")
    total = 0.0
    for name in names:
        i = net.names.index(name)
        layer, ins = net.layers[i], net.inputs[i]
        if len(ins) != 1 or ins[0][1]:
            print(f"  {name:>4s} {type(layer).__name__:10s} (several or recurrent inputs: not profiled alone)")
            continue
        src = net.names[ins[0][0]]
        x = np.ascontiguousarray(inputs[src], np.float32)
        layer.reset()
        layer.step(x[0])  # compiled
        layer.reset()
        times = np.empty(len(x))
        for t in range(len(x)):
            t0 = time.perf_counter_ns()
            layer.step(x[t])
            times[t] = time.perf_counter_ns() - t0
        med = float(np.median(times)) / 1e3
        total += med
        print(f"  {name:>4s} {type(layer).__name__:10s} in {str(x.shape[1:]):14s} density {np.mean(x != 0):6.1%}"
              f"  median {med:7.2f} us")
    print(f"  sum of layer medians {total:.1f} us (the fused step saves the calls between them)")


def snntorch_model(graph: nir.NIRGraph):
    import snntorch
    import snntorch.utils
    import torch

    order = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"]
    mods = []
    for key in order:
        n = graph.nodes[key]
        if isinstance(n, nir.Conv2d):
            w = torch.from_numpy(np.asarray(n.weight, np.float32))
            c = torch.nn.Conv2d(w.shape[1], w.shape[0], tuple(w.shape[2:]), stride=tuple(int(s) for s in n.stride),
                                padding=tuple(int(p) for p in n.padding), bias=True)
            c.weight.data, c.bias.data = w, torch.from_numpy(np.asarray(n.bias, np.float32))
            mods.append(c)
        elif isinstance(n, nir.IF):
            mods.append(snntorch.Leaky(beta=1.0, threshold=float(np.unique(n.v_threshold)[0]),
                                       init_hidden=True, reset_mechanism="subtract"))
        elif isinstance(n, nir.SumPool2d):
            k = tuple(int(v) for v in n.kernel_size)
            mods.append(torch.nn.LPPool2d(1, k, stride=tuple(int(v) for v in n.stride)))
        elif isinstance(n, nir.Flatten):
            mods.append(torch.nn.Flatten())
        elif isinstance(n, nir.Affine):
            w = torch.from_numpy(np.asarray(n.weight, np.float32))
            lin = torch.nn.Linear(w.shape[1], w.shape[0])
            lin.weight.data, lin.bias.data = w, torch.from_numpy(np.asarray(n.bias, np.float32))
            mods.append(lin)
        else:
            raise ValueError(f"unexpected node {key}: {type(n).__name__}")
    model = torch.nn.Sequential(*mods).eval()

    def reset():
        snntorch.utils.reset(model)

    def step(x):
        with torch.inference_mode():
            return model(torch.from_numpy(x)[None]).numpy()
    return reset, step


def norse_model(graph: nir.NIRGraph):
    import norse.torch as nt
    import torch

    model = nt.from_nir(graph, dt=1e-3)
    state = [None]

    def reset():
        state[0] = None

    def step(x):
        with torch.no_grad():
            out, state[0] = model(torch.from_numpy(x)[None], state[0])
        return out.numpy()
    return reset, step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--profile", action="store_true", help="also time each layer alone, with its input density")
    args = ap.parse_args()
    model = data_path("nir", "02_cnn", "cnn_sinabs.nir")
    root = data_path("nmnist")
    if not model.exists() or not root.is_dir():
        raise SystemExit(f"shared data not found ({model}, {root}); set STREAMER_DATA")
    labels = dict(np.loadtxt(root / "labels.txt", dtype=np.int64))
    ids = list(range(1, args.samples + 1))
    samples = [nmnist_frames(root / f"{i}.bin", args.steps) for i in ids]
    truth = [int(labels[i]) for i in ids]
    graph = nir.read(str(model))

    import torch
    default_threads = torch.get_num_threads()
    runs = {}

    def measure(name, reset, step, threads):
        torch.set_num_threads(threads)
        time_steps(reset, step, samples[:1])  # warm up (JIT, allocator)
        times, preds = time_steps(reset, step, samples)
        acc = np.mean(np.array(preds) == np.array(truth))
        runs[name] = (np.median(times) / 1e3, np.percentile(times, 99) / 1e3)
        print(f"{name:22s} median {np.median(times) / 1e3:8.1f} us  p99 {np.percentile(times, 99) / 1e3:8.1f} us"
              f"  accuracy {acc:.0%} on {len(ids)} samples")

    for name, convention in [("ours (sinabs rules)", "sinabs"), ("ours (nir rules)", "nir")]:
        measure(name, *ours(model, convention), 1)
    if args.profile:
        for convention in ("sinabs", "nir"):
            profile(model, samples[:5], convention)
    for framework, make in [("snntorch", snntorch_model), ("norse", norse_model)]:
        try:
            reset, step = make(graph)
        except Exception as exc:  # a comparator that cannot load the graph is reported, not fatal
            print(f"{framework}: cannot run ({type(exc).__name__}: {exc})")
            continue
        # Its strongest thread setting, probed on two samples: at batch 1 torch's threads
        # mostly synchronise, and on a busy machine its default (every core) can be far slower.
        probe = {}
        for threads in sorted({1, default_threads}):
            torch.set_num_threads(threads)
            time_steps(reset, step, samples[:1])
            probe[threads] = float(np.median(time_steps(reset, step, samples[:2])[0])) / 1e3
        best = min(probe, key=probe.get)
        print(f"{framework} thread settings probed (median per step): "
              + ", ".join(f"{t} thread{'s' if t > 1 else ''} {us:.1f} us" for t, us in probe.items())
              + f"; measured at {best}")
        measure(f"{framework} ({best} thread{'s' if best > 1 else ''})", reset, step, best)
    for name, (med, p99) in runs.items():
        if name.startswith("ours"):
            continue
        for ours_name in ("ours (sinabs rules)", "ours (nir rules)"):
            omed, op99 = runs[ours_name]
            print(f"{ours_name} is {med / omed:.1f}x faster than {name} (median per step; p99 {p99 / op99:.1f}x)")

if __name__ == "__main__":
    main()
