"""Surrogate-gradient training of small spiking networks in PyTorch, exported to NIR.

`python -m tools.train --data synthetic-dvs|nmnist|synthetic-eeg --out models/X.nir`
trains on CPU (seeded, deterministic) and writes a NIR graph that `nodes.snn` runs.
Neuron convention (the same as the NIR graphs of sinabs): IF neurons, one step per input
bin (NIR metadata `dt_s`), v[t] = v[t-1] + r * I[t] with r = 1 (or LIF, `--beta` < 1:
v[t] = beta * v[t-1] + I[t]), a spike when v > v_threshold, then v = v_reset = 0
("reset to zero", at most one spike per step).
`python -m tools.train.cross_run` judges the EEGMMIDB network leave-one-run-out.
The class is the output layer's spike count summed over the steps.
Needs torch (the `train` extra); nothing here is imported at run time.
"""
