"""Firmware of the quantized jet tagger: hls4ml projects and bit-exact emulations.

The DeepSets of :mod:`l1scout.tasks.jettag.model` is deployed as two chains of
dense layers and ReLUs that :func:`l1scout.deploy.hls.build_firmware` converts
(hls4ml 1.3, ``io_parallel``, ``Latency``; Fahim et al., arXiv:2103.05579) and
that :class:`l1scout.deploy.emulate.FixedPointEmulator` computes bit for bit,
joined by an exact adder, so the deploy layer is reused unchanged
(:func:`jettag_networks`):

* **input** (:func:`firmware_inputs`): per constituent slot its ``F``
  standardised features (``(x - offset) * scale`` in float32, 0 for a padded
  slot) and its mask bit, rounded to ``formats.input``;
* **phi** (hls4ml project ``jettag_phi``, one instance per slot in hardware):
  the model's shared phi layers, without biases; every layer but the last
  also passes the mask bit on (an extra output with weight 1, unchanged by the
  ReLU), so the next layer reads it again. A padded slot (all inputs 0) gives 0;
  that is the masking;
* **pooling**: the sum of the ``N`` slots' phi outputs, times ``1 / N`` for
  the mean (a shift for N = 16), kept exact (:func:`pooled_format`,
  ``ap_ufixed<14,5>`` by default); an adder tree in hardware, exact float64 sums
  in the emulations;
* **rho** (project ``jettag_rho``): the model's dense layers, ReLUs and output
  format, its input format the pooled format.

Every sum stays exact (the accumulators of
:func:`~l1scout.deploy.hls.accumulator_format`) and every rounding is that of
the torch model (which computes its quantized path in float64), so the three
agree bit for bit: the torch model, :func:`emulate_jettag` (the integer
emulation) and :meth:`JetTagFirmware.predict` (hls4ml's C++ emulation of both
projects, the reference).

Why two projects rather than one: the whole DeepSets as one dense chain (phi
as a block-diagonal layer over the 16 slots with tied blocks, the pooling as a
dense layer of fixed weights) converts and is exact, but its two phi layers
then hold 352 x 528 and 528 x 512 weights, mostly zeros, and g++ had not
compiled hls4ml's C++ of it after more than 5 minutes of CPU time (the
zero weights are held and initialised one by one); the two small projects
compile in about 20 s each.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from l1scout._types import F32
from l1scout.deploy.fixedpoint import FixedPoint
from l1scout.deploy.flops import OpCount
from l1scout.errors import ConfigError, DataFormatError, L1ScoutError
from l1scout.tasks.jettag.model import JetTagDeepSets, _check_batch

if TYPE_CHECKING:
    from l1scout.deploy.emulate import FixedPointEmulator
    from l1scout.deploy.fpga import FpgaEstimate
    from l1scout.deploy.hls import FirmwareProject

__all__ = [
    "JetTagEmulator",
    "JetTagFirmware",
    "build_jettag_firmware",
    "emulate_jettag",
    "estimate_jettag_fpga",
    "firmware_inputs",
    "jettag_emulator",
    "jettag_networks",
    "jettag_op_count",
    "pooled_format",
]

#: hls4ml project name of the tagger.
PROJECT_NAME = "jettag"
#: File with the standardisation and sizes, written into the project folder.
INPUTS_FILE = "jettag_inputs.json"


def pooled_format(model: JetTagDeepSets) -> FixedPoint:
    """The exact format of the pooled sums (rho's input): no bit of the sum is lost.

    ``N = 2**b`` slots of ``formats.activation`` values ``ap_ufixed<W,I>``: the
    sum needs ``b`` more integer bits, the mean (the sum times ``2**-b``) ``b``
    more fractional bits; either is ``W + b`` bits wide (``ceil(log2 N)`` for
    a sum over a number of slots that is not a power of two).

    Examples:
        >>> from l1scout.tasks.jettag.model import JetTagModelConfig
        >>> pooled_format(JetTagDeepSets(JetTagModelConfig())).hls()
        'ap_ufixed<14,5,AP_RND_CONV,AP_SAT>'
    """
    act = model.config.formats.activation
    b = max(model.n_constituents - 1, 0).bit_length()
    integer = act.integer + (b if model.config.pooling == "sum" else 0)
    return FixedPoint(act.width + b, integer, signed=act.signed)


def jettag_networks(model: JetTagDeepSets) -> tuple[nn.Sequential, nn.Sequential]:
    """The firmware's two dense-layer chains of a quantized tagger: phi and rho.

    ``phi`` maps one constituent's :func:`firmware_inputs` slot (``F + 1``
    values) to its ``n_phi`` ReLU outputs; every phi layer but the last has one
    more output, the mask bit passed on with a weight of 1. ``rho`` maps the
    pooled sums (:func:`pooled_format`) to the ``n_classes + 1`` outputs.

    Raises:
        ConfigError: a float model (``quantized = False``).

    Examples:
        >>> from l1scout.tasks.jettag.model import JetTagModelConfig
        >>> model = JetTagDeepSets(JetTagModelConfig(phi_widths=(4, 4), rho_widths=(4,)))
        >>> phi, rho = jettag_networks(model)
        >>> [type(m).__name__ for m in phi]
        ['FixedPointQuantizer', 'QuantLinear', 'QuantReLU', 'QuantLinear', 'QuantReLU']
        >>> phi[1].weight.shape, phi[3].weight.shape  # (4 + mask) x (21 + mask), 4 x (4 + mask)
        (torch.Size([5, 22]), torch.Size([4, 5]))
    """
    from l1scout.deploy.quant import quantized_mlp

    cfg = model.config
    if not cfg.quantized:
        raise ConfigError("jet-tag firmware needs the quantized model (quantized = true)")
    fmts = cfg.formats
    phi_sizes = [model.n_features + 1]
    for k, layer in enumerate(model.phi_layers):
        phi_sizes.append(layer.out_features + int(k < len(model.phi) - 1))
    phi_net = quantized_mlp(phi_sizes, fmts, final_activation=True)
    rho_sizes = [model.n_phi, *(layer.out_features for layer in model.rho_layers)]
    rho_spec = fmts.model_copy(update={"input": pooled_format(model)})
    rho_net = quantized_mlp(rho_sizes, rho_spec, final_activation=False)
    phi_dense = [m for m in phi_net if isinstance(m, nn.Linear)]
    rho_dense = [m for m in rho_net if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for k, (dense, layer) in enumerate(zip(phi_dense, model.phi_layers, strict=True)):
            n_out, n_in1 = layer.weight.shape
            dense.weight.zero_()
            dense.weight[:n_out] = layer.weight
            if k < len(phi_dense) - 1:  # pass the mask bit on to the next layer
                dense.weight[n_out, n_in1 - 1] = 1.0
            dense.bias.zero_()
        for dense, layer in zip(rho_dense, model.rho_layers, strict=True):
            dense.weight.copy_(layer.weight)
            dense.bias.copy_(layer.bias)
    return phi_net.eval(), rho_net.eval()


def _standardise(x: F32, mask: npt.NDArray[np.bool_], offset: F32, scale: F32) -> F32:
    """The firmware input ``(B, N, F + 1)`` from checked arrays (float32, as the torch model)."""
    xs = (x - offset) * scale
    xs = np.where(mask[..., None], xs, np.float32(0.0)).astype(np.float32)
    return np.ascontiguousarray(np.concatenate([xs, mask[..., None].astype(np.float32)], axis=-1))


def firmware_inputs(model: JetTagDeepSets, x: npt.ArrayLike, mask: npt.ArrayLike) -> F32:
    """The firmware's input ``(B, N, F + 1)``: standardised features and mask bit per slot.

    Raises:
        DataFormatError: shapes that do not match the model.

    Examples:
        >>> from l1scout.tasks.jettag.model import JetTagModelConfig
        >>> model = JetTagDeepSets(JetTagModelConfig(), n_constituents=2, n_features=1)
        >>> firmware_inputs(model, [[[3.0], [7.0]]], [[True, False]]).tolist()
        [[[3.0, 1.0], [0.0, 0.0]]]
    """
    xa, ma = _check_batch(model, x, mask)
    return _standardise(xa, ma, *_buffers(model))


def _buffers(model: JetTagDeepSets) -> tuple[F32, F32]:
    return (
        model.offset.detach().numpy().astype(np.float32),
        model.scale.detach().numpy().astype(np.float32),
    )


def _pool(phi_out: npt.NDArray[np.float32], n_slots: int, weight: float) -> F32:
    """The pooling adder: ``(B * N, n_phi)`` phi outputs to ``(B, n_phi)`` sums (exact)."""
    per_jet = phi_out.reshape(-1, n_slots, phi_out.shape[-1]).astype(np.float64)
    return np.ascontiguousarray((per_jet.sum(axis=1) * weight).astype(np.float32))


@dataclass(frozen=True)
class JetTagEmulator:
    """The integer emulation of the tagger's firmware (phi, the pooling adder, rho).

    Attributes:
        phi, rho: the integer emulations of the two networks.
        offset, scale: the standardisation, float32 ``(F,)``.
        n_constituents: constituent slots.
        n_features: features per constituent.
        pool_weight: 1 (sum) or ``1 / N`` (mean).
    """

    phi: FixedPointEmulator
    rho: FixedPointEmulator
    offset: F32
    scale: F32
    n_constituents: int
    n_features: int
    pool_weight: float

    def predict(self, x: npt.ArrayLike, mask: npt.ArrayLike, *, threads: int | None = None) -> F32:
        """The firmware's outputs ``(B, n_classes + 1)``, bit for bit."""
        xa, ma = _check_shapes(x, mask, self.n_constituents, self.n_features)
        slots = _standardise(xa, ma, self.offset, self.scale)
        phi_out = self.phi.predict(slots.reshape(-1, self.n_features + 1), threads=threads)
        pooled = _pool(phi_out, self.n_constituents, self.pool_weight)
        return self.rho.predict(pooled, threads=threads)


def jettag_emulator(model: JetTagDeepSets) -> JetTagEmulator:
    """The integer emulation of the firmware of a quantized tagger (no hls4ml, no compiler).

    Raises:
        ConfigError: a float model.
    """
    from l1scout.deploy.emulate import FixedPointEmulator

    phi, rho = jettag_networks(model)
    return JetTagEmulator(
        FixedPointEmulator.from_model(phi, model.n_features + 1),
        FixedPointEmulator.from_model(rho, model.n_phi),
        *_buffers(model),
        model.n_constituents,
        model.n_features,
        model.pool_weight,
    )


def emulate_jettag(
    model: JetTagDeepSets,
    x: npt.ArrayLike,
    mask: npt.ArrayLike,
    *,
    threads: int | None = None,
) -> F32:
    """The firmware's outputs ``(B, n_classes + 1)`` for a batch, bit for bit, without hls4ml.

    Args:
        model: a quantized tagger.
        x: constituent features ``(B, N, F)``.
        mask: real constituents ``(B, N)``.
        threads: threads of the emulation (None: all cores for large batches).

    Raises:
        ConfigError: a float model.
        DataFormatError: shapes that do not match the model.
    """
    xa, ma = _check_batch(model, x, mask)
    return jettag_emulator(model).predict(xa, ma, threads=threads)


def _check_shapes(
    x: npt.ArrayLike, mask: npt.ArrayLike, n_constituents: int, n_features: int
) -> tuple[F32, npt.NDArray[np.bool_]]:
    xa = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
    ma = np.asarray(mask).astype(bool)
    if xa.ndim != 3 or xa.shape[1:] != (n_constituents, n_features) or ma.shape != xa.shape[:2]:
        raise DataFormatError(
            f"jet-tag firmware expects x (n, {n_constituents}, {n_features}) and mask "
            f"(n, {n_constituents}), got {xa.shape} and {ma.shape}"
        )
    return xa, ma


@dataclass(frozen=True)
class JetTagFirmware:
    """The tagger's two hls4ml projects (``phi/``, ``rho/``) with the standardisation.

    Attributes:
        path: the folder holding both projects.
        phi: the per-constituent network's project (input: one slot of
            :func:`firmware_inputs`).
        rho: the jet-level network's project (input: the pooled sums).
        offset, scale: the standardisation, float32 ``(F,)``.
        n_constituents: constituent slots.
        n_features: features per constituent.
        pool_weight: 1 (sum) or ``1 / N`` (mean).
    """

    path: Path
    phi: FirmwareProject
    rho: FirmwareProject
    offset: F32
    scale: F32
    n_constituents: int
    n_features: int
    pool_weight: float

    @classmethod
    def load(cls, path: Path | str) -> JetTagFirmware:
        """The firmware that :func:`build_jettag_firmware` wrote into ``path`` (possibly moved)."""
        from l1scout.deploy.hls import FirmwareProject

        folder = Path(path)
        meta_path = folder / INPUTS_FILE
        try:
            meta = json.loads(meta_path.read_text())
            return cls(
                path=folder,
                phi=FirmwareProject.load(folder / "phi"),
                rho=FirmwareProject.load(folder / "rho"),
                offset=np.asarray(meta["offset"], dtype=np.float32),
                scale=np.asarray(meta["scale"], dtype=np.float32),
                n_constituents=int(meta["n_constituents"]),
                n_features=int(meta["n_features"]),
                pool_weight=float(meta["pool_weight"]),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise L1ScoutError(
                f"{meta_path}: not a jet-tag firmware written by build_jettag_firmware ({exc})"
            ) from exc

    def predict(
        self,
        x: npt.ArrayLike,
        mask: npt.ArrayLike,
        *,
        engine: Literal["hls4ml", "integer"] = "hls4ml",
        threads: int | None = None,
    ) -> F32:
        """The firmware's outputs ``(B, n_classes + 1)``.

        Args:
            x: constituent features ``(B, N, F)``.
            mask: real constituents ``(B, N)``.
            engine: ``"hls4ml"`` (the two projects' C++ emulation; the reference)
                or ``"integer"`` (their integer emulation, the same bits).
            threads: threads of the emulation.

        Raises:
            DataFormatError: shapes that do not match the firmware.
        """
        xa, ma = _check_shapes(x, mask, self.n_constituents, self.n_features)
        slots = _standardise(xa, ma, self.offset, self.scale)
        phi_out = self.phi.predict(
            slots.reshape(-1, self.n_features + 1), engine=engine, threads=threads
        )
        pooled = _pool(phi_out, self.n_constituents, self.pool_weight)
        return self.rho.predict(pooled, engine=engine, threads=threads)


def build_jettag_firmware(
    model: JetTagDeepSets, folder: Path | str, *, compile: bool = True
) -> JetTagFirmware:
    """Write (and compile) the hls4ml projects of a quantized tagger into ``folder``.

    Two projects, ``folder/phi`` (project ``jettag_phi``) and ``folder/rho``
    (``jettag_rho``), each through :func:`l1scout.deploy.hls.build_firmware`, and
    the standardisation in ``folder/jettag_inputs.json``.

    Args:
        model: a quantized tagger (its standardisation fitted).
        folder: the firmware folder (created).
        compile: build hls4ml's C++ emulations with g++ (about 20 s each, more
            on a busy machine).

    Raises:
        ConfigError: a float model.
    """
    from l1scout.deploy.hls import build_firmware

    phi_net, rho_net = jettag_networks(model)
    root = Path(folder)
    phi = build_firmware(
        phi_net,
        model.n_features + 1,
        root / "phi",
        project_name=f"{PROJECT_NAME}_phi",
        compile=compile,
    )
    rho = build_firmware(
        rho_net,
        model.n_phi,
        root / "rho",
        project_name=f"{PROJECT_NAME}_rho",
        compile=compile,
    )
    offset, scale = _buffers(model)
    meta = {
        "offset": offset.tolist(),
        "scale": scale.tolist(),
        "n_constituents": model.n_constituents,
        "n_features": model.n_features,
        "pool_weight": model.pool_weight,
        "pooling": model.config.pooling,
    }
    target = root / INPUTS_FILE
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(meta, indent=2))
    tmp.replace(target)
    return JetTagFirmware(
        root,
        phi,
        rho,
        offset,
        scale,
        model.n_constituents,
        model.n_features,
        model.pool_weight,
    )


def jettag_op_count(model: JetTagDeepSets) -> OpCount:
    """Operations of one jet's inference, counting the real (shared) weights only.

    Conventions of :mod:`l1scout.deploy.flops`: a MAC per weight use (phi's
    per slot, ``N`` times), two FLOPs per MAC, one per bias and per ReLU; the
    pooling is ``(N - 1) * n_phi`` additions (plus ``n_phi`` multiplications by
    ``1 / N`` for the mean, a shift in firmware, counted as one each);
    parameters are the trainable ones (the mask weights included).

    Examples:
        >>> from l1scout.tasks.jettag.model import JetTagModelConfig
        >>> jettag_op_count(JetTagDeepSets(JetTagModelConfig()))
        OpCount(macs=29472, flops=60553, params=3113)
    """
    n = model.n_constituents
    phi_macs = sum(layer.in_features * layer.out_features for layer in model.phi_layers)
    phi_relu = sum(layer.out_features for layer in model.phi_layers)
    width = model.n_phi
    rho_macs = sum(layer.in_features * layer.out_features for layer in model.rho_layers)
    rho_bias = sum(layer.out_features for layer in model.rho_layers)
    rho_relu = rho_bias - model.rho_layers[-1].out_features
    pool = (n - 1) * width + (width if model.config.pooling == "mean" else 0)
    macs = n * phi_macs + rho_macs
    flops = 2 * macs + n * phi_relu + pool + rho_bias + rho_relu
    params = phi_macs + rho_macs + rho_bias
    return OpCount(macs=macs, flops=flops, params=params)


def estimate_jettag_fpga(
    model: JetTagDeepSets, *, clock_ns: float = 25.0
) -> tuple[FpgaEstimate, FpgaEstimate]:
    """da4ml's LUT and latency estimates of the two networks, phi (one slot) and rho.

    Through :func:`l1scout.deploy.fpga.estimate_fpga` (distributed arithmetic,
    no DSPs). The whole tagger needs ``N`` phi instances (``N * luts`` of the
    first), rho, and the pooling's ``(N - 1) * n_phi`` additions of
    :func:`pooled_format` width, which this estimate leaves out; its latency is
    phi's, then the ``log2 N`` levels of the adder tree, then rho's.

    Raises:
        ConfigError: a float model.
    """
    from l1scout.deploy.fpga import estimate_fpga

    phi_net, rho_net = jettag_networks(model)
    fmts = model.config.formats
    phi = estimate_fpga(phi_net, fmts, clock_ns=clock_ns, n_inputs=model.n_features + 1)
    rho_spec = fmts.model_copy(update={"input": pooled_format(model)})
    rho = estimate_fpga(rho_net, rho_spec, clock_ns=clock_ns, n_inputs=model.n_phi)
    return phi, rho
