"""Loihi stages as Lava processes, stepped in chunks: Injector -> (Conv|Dense -> LIF)* -> Extractor.

Imported only when a coprocessor.loihi node starts (Lava needs Python 3.10). Every
connection holds its output for one step (Lava's Dense/Conv send last step's
accumulation), so output row t + depth belongs to input step t, depth = stage count.
A conv stage keeps Lava's (x, y, channel) layout; dense matrices are permuted to it.
"""
from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.run_conditions import RunSteps
from lava.magma.core.run_configs import Loihi2HwCfg, Loihi2SimCfg
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from lava.magma.core.process.variable import Var
from lava.proc.conv.models import PyConvModelFixed
from lava.proc.conv.process import Conv
from lava.proc.dense.models import PyDenseModelBitAcc
from lava.proc.dense.process import Dense
from lava.proc.io.extractor import Extractor, PyLoihiExtractorModel
from lava.proc.io.injector import Injector, PyLoihiInjectorModel
from lava.proc.io.utils import ChannelConfig, ReceiveEmpty, SendFull
from lava.proc.lif.models import PyLifModelBitAcc
from lava.proc.lif.process import LIF

from .loihi_fixed_point import FixedStage

CHUNK = 64  # steps per run() call: the Injector/Extractor buffers hold one chunk


@implements(proc=Injector, protocol=LoihiProtocol)
@requires(CPU)
class IntInjectorModel(PyLoihiInjectorModel):
    """Lava's Injector model sends floats, which the fixed-point Dense cannot shift: send int32."""
    in_port: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32)
    out_port: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)


# A sample ends by zeroing every state. Var.set() moves a Var element by element (0.2 s for
# 4096 neurons), so each process gets an `epoch` counter instead: setting one number
# makes its model zero its state at the start of the next step.
class EpochLIF(LIF):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.epoch = Var(shape=(1,), init=0)


class EpochDense(Dense):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.epoch = Var(shape=(1,), init=0)


class EpochConv(Conv):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.epoch = Var(shape=(1,), init=0)


class _Epoch:
    epoch: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    _seen = 0

    def _new_epoch(self) -> bool:
        if int(self.epoch[0]) == self._seen:
            return False
        self._seen = int(self.epoch[0])
        return True


@implements(proc=EpochLIF, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class EpochLIFModel(_Epoch, PyLifModelBitAcc):
    implements_process = None  # set by @implements (the parent implements Lava's own)
    def run_spk(self) -> None:
        if self._new_epoch():
            self.v[:] = 0
            self.u[:] = 0
        super().run_spk()


@implements(proc=EpochDense, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class EpochDenseModel(_Epoch, PyDenseModelBitAcc):
    implements_process = None  # set by @implements (the parent implements Lava's own)
    def run_spk(self) -> None:
        if self._new_epoch():
            self.a_buff[:] = 0
        super().run_spk()


@implements(proc=EpochConv, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class EpochConvModel(_Epoch, PyConvModelFixed):
    implements_process = None  # set by @implements (the parent implements Lava's own)
    def run_spk(self) -> None:
        if self._new_epoch():
            self.a_buf[:] = 0
        super().run_spk()


def hardware_available() -> bool:
    """True when the Loihi 2 extension (lava-loihi) is importable, i.e. a board may be used."""
    try:
        import lava.magma.compiler.subcompilers.nc  # noqa: F401  (ships with lava-loihi only)
        return True
    except ImportError:
        return False


def _xyc(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Lava's (x, y, channel) shape of a NIR (C, H, W) tensor."""
    return (shape[2], shape[1], shape[0]) if len(shape) == 3 else (int(np.prod(shape)),)


def _nir_index_in_xyc(shape: tuple[int, ...]) -> np.ndarray:
    """For each position of Lava's flat (x, y, c) order, the flat NIR (c, y, x) index."""
    idx = np.arange(int(np.prod(shape))).reshape(shape)
    return idx.transpose(2, 1, 0).reshape(-1)


class LavaNetwork:
    """Built, compiled and started once; `run(frames)` advances len(frames) steps."""

    def __init__(self, fixed: list[FixedStage], in_shape: tuple[int, ...], use_hardware: bool) -> None:
        self.in_shape = tuple(in_shape)
        self.depth = len(fixed)
        self.backend = "Loihi2HwCfg" if use_hardware else "Loihi2SimCfg(fixed_pt)"
        first_conv = fixed[0].stage.kind == "conv"
        self.in_xyc = first_conv and len(in_shape) == 3
        inj_shape = _xyc(in_shape) if self.in_xyc else (int(np.prod(in_shape)),)
        blocking = ChannelConfig(send_full=SendFull.BLOCKING, receive_empty=ReceiveEmpty.BLOCKING)
        self.injector = Injector(shape=inj_shape, buffer_size=CHUNK, channel_config=blocking)
        port, layout_xyc, shape = self.injector.out_port, self.in_xyc, tuple(in_shape)
        self.neurons, self.conns = [], []
        for k, fs in enumerate(fixed):
            st = fs.stage
            bits = 8 if k == 0 else 0  # graded event counts in, binary spikes after
            if st.kind == "conv":
                w = np.asarray(fs.mant, np.int64) << fs.weight_exp
                # Lava convolves (flips the kernel); NIR, like PyTorch, correlates.
                w = w.transpose(0, 3, 2, 1)[:, ::-1, ::-1, :]
                conn = EpochConv(weight=np.ascontiguousarray(w, np.int32), input_shape=_xyc(shape),
                            padding=st.padding[::-1], stride=st.stride[::-1], dilation=st.dilation[::-1],
                            groups=st.groups, num_message_bits=bits)
                out_shape = _xyc(st.out_shape)
                bias = fs.bias_mant.reshape(st.out_shape).transpose(2, 1, 0)
            else:
                w = np.asarray(fs.mant, np.int64)
                if layout_xyc and len(shape) == 3:  # columns in the source's (x, y, c) order
                    w = w[:, _nir_index_in_xyc(shape)]
                    port = port.flatten()
                conn = EpochDense(weights=w.astype(np.int32), weight_exp=fs.weight_exp, num_weight_bits=8,
                             num_message_bits=bits)
                out_shape = (st.n_out,)
                bias = fs.bias_mant
            lif = EpochLIF(shape=out_shape, du=fs.du, dv=fs.dv, vth=fs.vth, bias_mant=bias.astype(np.int32),
                      bias_exp=np.full(out_shape, fs.bias_exp, np.int32), name=st.name)
            port.connect(conn.s_in)
            conn.a_out.connect(lif.a_in)
            port, layout_xyc, shape = lif.s_out, st.kind == "conv", st.out_shape
            self.conns.append(conn)
            self.neurons.append(lif)
        self.out_shape = tuple(fixed[-1].stage.out_shape)
        self.out_xyc = layout_xyc and len(self.out_shape) == 3
        self.extractor = Extractor(shape=_xyc(self.out_shape) if self.out_xyc else (int(np.prod(self.out_shape)),),
                                   buffer_size=CHUNK)
        port.connect(self.extractor.in_port)
        models = {Injector: IntInjectorModel, Extractor: PyLoihiExtractorModel}
        if not use_hardware:
            models.update({EpochLIF: EpochLIFModel, EpochDense: EpochDenseModel, EpochConv: EpochConvModel})
        cfg = Loihi2HwCfg(exception_proc_model_map=models) if use_hardware else \
            Loihi2SimCfg(select_tag="fixed_pt", exception_proc_model_map=models)
        self.injector.create_runtime(run_cfg=cfg)
        self.steps = 0
        self.epoch = 0
        self.dirty = False

    def run(self, frames: np.ndarray) -> np.ndarray:
        """Inject (n, *in_shape) frames (event counts, clipped to 0..255); (n, n_out) spikes."""
        n = len(frames)
        out = np.zeros((n, int(np.prod(self.out_shape))), np.float32)
        x = np.clip(np.rint(frames), 0, 255).astype(np.int32)
        if self.in_xyc:
            x = x.transpose(0, 3, 2, 1)
        x = x.reshape(n, -1) if not self.in_xyc else x
        for a in range(0, n, CHUNK):
            b = min(n, a + CHUNK)
            for row in x[a:b]:
                self.injector.send(row)
            self.injector.run(condition=RunSteps(num_steps=b - a, blocking=True))
            for t in range(a, b):
                y = self.extractor.receive()
                out[t] = (y.transpose(2, 1, 0) if self.out_xyc else y).reshape(-1)
        self.steps += n
        self.dirty = self.dirty or n > 0
        return out

    def reset(self) -> None:
        """Membranes, currents and the spikes in flight back to 0 (the next sample starts clean)."""
        if not self.dirty:  # nothing ran since the last reset (and Var.set waits for a first run)
            return
        self.dirty = False
        self.epoch += 1
        for proc in self.neurons + self.conns:
            proc.epoch.set(np.array([self.epoch], np.int32))

    def stop(self) -> None:
        try:
            self.injector.stop()
        except Exception:  # noqa: BLE001  (a runtime that never started has nothing to stop)
            pass
