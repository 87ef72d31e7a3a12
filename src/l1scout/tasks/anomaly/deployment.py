"""The deployment stages of the anomaly pipeline: ONNX and registry, firmware and its checks.

:func:`deploy_onnx` exports the chosen model's deployed part (the VAE encoder,
the VICReg autoencoder scorer, or the VICReg backbone with the distance's
linear map) to ONNX, measures the largest difference between torch and ONNX
Runtime on every test event, logs it as an MLflow model and registers it.
:func:`deploy_firmware` takes the best quantized AXOL1TL encoder
(:func:`firmware_target`) through hls4ml to its bit-accurate emulation and
compares its decisions with the trained model's at every threshold; FLOPs and
da4ml's LUT and latency estimate. :class:`DeployResult` holds what they
measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from l1scout._types import F32
from l1scout.errors import ConfigError, L1ScoutError
from l1scout.tasks.anomaly.parity import decision_agreement, max_lsb_difference
from l1scout.tasks.anomaly.selection import Candidate, choose_best

if TYPE_CHECKING:
    from l1scout.io.scalers import PowerOfTwoRobustScaler
    from l1scout.tasks.anomaly.data import AnomalyData
    from l1scout.tasks.anomaly.pipeline_config import PipelineConfig
    from l1scout.track.runs import TrackedRun

__all__ = ["DeployResult", "deploy_firmware", "deploy_inputs", "deploy_onnx", "firmware_target"]


@dataclass
class DeployResult:
    """What deployment measured for one model (None: the step did not run)."""

    name: str
    onnx_path: Path | None = None
    onnx_max_diff: float | None = None
    onnx_max_rel_diff: float | None = None
    firmware_path: Path | None = None
    firmware_agreement_min: float | None = None
    firmware_max_lsb: float | None = None
    flops: int | None = None
    macs: int | None = None
    params: int | None = None
    luts: int | None = None
    latency_ns: float | None = None
    registered: str | None = None

    def metrics(self) -> dict[str, float]:
        """The numeric results as MLflow metrics (missing ones left out)."""
        names = {
            "onnx.max_abs_diff": self.onnx_max_diff,
            "onnx.max_rel_diff": self.onnx_max_rel_diff,
            "firmware.decision_agreement_min": self.firmware_agreement_min,
            "firmware.max_lsb_diff": self.firmware_max_lsb,
            "ops.flops": self.flops,
            "ops.macs": self.macs,
            "ops.params": self.params,
            "fpga.luts": self.luts,
            "fpga.latency_ns": self.latency_ns,
        }
        return {k: float(v) for k, v in names.items() if v is not None}


def _parity(model: Any, path: Path, x: F32) -> tuple[float, float]:
    """Largest |torch - onnx| and |torch - onnx| / max(1, |torch|), from one run of each."""
    import torch

    from l1scout.deploy.onnx import OnnxModel

    if not len(x):
        return 0.0, 0.0
    with torch.no_grad():
        ref = model.eval()(torch.from_numpy(x)).double().numpy().reshape(len(x), -1)
    got = OnnxModel(path).predict(x).astype(np.float64).reshape(len(x), -1)
    diff = np.abs(ref - got)
    return float(diff.max()), float(np.max(diff / np.maximum(1.0, np.abs(ref))))


def deploy_onnx(
    cand: Candidate,
    x: F32,
    folder: Path,
    result: DeployResult,
    run: TrackedRun,
    config: PipelineConfig,
) -> None:
    """Export the candidate's deployed part to ONNX, measure parity on *x*, register it in MLflow."""
    from l1scout.deploy.onnx import export_onnx
    from l1scout.track.registry import register_model

    deployable = cand.model.deployable()
    path = export_onnx(deployable, x.shape[1], folder / f"{cand.name}.onnx")
    result.onnx_path = path
    result.onnx_max_diff, result.onnx_max_rel_diff = _parity(deployable, path, x)
    uri = run.log_onnx_model(path, name="model")
    registered = register_model(
        uri, config.tracking.registered_model, alias=config.tracking.alias, uri=config.tracking.uri
    )
    result.registered = f"{registered.name} v{registered.version} @{registered.alias}"


#: Events of the firmware check that also run through hls4ml's C++ emulation.
_HLS4ML_CHECKED = 10_000


def deploy_firmware(
    cand: Candidate,
    x: F32,
    folder: Path,
    result: DeployResult,
    config: PipelineConfig,
) -> None:
    """Firmware of a quantized VAE encoder: hls4ml project, emulation parity, FLOPs, LUTs, latency."""
    import torch

    from l1scout.deploy.flops import count_ops
    from l1scout.deploy.fpga import estimate_fpga
    from l1scout.deploy.hls import build_firmware

    deployable = cand.model.deployable().eval()
    spec = cand.config.quant  # only quantized latent VAEs reach here
    ops = count_ops(deployable, x.shape[1])
    result.flops, result.macs, result.params = ops.flops, ops.macs, ops.params
    if config.deploy.firmware:
        project = build_firmware(deployable, x.shape[1], folder / cand.name, spec=spec)
        result.firmware_path = project.path
        # all events through the integer emulation (bit-exact with hls4ml's C++, ~70x
        # faster); the first _HLS4ML_CHECKED through hls4ml's C++ too, which must agree
        fast = project.predict(x, engine="integer")
        n_ref = min(len(x), _HLS4ML_CHECKED)
        if not np.array_equal(
            project.predict(x[:n_ref]).view(np.uint32), fast[:n_ref].view(np.uint32)
        ):
            raise L1ScoutError(f"{project.path}: integer emulation differs from hls4ml's C++")
        emulated = np.asarray(fast, dtype=np.float64).reshape(x.shape[0], -1)
        with torch.no_grad():
            trained = deployable(torch.from_numpy(x)).double().numpy().reshape(x.shape[0], -1)
        lsb = project.output.lsb if project.output is not None else spec.output.lsb
        result.firmware_max_lsb = max_lsb_difference(trained, emulated, lsb)
        # the report's thresholds for the chosen model, the validation ones for another
        shown = cand.evaluation if cand.evaluation is not None else cand.validation
        thresholds = [t.threshold for t in shown.thresholds]
        agreement = decision_agreement(
            cand.model.score_from_deployed(trained),
            cand.model.score_from_deployed(emulated),
            thresholds,
        )
        result.firmware_agreement_min = float(agreement.min()) if agreement.size else 1.0
    if config.deploy.fpga_estimate:
        estimate = estimate_fpga(deployable, spec)
        result.luts, result.latency_ns = estimate.luts, estimate.latency_ns


def firmware_target(candidates: list[Candidate]) -> Candidate:
    """The best quantized AXOL1TL encoder (by the validation figure): what goes to firmware.

    Raises:
        ConfigError: no quantized latent-score VAE among the candidates (a
            pipeline file asking for firmware without one is refused when read).
    """
    ready = [c for c in candidates if c.config.firmware_ready]
    if not ready:
        raise ConfigError(
            "deploy.firmware and deploy.fpga_estimate need a quantized model among the models "
            "(kind = 'vae', quantized = true, score = 'latent'); add one or set them to false"
        )
    return choose_best(ready)


def deploy_inputs(data: AnomalyData, scaler: PowerOfTwoRobustScaler) -> F32:
    """Every test event (zero bias and signals), scaled: what parity is measured on."""
    parts = [data.zb_test, *data.signals.values()]
    return _scaled(scaler, np.concatenate(parts, axis=0).astype(np.float32))


def _scaled(scaler: PowerOfTwoRobustScaler, x: F32) -> F32:
    return np.ascontiguousarray(scaler.transform(x), dtype=np.float32)
