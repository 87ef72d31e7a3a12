"""The re-calibration study as data: datasets, models, scans, tracking and outputs (a TOML file).

A study file (``examples/recalib/*.toml``)::

    title = "L1 re-calibration, pileup 200"

    [data]                         # one of [data.samples], data.files, [data.synthetic]
    seed = 1                       # the 65/20/15 split
    jet_targets = "pt"             # the seed's jet regression; "pt_eta_phi" adds eta and phi
    muon_source = "standalone"     # L1 muons from the muon system; "tracker": the tracker muons
    [data.samples]                 # events to make: l1scout.tasks.recalib.samples.RecalibSampleConfig
    pileup = 200.0
    processes = [{process = "DYJetsToLL_13TeV-madgraphMLM-pythia8", events = 6000}]

    [[models]]                     # a network: "<width>x<blocks>", blocks of dense + BN + ReLU
    kind = "nn"
    arch = "128x4"
    loss = "logcosh"               # or "mse"
    weight_decay = 1e-5            # L2 of the dense weights (0: none)

    [[models]]                     # a Nystrom kernel ridge regression
    kind = "krr"
    kernel = "gaussian"            # gaussian | linear | polynomial
    centres = 500                  # M
    sigma = 0.5
    penalty = 1e-6                 # lambda
    datasets = ["muon", "jet"]     # which datasets it is fitted on (default: muon)

    [[scans]]                      # a tuning curve: validation RMSE vs one parameter
    parameter = "sigma"            # sigma | penalty | centres
    values = [0.1, 0.2, 0.5, 1.0, 2.0]
    [scans.model]                  # the fixed parameters
    kernel = "gaussian"
    centres = 100

    [tracking]
    experiment = "l1scout-recalib"

    [outputs]
    firmware = true                # hls4ml emulation of the small network

Every table is closed (unknown keys are errors) and :func:`load_config` names
the file and the path of each bad field. Everything that would stop the study
after its data is checked when the file is read: the files of ``data.files``
exist, the process names are in the catalog, every scan has models on its
dataset, the firmware network is fitted on muons, the tracking names are
valid for MLflow, and on synthetic data no kernel model has more centres than
training rows (with events, that last check runs once the data is read,
before any fit). Row labels default to the seed's
(``"NN 128x4"``, ``"Nystrom KRR, Gaussian, M=500"``); two models with the
same label on one dataset need an explicit ``label``.

Example:
    >>> cfg = RecalibConfig(models=[{"kind": "nn", "arch": "32x3"}, {"kind": "krr", "centres": 100}])
    >>> [(m.key, m.title) for m in cfg.models]
    [('nn-32x3-mse', 'NN 32x3'), ('krr-gaussian-m100', 'Nystrom KRR, Gaussian, M=100')]
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from l1scout._datafile import deep_update, path_beside, read_toml, validate_data
from l1scout.errors import ConfigError
from l1scout.io.paths import resolve_paths
from l1scout.tasks._tracking import ExperimentName, ModelAlias, RegisteredModelName, TrackingUri
from l1scout.tasks.recalib.dataset import JET_TARGETS, SPLIT_FRACTIONS, TARGET_NAMES
from l1scout.tasks.recalib.nn import layer_sizes, parse_arch
from l1scout.tasks.recalib.samples import RecalibSampleConfig

__all__ = [
    "JET_TARGET_SETS",
    "DataConfig",
    "DatasetKind",
    "JetTargets",
    "KRRSpec",
    "ModelSpec",
    "NNSpec",
    "OutputConfig",
    "RecalibConfig",
    "ScanSpec",
    "SyntheticData",
    "TrackingConfig",
    "load_config",
]

DatasetKind = Literal["muon", "jet"]
JetTargets = Literal["pt", "pt_eta_phi"]
#: ``[data] jet_targets`` -> the jet dataset's targets: pT only (the seed's jet
#: regression, the default) or pT, eta and phi.
JET_TARGET_SETS: dict[str, tuple[str, ...]] = {"pt": JET_TARGETS, "pt_eta_phi": TARGET_NAMES}
_KEY = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
_KERNEL_TITLE = {"gaussian": "Gaussian", "linear": "linear", "polynomial": "polynomial"}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _short(value: float) -> str:
    """``1e-05`` -> ``1e-5``.

    >>> _short(1e-05), _short(0.25)
    ('1e-5', '0.25')
    """
    return re.sub(r"e([+-])0*(\d)", r"e\1\2", f"{value:g}").replace("e+", "e")


def _unique(values: tuple[str, ...], what: str) -> tuple[str, ...]:
    if len(set(values)) != len(values):
        msg = f"{what}: each may appear once, got {list(values)}"
        raise ValueError(msg)
    return values


class NNSpec(_Model):
    """A network of dense + batch-norm + ReLU blocks (:mod:`l1scout.tasks.recalib.nn`).

    Attributes:
        kind: ``"nn"``.
        name: a key for files and runs (default from the settings, e.g. ``nn-128x4-logcosh-l2``).
        label: the table row (default ``"NN 128x4"``, with loss and L2 when not MSE / 0).
        arch: ``"<width>x<blocks>"``: ``blocks`` hidden blocks (dense + batch norm +
            ReLU) of ``width`` neurons, then a linear layer to the outputs (seed Table 6:
            ``"128x4"``, ``"32x3"``).
        loss: ``"mse"`` or ``"logcosh"``.
        weight_decay: Keras-style L2 penalty of the dense weights (the seed: 1e-5).
        batch_size: events per step (the seed: 256, 512, 8192).
        learning_rate: Adam's step size.
        epochs: the most epochs.
        patience: early-stopping patience (epochs).
        seed: initial weights and shuffling.
        datasets: the datasets it is fitted on.
    """

    kind: Literal["nn"] = "nn"
    name: str | None = Field(default=None, pattern=_KEY, max_length=80)
    label: str | None = Field(default=None, min_length=1, max_length=120)
    arch: str = "32x3"
    loss: Literal["mse", "logcosh"] = "mse"
    weight_decay: float = Field(default=0.0, ge=0.0, le=1.0)
    batch_size: int = Field(default=512, ge=2, le=1_000_000)
    learning_rate: float = Field(default=1e-3, gt=0.0, le=1.0)
    epochs: int = Field(default=200, ge=1, le=100_000)
    patience: int = Field(default=10, ge=1, le=10_000)
    seed: int = Field(default=1, ge=0)
    datasets: tuple[DatasetKind, ...] = Field(default=("muon",), min_length=1)

    @field_validator("arch")
    @classmethod
    def _arch(cls, value: str) -> str:
        try:
            hidden, blocks = parse_arch(value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return f"{hidden}x{blocks}"

    @field_validator("datasets")
    @classmethod
    def _datasets(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _unique(value, "datasets")

    @property
    def key(self) -> str:
        """The name, or one made of the architecture, loss and L2."""
        if self.name:
            return self.name
        return f"nn-{self.arch}-{self.loss}" + ("-l2" if self.weight_decay else "")

    @property
    def title(self) -> str:
        """The table row label."""
        if self.label:
            return self.label
        extra = [("log-cosh" if self.loss == "logcosh" else "")]
        if self.weight_decay:
            extra.append(f"L2 {_short(self.weight_decay)}")
        words = ", ".join(e for e in extra if e)
        return f"NN {self.arch}" + (f" ({words})" if words else "")


class KRRSpec(_Model):
    """A Nystrom kernel ridge regression (:mod:`l1scout.tasks.recalib.krr`).

    Attributes:
        kind: ``"krr"``.
        name: a key for files and runs (default e.g. ``krr-gaussian-m500``).
        label: the table row (default ``"Nystrom KRR, Gaussian, M=500"``).
        kernel: ``"gaussian"``, ``"linear"`` or ``"polynomial"``.
        centres: M, Nystrom centres drawn uniformly from the training set.
        sigma: Gaussian width; the linear kernel's ``x.c`` is divided by sigma^2.
        penalty: lambda of the ridge penalty.
        degree: polynomial degree.
        scale: polynomial factor of ``x.c`` (None: 1 / number of inputs).
        beta: linear and polynomial offset.
        solver: ``"torch"`` (direct Cholesky, the faster) or ``"sklearn"`` (Nystroem + Ridge).
        precision: arithmetic of the exported model (inputs and outputs stay
            float32): ``"float32"``, as a deployment runs it, or ``"float64"``
            when the coefficients cancel (small lambda, polynomial kernels).
        seed: the choice of centres.
        datasets: the datasets it is fitted on.
    """

    kind: Literal["krr"] = "krr"
    name: str | None = Field(default=None, pattern=_KEY, max_length=80)
    label: str | None = Field(default=None, min_length=1, max_length=120)
    kernel: Literal["gaussian", "linear", "polynomial"] = "gaussian"
    centres: int = Field(default=500, ge=1, le=100_000)
    sigma: float = Field(default=1.0, gt=0.0)
    penalty: float = Field(default=1e-6, gt=0.0)
    degree: int = Field(default=5, ge=1, le=20)
    scale: float | None = Field(default=None, gt=0.0)
    beta: float = 1.0
    solver: Literal["torch", "sklearn"] = "torch"
    precision: Literal["float32", "float64"] = "float32"
    seed: int = Field(default=1, ge=0)
    datasets: tuple[DatasetKind, ...] = Field(default=("muon",), min_length=1)

    @field_validator("datasets")
    @classmethod
    def _datasets(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _unique(value, "datasets")

    @property
    def key(self) -> str:
        """The name, or one made of the kernel (and degree) and M."""
        if self.name:
            return self.name
        deg = f"{self.degree}" if self.kernel == "polynomial" else ""
        return f"krr-{self.kernel}{deg}-m{self.centres}"

    @property
    def title(self) -> str:
        """The table row label, in the seed's words."""
        if self.label:
            return self.label
        deg = f" deg {self.degree}" if self.kernel == "polynomial" else ""
        return f"Nystrom KRR, {_KERNEL_TITLE[self.kernel]}{deg}, M={self.centres}"

    def fit_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`l1scout.tasks.recalib.krr.fit_krr`."""
        return {
            "kernel": self.kernel,
            "centres": self.centres,
            "sigma": self.sigma,
            "penalty": self.penalty,
            "degree": self.degree,
            "scale": self.scale,
            "beta": self.beta,
            "solver": self.solver,
            "seed": self.seed,
            "precision": self.precision,
        }


ModelSpec = Annotated[NNSpec | KRRSpec, Field(discriminator="kind")]


class ScanSpec(_Model):
    """A tuning curve: validation RMSE against one kernel parameter (seed Figures 12-13).

    Attributes:
        parameter: ``"sigma"``, ``"penalty"`` or ``"centres"``.
        values: at least two values (centres: whole numbers >= 1).
        model: the kernel model whose other parameters stay fixed.
        dataset: the dataset it is scanned on.
    """

    parameter: Literal["sigma", "penalty", "centres"]
    values: tuple[float, ...] = Field(min_length=2, max_length=100)
    model: KRRSpec = KRRSpec()
    dataset: DatasetKind = "muon"

    @model_validator(mode="after")
    def _positive(self) -> ScanSpec:
        if any(not v > 0 for v in self.values):
            msg = f"values: every {self.parameter} must be > 0"
            raise ValueError(msg)
        if self.parameter == "centres" and any(v != int(v) for v in self.values):
            msg = "values: numbers of centres must be whole numbers"
            raise ValueError(msg)
        return self

    @property
    def title(self) -> str:
        """E.g. ``"Gaussian, M=100: sigma"``."""
        spec = self.model
        deg = f" deg {spec.degree}" if spec.kernel == "polynomial" else ""
        fixed = [] if self.parameter == "centres" else [f"M={spec.centres}"]
        if self.parameter != "sigma" and spec.kernel != "polynomial":
            fixed.append(f"sigma={spec.sigma:g}")
        if self.parameter != "penalty":
            fixed.append(f"lambda={spec.penalty:g}")
        return f"{self.dataset}: {_KERNEL_TITLE[spec.kernel]}{deg} ({', '.join(fixed)}), {self.parameter}"


class SyntheticData(_Model):
    """Synthetic objects with a known residual function (:mod:`l1scout.tasks.recalib.synthetic`).

    For tests and demonstrations in seconds; no events are generated.

    Attributes:
        muons: synthetic muons.
        jets: synthetic jets.
        noise_scale: multiplies the residuals' noise.
    """

    muons: int = Field(default=3000, ge=20, le=10_000_000)
    jets: int = Field(default=2000, ge=20, le=10_000_000)
    noise_scale: float = Field(default=1.0, ge=0.0)


class DataConfig(_Model):
    """Where the objects come from: exactly one of ``samples``, ``files``, ``synthetic``.

    Attributes:
        samples: events to produce (or reuse) in the data folder.
        files: existing event files instead: a file, a folder or a glob
            (relative paths are taken from the study file's folder).
        synthetic: synthetic objects instead of events.
        seed: seeds the 65/20/15 split of both datasets (and the synthetic draws).
        jet_targets: what the jet models regress: ``"pt"`` (the seed: the jet pT
            only) or ``"pt_eta_phi"`` (also eta and phi, as for muons).
        muon_source: the L1 muons: ``"standalone"`` (the muon system's, as in the
            seed, the default) or ``"tracker"`` (the L1T tracker muons).
    """

    samples: RecalibSampleConfig | None = None
    files: str | None = Field(default=None, min_length=1)
    synthetic: SyntheticData | None = None
    seed: int = Field(default=1, ge=0)
    jet_targets: JetTargets = "pt"
    muon_source: Literal["standalone", "tracker"] = "standalone"

    @field_validator("files")
    @classmethod
    def _files_exist(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                resolve_paths(value)  # no such file, an empty folder, a glob matching nothing
            except ConfigError as exc:
                raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _one_source(self) -> DataConfig:
        given = [x is not None for x in (self.samples, self.files, self.synthetic)]
        if sum(given) != 1:
            msg = (
                "give exactly one of [data.samples] (events to make), data.files (existing "
                "files) or [data.synthetic] (synthetic objects)"
            )
            raise ValueError(msg)
        return self


class TrackingConfig(_Model):
    """MLflow tracking (:mod:`l1scout.track`).

    Attributes:
        enabled: track the study (a parent run, one child run per model).
        experiment: the experiment name.
        uri: a tracking URI (None: ``$MLFLOW_TRACKING_URI`` or the local store).
        register_best: register the best muon model (lowest validation RMSE).
        model_name: the registered model's name.
        alias: the alias given to the registered version.
    """

    enabled: bool = True
    experiment: ExperimentName = "l1scout-recalib"
    uri: TrackingUri | None = None
    register_best: bool = True
    model_name: RegisteredModelName = "l1scout-recalib-muon"
    alias: ModelAlias = "champion"


class OutputConfig(_Model):
    """What the study writes besides the tables.

    Attributes:
        firmware: build and compile the hls4ml emulation of the firmware network.
        firmware_model: the key of the network to emulate (None: the first
            ``32x3`` network on muons, else the smallest network on muons).
        firmware_events: test events run through the emulation.
        plots: draw the plots of the report.
    """

    firmware: bool = True
    firmware_model: str | None = None
    firmware_events: int = Field(default=2000, ge=1, le=1_000_000)
    plots: bool = True


class RecalibConfig(_Model):
    """A whole study (see the module docstring)."""

    title: str = Field(default="L1 object re-calibration", min_length=1)
    data: DataConfig | None = None
    models: tuple[ModelSpec, ...] = Field(min_length=1)
    scans: tuple[ScanSpec, ...] = ()
    tracking: TrackingConfig = TrackingConfig()
    outputs: OutputConfig = OutputConfig()
    threads: int | None = Field(default=None, ge=1, le=1024)

    @model_validator(mode="after")
    def _distinct(self) -> RecalibConfig:
        keys = [m.key for m in self.models]
        if len(set(keys)) != len(keys):
            dup = sorted({k for k in keys if keys.count(k) > 1})
            msg = f"models: two models share the name {dup[0]!r}; give one a distinct 'name'"
            raise ValueError(msg)
        for kind in ("muon", "jet"):
            titles = [m.title for m in self.models if kind in m.datasets]
            if len(set(titles)) != len(titles):
                dup = sorted({t for t in titles if titles.count(t) > 1})
                msg = (
                    f"models: two {kind} models share the row label {dup[0]!r}; give one a 'label'"
                )
                raise ValueError(msg)
        fw = self.outputs.firmware_model
        if fw is not None and fw not in [m.key for m in self.models_for("muon") if m.kind == "nn"]:
            msg = (
                f"outputs.firmware_model: {fw!r} is not the name of a network of this study "
                "fitted on muons"
            )
            raise ValueError(msg)
        fitted = sorted({k for m in self.models for k in m.datasets})
        for i, scan in enumerate(self.scans):
            if scan.dataset not in fitted:
                msg = (
                    f"scans[{i}].dataset: no model of the study is fitted on {scan.dataset!r} "
                    f"(the models' datasets: {', '.join(fitted)}), so its data is not made"
                )
                raise ValueError(msg)
        syn = self.data.synthetic if self.data is not None else None
        if syn is not None:
            counts = {"muon": syn.muons, "jet": syn.jets}
            rows = {k: round(SPLIT_FRACTIONS[0] * n) for k, n in counts.items()}
            problem = self.too_many_centres(rows)
            if problem is not None:
                raise ValueError(f"{problem} (data.synthetic: {syn.muons} muons, {syn.jets} jets)")
        return self

    def too_many_centres(self, train_rows: Mapping[str, int]) -> str | None:
        """What is wrong when a kernel model or scan has more centres than training rows, or None.

        Args:
            train_rows: dataset -> rows of its training split (datasets not
                given are not checked).

        >>> RecalibConfig(models=[{"kind": "krr", "centres": 100}]).too_many_centres({"muon": 65})
        'models[0].centres: M = 100 centres, more than the 65 training muons'
        """
        for i, m in enumerate(self.models):
            for kind in m.datasets:
                n = train_rows.get(kind)
                if isinstance(m, KRRSpec) and n is not None and m.centres > n:
                    return (
                        f"models[{i}].centres: M = {m.centres} centres, more than the {n} "
                        f"training {kind}s"
                    )
        for i, scan in enumerate(self.scans):
            n = train_rows.get(scan.dataset)
            if scan.parameter == "centres":
                where, most = f"scans[{i}].values", int(max(scan.values))
            else:
                where, most = f"scans[{i}].model.centres", scan.model.centres
            if n is not None and most > n:
                return f"{where}: M = {most} centres, more than the {n} training {scan.dataset}s"
        return None

    def models_for(self, kind: str) -> list[NNSpec | KRRSpec]:
        """The models fitted on the *kind* dataset, in file order."""
        return [m for m in self.models if kind in m.datasets]

    def firmware_spec(self) -> NNSpec | None:
        """The network to emulate in firmware (see :class:`OutputConfig`)."""
        nets = [m for m in self.models_for("muon") if isinstance(m, NNSpec)]
        if self.outputs.firmware_model is not None:
            return next(m for m in nets if m.key == self.outputs.firmware_model)
        for m in nets:
            if m.arch == "32x3":
                return m
        if not nets:
            return None
        return min(nets, key=lambda m: _dense_macs(m.arch))


def _dense_macs(arch: str) -> int:
    """Multiply-accumulates of a network on the muons' 4 inputs and 3 outputs.

    >>> _dense_macs("32x3")
    2272
    """
    sizes = layer_sizes(4, 3, arch)
    return sum(a * b for a, b in itertools.pairwise(sizes))


def load_config(path: Path | str, overrides: Mapping[str, Any] | None = None) -> RecalibConfig:
    """Read a study file into a :class:`RecalibConfig`.

    Args:
        path: the TOML file; a relative ``data.files`` is taken from its folder.
        overrides: nested values replacing the file's (None values are ignored),
            e.g. ``{"tracking": {"uri": "sqlite:///x.db"}}``.

    Raises:
        ConfigError: unreadable file, invalid TOML, no ``[data]`` table, or a bad
            value (numbers strictly, :func:`~l1scout._datafile.validate_data`);
            the message names the file and the dotted path of each bad field.
    """
    path = Path(path)
    data = path_beside(read_toml(path, "study file"), "data", "files", path)
    config = validate_data(deep_update(data, overrides or {}), RecalibConfig, str(path))
    if config.data is None:
        msg = (
            f"{path}: data: a study file needs a [data] table: [data.samples] (events to "
            "make), data.files (existing files) or [data.synthetic] (synthetic objects)"
        )
        raise ConfigError(msg)
    return config
