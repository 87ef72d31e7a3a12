"""NNPuppiTau, the CMS Phase-2 Level-1 tau identification: inputs, network, training, firmware, menu.

The baseline identification of the soft-tau study (``docs/physics/l1-algorithms.md``,
"Level-1 taus"), rebuilt on this project's data with the published inputs,
architecture and fixed-point formats of the CMSSW emulator
(``L1Trigger/Phase2L1ParticleFlow``: ``TauNNIdHW.cc`` builds the inputs, the
``NNPuppiTauModel`` hls4ml project computes the network).

**Inputs** (:func:`nnpuppitau_inputs`): the 10 highest-pT constituents of a
candidate's cone (stable sort: ties keep the input order), 8 features each,
candidate-major (features of constituent 0, then of constituent 1, ...):

=====  ===========  ====  =====================================================
index  name         unit  meaning
=====  ===========  ====  =====================================================
0      ``pt``       GeV   constituent pT
1      ``deta``           seed eta - constituent eta (CMSSW's sign)
2      ``dphi``     rad   seed phi - constituent phi, wrapped to [-pi, pi)
3-7    ``is_*``           one-hot type: photon, electron, muon, neutral hadron,
                          charged hadron (:data:`NNPUPPITAU_TYPES`, CMSSW's order)
=====  ===========  ====  =====================================================

Missing constituents are zero in all 8 features (as is the one-hot of a
constituent with pT = 0, as in ``TauNNIdHW::SetNNVectorVar``). CMSSW wraps the
phi difference by +-pi only (``lDPhi - lMPI``); here it is wrapped properly to
[-pi, pi) (:func:`l1scout._jagged.wrap_phi`): inside a 0.4 cone both agree.

**Network** (:class:`NNPuppiTau`): dense 80 -> 25 -> 25 -> 15 -> 15 -> 10 with
ReLU, then two linear heads from the last layer: the ID logit (the ID score is
its sigmoid) and the pT correction. The two 10 -> 1 heads are held as one
10 -> 2 dense layer (column 0: ID logit, column 1: pT correction): the same
parameters (2 x (10 + 1)) and the same arithmetic, and the whole network is
then one chain of dense layers that the deploy layer converts as it is
(:func:`l1scout.deploy.hls.build_firmware`, no change to it). Parameters:
80*25+25 + 25*25+25 + 25*15+15 + 15*15+15 + 15*10+10 + 2*(10+1) = 3,487.

**Fixed point** (:data:`NNPUPPITAU_SPEC`): inputs ``ap_fixed<16,10>`` (the
CMSSW ``tauinput_t``: +-512 GeV, lsb 1/64), weights and biases
``ap_fixed<9,3>`` (+-4, lsb 1/64), ReLU outputs ``ap_ufixed<9,0>`` (lsb
2**-9: a hidden activation saturates at ``1 - 2**-9``, so the network is
trained quantization-aware from the start, with the saturation in the forward
pass), outputs ``ap_fixed<16,6>`` (CMSSW's ``tauresult_t``). The firmware's
sigmoid (an hls4ml lookup table in the CMS model) is not in the deployed
chain: the firmware gives the logit and :func:`id_score` applies the sigmoid;
a cut ``score > c`` is the cut ``logit > log(c / (1 - c))``. Two differences
from a published hls4ml export of the CMS model: its heads have wider weights
(``ap_fixed<16,7>``; here every layer has ``ap_fixed<9,3>``, one
:class:`~l1scout.deploy.fixedpoint.QuantSpec`), and its dense sums are rounded
to ``ap_fixed<16,6>`` before the ReLU (here they stay exact, as the deploy
layer keeps them, and are rounded once, by the ReLU).

**Training** (:func:`train_nnpuppitau`): binary cross-entropy of the ID logit
on every candidate, plus ``pt_weight`` times the Huber loss (``huber_delta``)
of the pT correction against its target on true taus only. The target is the
multiplicative factor ``visible tau pT / candidate pT`` and the head outputs
it directly (a linear output the firmware gives as it is, no exponential to
compute after it); the Huber loss is quadratic in the bulk and linear in the
tails that candidates which gathered pileup or lost neutrals put in the ratio,
so those few do not dominate the fit. With GeV inputs and activations that
saturate at 1, training is noisy (many units sit at 0 or at saturation); the
defaults (Adam, learning rate 5e-3, batches of 64) were the best of a few tried
on a synthetic separable set.

**Menu** (:func:`double_tau_decision`): the Phase-2 double-tau seed: two taus
with offline-scaled pT >= 52 GeV, |eta| <= 2.172 and ID score > 0.28; the
offline scaling ``pT_off = -9.54 + 1.734 pT`` in the barrel (|eta| < 1.5) and
``-36.16 + 3.837 pT`` in the endcap (|eta| >= 1.5; the tau regions of the CMSSW
Phase-2 GT menu, ``L1Trigger/Configuration/python/Phase2GTMenus/
SeedDefinitions/step1_2024/l1tGTObject_constants.py``: ``CL2Taus`` barrel from
|eta| = 0, endcap from 1.5).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F  # noqa: N812
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from l1scout._arrays import flat_array
from l1scout._jagged import check_offsets, event_index, wrap_phi
from l1scout._types import F32, F64, I64, B
from l1scout.deploy.fixedpoint import FixedPoint, QuantSpec
from l1scout.deploy.quant import float_mlp, quantized_mlp
from l1scout.errors import ConfigError, DataFormatError

if TYPE_CHECKING:
    from l1scout.deploy.emulate import FixedPointEmulator
    from l1scout.deploy.hls import FirmwareProject

__all__ = [
    "FEATURES",
    "HIDDEN",
    "NNPUPPITAU_SPEC",
    "NNPUPPITAU_TYPES",
    "N_CONSTITUENTS",
    "N_FEATURES",
    "N_INPUTS",
    "DoubleTauMenu",
    "NNPuppiTau",
    "NNPuppiTauTraining",
    "TrainingResult",
    "build_nnpuppitau_firmware",
    "double_tau_decision",
    "id_score",
    "nnpuppitau_emulator",
    "nnpuppitau_inputs",
    "offline_tau_pt",
    "predict_nnpuppitau",
    "train_nnpuppitau",
]

#: Constituents per candidate.
N_CONSTITUENTS = 10
#: Features per constituent.
N_FEATURES = 8
#: Network inputs, ``N_CONSTITUENTS * N_FEATURES``.
N_INPUTS = N_CONSTITUENTS * N_FEATURES
#: Hidden widths (ReLU after each).
HIDDEN = (25, 25, 15, 15, 10)
#: Particle types in the one-hot order, the index being the type code.
NNPUPPITAU_TYPES = ("photon", "electron", "muon", "neutral_hadron", "charged_hadron")
#: The 8 features of a constituent, in input order.
FEATURES = ("pt", "deta", "dphi", *(f"is_{t}" for t in NNPUPPITAU_TYPES))
#: The published formats (see the module docstring).
NNPUPPITAU_SPEC = QuantSpec(
    input=FixedPoint(16, 10),
    weight=FixedPoint(9, 3),
    bias=FixedPoint(9, 3),
    activation=FixedPoint(9, 0, signed=False),
    output=FixedPoint(16, 6),
)


def nnpuppitau_inputs(
    pt: npt.ArrayLike,
    eta: npt.ArrayLike,
    phi: npt.ArrayLike,
    type_code: npt.ArrayLike,
    seed_eta: npt.ArrayLike,
    seed_phi: npt.ArrayLike,
    offsets: npt.ArrayLike,
) -> F32:
    """The network inputs of candidates, shape ``(n_candidates, 80)`` float32.

    Args:
        pt: constituent pT (GeV), flat over all candidates.
        eta: constituent pseudorapidity.
        phi: constituent azimuth (rad).
        type_code: constituent type, an integer index into :data:`NNPUPPITAU_TYPES`
            (:func:`l1scout.reco.taus.puppi_type`).
        seed_eta: each candidate's seed pseudorapidity, shape ``(n_candidates,)``.
        seed_phi: each candidate's seed azimuth (rad).
        offsets: candidate k owns constituents ``offsets[k]:offsets[k + 1]``
            (length ``n_candidates + 1``).

    Returns:
        The features of :data:`FEATURES` for the 10 highest-pT constituents of
        each candidate, candidate-major, zero-padded (module docstring).

    Raises:
        DataFormatError: an argument that is not 1-D, has the wrong length,
            holds NaN, or a type code outside 0-4; the message names it.

    Examples:
        >>> x = nnpuppitau_inputs([5.0, 20.0], [0.1, 0.0], [0.0, 0.2], [3, 4], [0.0], [0.1], [0, 2])
        >>> x.shape, x[0, :8].astype(float).round(3).tolist(), x[0, 8:16].astype(float).round(3).tolist(), float(abs(x[0, 16:]).sum())
        ((1, 80), [20.0, 0.0, -0.1, 0.0, 0.0, 0.0, 0.0, 1.0], [5.0, -0.1, 0.1, 0.0, 0.0, 0.0, 1.0, 0.0], 0.0)
    """
    arr = np.asarray(offsets)
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
        raise DataFormatError(
            f"offsets: expected a 1-D integer array of length n_candidates + 1, got shape "
            f"{arr.shape} and dtype {arr.dtype}"
        )
    pt_a = flat_array(pt, "pt", allow_inf=True)
    n = pt_a.shape[0]
    try:
        off = check_offsets(arr, "offsets", n)
    except ConfigError as exc:
        raise DataFormatError(str(exc)) from exc
    eta_a = flat_array(eta, "eta", n, allow_inf=True)
    phi_a = flat_array(phi, "phi", n, allow_inf=True)
    codes = np.asarray(type_code)
    if codes.shape != (n,) or not np.issubdtype(codes.dtype, np.integer):
        raise DataFormatError(
            f"type_code: expected {n} integers, got shape {codes.shape} and dtype {codes.dtype}"
        )
    if n and (codes.min() < 0 or codes.max() >= len(NNPUPPITAU_TYPES)):
        raise DataFormatError(f"type_code: expected codes 0-{len(NNPUPPITAU_TYPES) - 1}")
    n_cand = off.shape[0] - 1
    s_eta = flat_array(seed_eta, "seed_eta", n_cand, allow_inf=True)
    s_phi = flat_array(seed_phi, "seed_phi", n_cand, allow_inf=True)
    out = np.zeros((n_cand, N_CONSTITUENTS, N_FEATURES), dtype=np.float32)
    if n == 0:
        return out.reshape(n_cand, N_INPUTS)
    cand = event_index(off)
    order = np.lexsort((-pt_a, cand))  # per candidate, decreasing pT; stable
    rank = np.arange(n) - off[cand[order]]
    keep = rank < N_CONSTITUENTS
    idx, c, r = order[keep], cand[order][keep], rank[keep]
    out[c, r, 0] = pt_a[idx]
    out[c, r, 1] = s_eta[c] - eta_a[idx]
    out[c, r, 2] = wrap_phi(s_phi[c] - phi_a[idx])
    real = pt_a[idx] != 0.0
    out[c[real], r[real], 3 + codes[idx][real]] = 1.0
    return out.reshape(n_cand, N_INPUTS)


class NNPuppiTau(nn.Module):
    """The NNPuppiTau network: trunk 80 -> 25 -> 25 -> 15 -> 15 -> 10 (ReLU), ID and pT heads.

    Args:
        spec: fixed-point formats (quantization-aware layers of
            :func:`~l1scout.deploy.quant.quantized_mlp`); None: a float network
            (:func:`~l1scout.deploy.quant.float_mlp`), not deployable bit-exactly.
        hidden: hidden widths.

    Attributes:
        trunk: the hidden layers, ReLU after the last.
        heads: one dense layer ``hidden[-1] -> 2``: column 0 the ID logit,
            column 1 the pT correction factor.

    Examples:
        >>> model = NNPuppiTau()
        >>> sum(p.numel() for p in model.parameters())
        3487
        >>> model(torch.zeros(3, 80)).shape
        torch.Size([3, 2])
    """

    def __init__(
        self, spec: QuantSpec | None = NNPUPPITAU_SPEC, hidden: Sequence[int] = HIDDEN
    ) -> None:
        super().__init__()
        self.spec = spec
        sizes = [N_INPUTS, *hidden]
        if spec is None:
            self.trunk = float_mlp(sizes, final_activation=True)
            self.heads = float_mlp([sizes[-1], 2])
        else:
            self.trunk = quantized_mlp(sizes, spec, final_activation=True)
            self.heads = quantized_mlp(
                [sizes[-1], 2], spec, final_activation=False, quantize_input=False
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(n, 80)`` inputs -> ``(n, 2)``: ID logit, pT correction."""
        if x.ndim != 2 or x.shape[1] != N_INPUTS:
            raise DataFormatError(
                f"NNPuppiTau expects inputs of shape (n, 80), got {tuple(x.shape)}"
            )
        out: torch.Tensor = self.heads(self.trunk(x))
        return out

    def deployable(self) -> nn.Sequential:
        """Trunk and heads as one chain of dense layers (what goes to firmware)."""
        return nn.Sequential(self.trunk, self.heads)


def id_score(outputs: npt.ArrayLike) -> F64:
    """The ID score: the sigmoid of column 0 of the network outputs ``(n, 2)``.

    Examples:
        >>> id_score([[0.0, 1.0], [np.log(0.28 / 0.72), 1.0]]).round(3).tolist()
        [0.5, 0.28]
    """
    out = np.asarray(outputs, dtype=np.float64)
    if out.ndim != 2 or out.shape[1] != 2:
        raise DataFormatError(f"outputs: expected shape (n, 2), got {out.shape}")
    score: F64 = 1.0 / (1.0 + np.exp(-out[:, 0]))
    return score


class NNPuppiTauTraining(BaseModel):
    """Training settings of :func:`train_nnpuppitau`.

    Attributes:
        epochs: passes over the training set.
        batch_size: candidates per step.
        learning_rate: Adam's step size.
        pt_weight: weight of the pT-correction loss against the ID loss.
        huber_delta: the Huber loss's transition from quadratic to linear
            (in units of the correction factor).
        seed: initial weights and shuffling.
        quantized: train the fixed-point network (:data:`NNPUPPITAU_SPEC`);
            False: a float network (not deployable bit-exactly).
        threads: torch CPU threads while training (the network is tiny: one
            thread is fastest on a shared machine); restored afterwards.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    epochs: int = Field(default=20, ge=1)
    batch_size: int = Field(default=64, ge=1)
    learning_rate: float = Field(default=5e-3, gt=0.0)
    pt_weight: float = Field(default=1.0, ge=0.0)
    huber_delta: float = Field(default=0.25, gt=0.0)
    seed: int = 0
    quantized: bool = True
    threads: int = Field(default=1, ge=1)


@dataclass
class TrainingResult:
    """A trained network and its per-epoch mean losses (over the training set, after each epoch).

    Attributes:
        model: the network, in eval mode.
        loss: total loss per epoch (index 0: before training).
        id_loss: binary cross-entropy per epoch.
        pt_loss: Huber loss of the pT correction on true taus per epoch.
    """

    model: NNPuppiTau
    loss: list[float] = field(default_factory=list)
    id_loss: list[float] = field(default_factory=list)
    pt_loss: list[float] = field(default_factory=list)


def _check_inputs(x: npt.ArrayLike, name: str = "x") -> F32:
    arr = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
    if arr.ndim != 2 or arr.shape[1] != N_INPUTS:
        raise DataFormatError(f"{name}: expected shape (n, {N_INPUTS}), got {arr.shape}")
    if np.isnan(arr).any():
        raise DataFormatError(f"{name}: {int(np.isnan(arr).any(axis=1).sum())} rows hold NaN")
    return arr


def _losses(
    model: NNPuppiTau,
    x: torch.Tensor,
    y: torch.Tensor,
    target: torch.Tensor,
    cfg: NNPuppiTauTraining,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    out = model(x)
    bce = F.binary_cross_entropy_with_logits(out[:, 0], y)
    tau = y > 0.5
    if bool(tau.any()):
        huber = F.huber_loss(out[tau, 1], target[tau], delta=cfg.huber_delta)
    else:
        huber = out.new_zeros(())
    return bce + cfg.pt_weight * huber, bce, huber


def train_nnpuppitau(
    x: npt.ArrayLike,
    is_tau: npt.ArrayLike,
    pt_target: npt.ArrayLike,
    config: NNPuppiTauTraining | None = None,
) -> TrainingResult:
    """Train NNPuppiTau (Adam; deterministic for a seed on one machine).

    Args:
        x: inputs ``(n, 80)`` (:func:`nnpuppitau_inputs`).
        is_tau: 1 for candidates matched to a hadronic tau, else 0.
        pt_target: the pT correction factor of true taus (visible tau pT /
            candidate pT); ignored (may be NaN) for the others.
        config: settings; default :class:`NNPuppiTauTraining`.

    Returns:
        The network and its loss per epoch.

    Raises:
        DataFormatError: wrong shapes, NaN inputs, labels other than 0/1, or a
            NaN or infinite target on a true tau; the message names the argument.
    """
    cfg = config or NNPuppiTauTraining()
    xs = _check_inputs(x)
    n = xs.shape[0]
    labels = np.asarray(is_tau, dtype=np.float32)
    if labels.shape != (n,) or not np.isin(labels, (0.0, 1.0)).all():
        raise DataFormatError(f"is_tau: expected {n} labels of 0 or 1, got shape {labels.shape}")
    target = np.asarray(pt_target, dtype=np.float32)
    if target.shape != (n,):
        raise DataFormatError(f"pt_target: expected {n} entries, got shape {target.shape}")
    if not np.isfinite(target[labels == 1.0]).all():
        raise DataFormatError("pt_target: NaN or infinite values on true taus")
    target = np.where(labels == 1.0, target, 0.0).astype(np.float32)
    xt, yt, tt = torch.from_numpy(xs), torch.from_numpy(labels), torch.from_numpy(target)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = NNPuppiTau(NNPUPPITAU_SPEC if cfg.quantized else None)
    result = TrainingResult(model)
    threads_before = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    try:
        _fit(model, xt, yt, tt, cfg, result)
    finally:
        torch.set_num_threads(threads_before)
    model.eval()
    return result


def _fit(
    model: NNPuppiTau,
    xt: torch.Tensor,
    yt: torch.Tensor,
    tt: torch.Tensor,
    cfg: NNPuppiTauTraining,
    result: TrainingResult,
) -> None:
    """Adam over shuffled mini-batches; the losses after each epoch go into *result*."""
    n = xt.shape[0]
    shuffle = torch.Generator().manual_seed(cfg.seed + 1)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)

    def record() -> None:
        model.eval()
        with torch.no_grad():
            total, bce, huber = _losses(model, xt, yt, tt, cfg)
        result.loss.append(float(total))
        result.id_loss.append(float(bce))
        result.pt_loss.append(float(huber))

    record()
    for _ in range(cfg.epochs):
        model.train()
        perm = torch.randperm(n, generator=shuffle)
        for lo in range(0, n, cfg.batch_size):
            idx = perm[lo : lo + cfg.batch_size]
            loss = _losses(model, xt[idx], yt[idx], tt[idx], cfg)[0]
            opt.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
        record()


def predict_nnpuppitau(model: NNPuppiTau, x: npt.ArrayLike) -> tuple[F64, F64]:
    """ID score and pT correction factor of candidates ``(n, 80)`` through the torch model.

    Raises:
        DataFormatError: *x* has the wrong shape or holds NaN.
    """
    xs = _check_inputs(x)
    model.eval()
    with torch.no_grad():
        out = model(torch.from_numpy(xs)).double().numpy()
    return id_score(out), out[:, 1].copy()


def _deployable(model: NNPuppiTau) -> tuple[nn.Sequential, QuantSpec]:
    if model.spec is None:
        raise ConfigError(
            "NNPuppiTau firmware needs the fixed-point network (NNPuppiTauTraining.quantized = true)"
        )
    return model.deployable().eval(), model.spec


def nnpuppitau_emulator(model: NNPuppiTau) -> FixedPointEmulator:
    """The bit-exact integer emulation of the firmware of *model* (no hls4ml, no compiler).

    Raises:
        ConfigError: a float model.
    """
    from l1scout.deploy.emulate import FixedPointEmulator

    net, spec = _deployable(model)
    return FixedPointEmulator.from_model(net, N_INPUTS, spec=spec)


def build_nnpuppitau_firmware(
    model: NNPuppiTau, out_dir: Path | str, *, compile: bool = True
) -> FirmwareProject:
    """The hls4ml project of *model* (project ``nnpuppitau``; outputs: ID logit, pT correction).

    Through :func:`l1scout.deploy.hls.build_firmware`, every format checked
    against :data:`NNPUPPITAU_SPEC` (the model's). Its
    :meth:`~l1scout.deploy.hls.FirmwareProject.predict` (C++, or
    ``engine="integer"``) equals the torch model bit for bit.

    Raises:
        ConfigError: a float model.
    """
    from l1scout.deploy.hls import build_firmware

    net, spec = _deployable(model)
    return build_firmware(
        net, N_INPUTS, Path(out_dir), spec=spec, project_name="nnpuppitau", compile=compile
    )


class DoubleTauMenu(BaseModel):
    """The Phase-2 double-tau seed on NNPuppiTau (module docstring; values GeV).

    Attributes:
        min_pt: offline-scaled pT threshold (>=).
        max_abs_eta: |eta| limit (<=).
        min_id: ID score threshold (strictly above).
        barrel_max_abs_eta: barrel for |eta| below this, endcap from it on.
        barrel_offset, barrel_slope: barrel scaling ``offset + slope * pT``.
        endcap_offset, endcap_slope: endcap scaling.
        n_taus: taus required.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_pt: float = 52.0
    max_abs_eta: float = 2.172
    min_id: float = 0.28
    barrel_max_abs_eta: float = 1.5
    barrel_offset: float = -9.54
    barrel_slope: float = 1.734
    endcap_offset: float = -36.16
    endcap_slope: float = 3.837
    n_taus: int = Field(default=2, ge=1)


def offline_tau_pt(pt: npt.ArrayLike, eta: npt.ArrayLike, menu: DoubleTauMenu | None = None) -> F64:
    """The offline-scaled pT (GeV) of Level-1 taus: barrel or endcap line by |eta|.

    Examples:
        >>> offline_tau_pt([36.0, 23.0], [0.5, -1.6]).round(3).tolist()
        [52.884, 52.091]
    """
    m = menu or DoubleTauMenu()
    pt_a = np.asarray(pt, dtype=np.float64)
    barrel = np.abs(np.asarray(eta, dtype=np.float64)) < m.barrel_max_abs_eta
    out: F64 = np.where(
        barrel, m.barrel_offset + m.barrel_slope * pt_a, m.endcap_offset + m.endcap_slope * pt_a
    )
    return out


def double_tau_decision(
    pt: npt.ArrayLike,
    eta: npt.ArrayLike,
    score: npt.ArrayLike,
    offsets: npt.ArrayLike,
    menu: DoubleTauMenu | None = None,
) -> B:
    """Whether each event fires the double-tau seed.

    Args:
        pt: tau pT as Level-1 reconstructs it (GeV), flat over events.
        eta: tau pseudorapidity.
        score: tau ID score in [0, 1] (:func:`id_score`).
        offsets: event k owns taus ``offsets[k]:offsets[k + 1]``.
        menu: thresholds; default :class:`DoubleTauMenu`.

    Returns:
        Per event: at least ``menu.n_taus`` taus pass pT, |eta| and ID.

    Raises:
        DataFormatError: arrays that are not 1-D of one length, NaN, or bad offsets.

    Examples:
        >>> double_tau_decision([36.0, 23.0, 60.0], [0.5, -1.6, 0.1], [0.9, 0.5, 0.2], [0, 2, 3]).tolist()
        [True, False]
    """
    m = menu or DoubleTauMenu()
    pt_a = flat_array(pt, "pt", allow_inf=True)
    n = pt_a.shape[0]
    eta_a = flat_array(eta, "eta", n, allow_inf=True)
    score_a = flat_array(score, "score", n, allow_inf=True)
    try:
        off: I64 = check_offsets(offsets, "offsets", n)
    except ConfigError as exc:
        raise DataFormatError(str(exc)) from exc
    passed = (
        (offline_tau_pt(pt_a, eta_a, m) >= m.min_pt)
        & (np.abs(eta_a) <= m.max_abs_eta)
        & (score_a > m.min_id)
    )
    counts = np.bincount(event_index(off), weights=passed, minlength=off.shape[0] - 1)
    fired: B = counts >= m.n_taus
    return fired
