"""Transfer of MLPF to a new detector: fine-tuned against from-scratch training, by training-set size.

The published study pre-trains MLPF on one detector (CLICdet) and fine-tunes
it on another (CLD): with ten times fewer events of the new detector the
fine-tuned model reaches the jet and MET resolution of a model trained from
scratch (F. Mokhtar et al., arXiv:2503.00131, Fig. 7). Here the detectors are
view cards: pre-train on ``FullReco`` (``l1scout run mlpf``), make the
samples of a second card (``FullRecoCLD``, FullReco changed as CLD differs
from CLICdet), and call :func:`transfer_study` with its splits.

**What is run.** For every training-set size *n* (events of the new
detector) and every seed *s*: the training events are the first *n* of the
target training split in a permutation drawn from *s* (so for one seed the
smaller sets are inside the larger ones), and two models are trained on them
with the same :class:`~l1scout.tasks.mlpf.config.TrainingConfig` (its
``seed`` set to *s*: the same shuffles and dropout), the same validation
events and the architecture of the pre-trained model:

* **fine-tuned**: starting from the pre-trained weights
  (:func:`~l1scout.tasks.mlpf.training.train_mlpf` with ``initial_state``);
* **from scratch**: starting from the random weights of seed *s*.

Each model predicts the target test split and is evaluated with
:func:`~l1scout.tasks.mlpf.study.evaluate_mlpf`. The pre-trained model
alone (no target event: "zero-shot") and the rule-based PF+CHS of the same
test events are measured once, as references.

**The two numbers per run.** The *jet resolution* is IQR / median of
pT_reco / pT_gen over all matched generator jets with ``jet_pt_range[0] <=
pT_gen < jet_pt_range[1]`` (one bin, not an average of bins: an average
would weight a bin of ten jets like one of a thousand); the *MET
resolution* is IQR / median of MET_reco / MET_gen (the study's definitions,
``docs/physics/mlpf-metrics.md``). Both are those of the collection
``collection`` (default "MLPF + PU flag", the pileup-removing output,
against PF+CHS, the pileup-removing rule-based PF). Across seeds the table
and the plot show the mean and the standard deviation (``ddof = 1``; 0 with
one seed), as the paper's band over its three seeds.

Example:
    >>> study = TransferStudy(
    ...     view="FullRecoCLD", collection="MLPF + PU flag", jet_pt_range=(20.0, 100.0),
    ...     runs=(TransferRun("fine-tuned", 10, 1, 0.2, 0.3, 0, 1, 1.0, 1.0),
    ...           TransferRun("from scratch", 10, 1, 0.4, 0.5, 0, 1, 2.0, 1.0)),
    ...     reference={"jet_resolution": 0.25, "met_resolution": 0.35},
    ...     zero_shot={"jet_resolution": 0.5, "met_resolution": 0.6}, n_test_events=50)
    >>> [(r["mode"], r["jet resolution"]) for r in study.table()]
    [('fine-tuned', 0.2), ('from scratch', 0.4), ('pre-trained (0 events)', 0.5), ('PF+CHS', 0.25)]
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from l1scout._jagged import Jagged, offsets_from_counts
from l1scout._types import I64
from l1scout.errors import ConfigError, DataFormatError
from l1scout.production.driver import Progress
from l1scout.tasks._threads import torch_threads
from l1scout.tasks.mlpf.config import MLPFConfig, TrainingConfig
from l1scout.tasks.mlpf.data import MLPFSplit
from l1scout.tasks.mlpf.loss import MLPFLossConfig
from l1scout.tasks.mlpf.model import MLPFModel
from l1scout.tasks.mlpf.study import (
    COLLECTIONS,
    MLPF_PU,
    PF_CHS,
    MLPFEvaluation,
    MLPFEvaluationSettings,
    evaluate_mlpf,
)
from l1scout.tasks.mlpf.targets import ElementTargets, MLPFTargets, TargetBookkeeping
from l1scout.tasks.mlpf.training import predict_mlpf, subset_elements, train_mlpf

__all__ = [
    "FINE_TUNED",
    "FROM_SCRATCH",
    "TransferRun",
    "TransferStudy",
    "default_sizes",
    "plot_transfer",
    "run_transfer",
    "subset_split",
    "transfer_study",
]

_log = logging.getLogger(__name__)

#: mode: trained from the pre-trained weights
FINE_TUNED = "fine-tuned"
#: mode: trained from random weights
FROM_SCRATCH = "from scratch"
#: ``on_run(run)`` after every trained model.
OnRun = Callable[["TransferRun"], None]


@dataclass(frozen=True)
class TransferRun:
    """One trained model of the study (module docstring).

    Attributes:
        mode: :data:`FINE_TUNED` or :data:`FROM_SCRATCH`.
        size: target training events.
        seed: the seed of the event subset, the shuffles and (from scratch) the weights.
        jet_resolution: IQR / median of pT_reco / pT_gen in the study's jet pT range.
        met_resolution: IQR / median of MET_reco / MET_gen.
        best_epoch: the epoch whose weights were kept (0-based).
        epochs: epochs run.
        first_val_loss: validation loss after the first epoch.
        seconds: training wall time (s).
    """

    mode: str
    size: int
    seed: int
    jet_resolution: float
    met_resolution: float
    best_epoch: int
    epochs: int
    first_val_loss: float
    seconds: float


def _mean_std(values: Sequence[float]) -> tuple[float, float, int]:
    """Mean, standard deviation (ddof 1; 0 for one value) and count of the finite *values*."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return math.nan, math.nan, 0
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0, int(v.size)


@dataclass(frozen=True)
class TransferStudy:
    """The study's runs and references (module docstring).

    Attributes:
        view: the target detector view.
        collection: the MLPF collection measured (:data:`~l1scout.tasks.mlpf.study.COLLECTIONS`).
        jet_pt_range: generator-jet pT range of the jet resolution (GeV).
        runs: every (mode, size, seed), fine-tuned and from scratch.
        reference: PF+CHS's ``jet_resolution`` and ``met_resolution`` on the same test events.
        zero_shot: the pre-trained model's, without any target event.
        n_test_events: target test events.
    """

    view: str
    collection: str
    jet_pt_range: tuple[float, float]
    runs: tuple[TransferRun, ...]
    reference: dict[str, float]
    zero_shot: dict[str, float]
    n_test_events: int

    @property
    def sizes(self) -> tuple[int, ...]:
        """The training-set sizes, increasing."""
        return tuple(sorted({r.size for r in self.runs}))

    def summary(self, mode: str, quantity: str) -> tuple[list[float], list[float]]:
        """Mean and standard deviation over seeds per size (:attr:`sizes` order).

        *quantity* is ``jet_resolution`` or ``met_resolution``; *mode*
        :data:`FINE_TUNED` or :data:`FROM_SCRATCH` (NaN where a size has no run).
        """
        if quantity not in ("jet_resolution", "met_resolution"):
            msg = f"quantity: expected 'jet_resolution' or 'met_resolution', got {quantity!r}"
            raise ConfigError(msg)
        means, stds = [], []
        for size in self.sizes:
            vals = [getattr(r, quantity) for r in self.runs if r.mode == mode and r.size == size]
            m, sd, _ = _mean_std(vals)
            means.append(m)
            stds.append(sd)
        return means, stds

    def table(self) -> list[dict[str, float | str]]:
        """Rows per (mode, size), then the pre-trained model (0 events) and PF+CHS.

        Columns: ``mode``, ``training events``, ``seeds``, and per resolution
        (``jet``, ``MET``) its mean and standard deviation over the seeds where
        it is defined and the number of those (``... seeds measured``: a model
        that matches no jet has no jet resolution).
        """
        rows: list[dict[str, float | str]] = []
        for mode in (FINE_TUNED, FROM_SCRATCH):
            for size in self.sizes:
                runs = [r for r in self.runs if r.mode == mode and r.size == size]
                if not runs:
                    continue
                jet = _mean_std([r.jet_resolution for r in runs])
                met = _mean_std([r.met_resolution for r in runs])
                rows.append(
                    {
                        "mode": mode,
                        "training events": float(size),
                        "seeds": float(len(runs)),
                        "jet resolution": jet[0],
                        "jet resolution std": jet[1],
                        "jet seeds measured": float(jet[2]),
                        "MET resolution": met[0],
                        "MET resolution std": met[1],
                        "MET seeds measured": float(met[2]),
                    }
                )
        for mode, values in (
            ("pre-trained (0 events)", self.zero_shot),
            (PF_CHS, self.reference),
        ):
            rows.append(
                {
                    "mode": mode,
                    "training events": 0.0,
                    "seeds": 1.0,
                    "jet resolution": values["jet_resolution"],
                    "jet resolution std": 0.0,
                    "jet seeds measured": float(math.isfinite(values["jet_resolution"])),
                    "MET resolution": values["met_resolution"],
                    "MET resolution std": 0.0,
                    "MET seeds measured": float(math.isfinite(values["met_resolution"])),
                }
            )
        return rows


def subset_split(split: MLPFSplit, events: Sequence[int] | I64) -> MLPFSplit:
    """The *events* of *split* (indices, in the order given): elements, targets, bookkeeping, columns.

    The evaluation columns (and with them the per-generator-particle
    ``targets.gen_element``, whose offsets are those of ``Gen_Part_PT``) are
    carried when the split has them (the test split of
    :func:`~l1scout.tasks.mlpf.data.load_mlpf_data`); a split without them
    (training, validation) gives an empty ``gen_element`` and ``columns`` None.
    The pipeline evaluates every sample's test events this way, the transfer
    study draws its training subsets.

    Raises:
        DataFormatError: an index outside the split.
    """
    ev = np.asarray(events, dtype=np.int64)
    if ev.size and (ev.min() < 0 or ev.max() >= split.n_events):
        msg = f"events: expected indices in [0, {split.n_events}), got {int(ev.min())}..{int(ev.max())}"
        raise DataFormatError(msg)
    elements, rows = subset_elements(split.elements, ev)
    el = split.targets.elements
    book = split.targets.bookkeeping
    columns = None
    gen_element = np.zeros(0, dtype=np.int64)
    if split.columns is not None:
        columns = {name: _take_events(col, ev) for name, col in split.columns.items()}
        gen = split.columns.get("Gen_Part_PT")
        if gen is not None and len(split.targets.gen_element) == len(gen[1]):
            gen_element = _take_events((gen[0], split.targets.gen_element), ev)[1]
    targets = MLPFTargets(
        elements=ElementTargets(
            offsets=elements.offsets,
            **{f.name: getattr(el, f.name)[rows] for f in fields(el) if f.name != "offsets"},
        ),
        gen_element=gen_element,
        bookkeeping=TargetBookkeeping(**{f.name: getattr(book, f.name)[ev] for f in fields(book)}),
    )
    return MLPFSplit(
        elements=elements,
        targets=targets,
        sample=split.sample[ev],
        event_number=split.event_number[ev],
        columns=columns,
    )


def _take_events(col: Jagged, events: I64) -> Jagged:
    """The *events* (indices, in the order given) of one jagged column."""
    off, values = col
    counts = off[events + 1] - off[events]
    new_off = offsets_from_counts(counts)
    rows = np.repeat(off[events] - new_off[:-1], counts) + np.arange(int(new_off[-1]))
    return new_off, values[rows]


def _resolutions(ev: MLPFEvaluation, collection: str) -> dict[str, float]:
    jets = ev.jets[collection].response.iqr_over_median
    return {
        "jet_resolution": float(jets[0]) if jets.size else math.nan,
        "met_resolution": float(ev.met[collection].response.iqr_over_median),
    }


def _check(
    sizes: Sequence[int],
    seeds: Sequence[int],
    train: MLPFSplit,
    test: MLPFSplit,
    collection: str,
    jet_pt_range: tuple[float, float],
) -> None:
    if not sizes or not seeds:
        raise ConfigError("sizes and seeds: expected at least one of each")
    bad = [n for n in sizes if int(n) < 1]
    if bad:
        raise ConfigError(f"sizes: expected positive numbers of events, got {bad[0]}")
    too_many = [n for n in sizes if int(n) > train.n_events]
    if too_many:
        msg = (
            f"sizes: {too_many[0]} training events asked for, the target training split "
            f"has {train.n_events}"
        )
        raise ConfigError(msg)
    if len(set(sizes)) != len(sizes) or len(set(seeds)) != len(seeds):
        raise ConfigError(
            f"sizes and seeds: expected distinct values, got {list(sizes)} and {list(seeds)}"
        )
    if any(int(s) < 0 for s in seeds):
        raise ConfigError(f"seeds: expected non-negative integers, got {list(seeds)}")
    if collection not in COLLECTIONS or collection == PF_CHS:
        msg = f"collection: expected an MLPF collection of {COLLECTIONS[:4]}, got {collection!r}"
        raise ConfigError(msg)
    lo, hi = jet_pt_range
    if not (0.0 <= lo < hi):
        raise ConfigError(f"jet_pt_range: expected 0 <= low < high (GeV), got {jet_pt_range}")
    if test.columns is None:
        raise DataFormatError(
            "test: expected the evaluation columns (the test split of load_mlpf_data)"
        )


def transfer_study(
    pretrained: MLPFModel,
    train: MLPFSplit,
    validation: MLPFSplit,
    test: MLPFSplit,
    *,
    view: str,
    sizes: Sequence[int],
    seeds: Sequence[int],
    loss_cfg: MLPFLossConfig,
    train_cfg: TrainingConfig,
    settings: MLPFEvaluationSettings,
    jet_pt_range: tuple[float, float] = (20.0, 100.0),
    collection: str = MLPF_PU,
    on_run: OnRun | None = None,
) -> TransferStudy:
    """Fine-tune *pretrained* and train from scratch on target subsets of each size and seed (module docstring).

    Args:
        pretrained: the model trained on the source detector (``load_mlpf_model``).
        train: the target detector's training split (the subsets are drawn from it).
        validation: the target validation split (early stopping, for every run).
        test: the target test split, with its evaluation columns.
        view: the target view (the name of its collections, e.g. ``FullRecoCLD``).
        sizes: training-set sizes (target events), each at most ``train.n_events``.
        seeds: one run per seed and size and mode.
        loss_cfg: the loss of every run.
        train_cfg: the training of every run (its ``seed`` replaced by each seed).
        settings: the evaluation (its ``pt_edges`` replaced by *jet_pt_range*).
        jet_pt_range: generator-jet pT range of the jet resolution (GeV).
        collection: the MLPF collection measured.
        on_run: called after every trained model.

    Raises:
        ConfigError: no size or seed, a size above the training events, a
            repeated size or seed, an unknown collection, a bad pT range.
        DataFormatError: a test split without evaluation columns.
    """
    _check(sizes, seeds, train, test, collection, jet_pt_range)
    s = settings.model_copy(update={"pt_edges": (float(jet_pt_range[0]), float(jet_pt_range[1]))})
    columns = test.columns or {}
    state = {k: v.detach().clone() for k, v in pretrained.state_dict().items()}

    def evaluate(model: MLPFModel) -> dict[str, float]:
        with torch_threads(train_cfg.threads):
            pred = predict_mlpf(
                model,
                test.elements,
                batch_events=train_cfg.batch_events,
                batch_elements=train_cfg.batch_elements,
            )
        ev = evaluate_mlpf(columns, view, pred, test.targets, s)
        return _resolutions(ev, collection) | {
            f"ref_{k}": v for k, v in _resolutions(ev, PF_CHS).items()
        }

    zero = evaluate(pretrained)
    reference = {k: zero.pop(f"ref_{k}") for k in ("jet_resolution", "met_resolution")}
    runs: list[TransferRun] = []
    for seed in seeds:
        order = np.random.default_rng(int(seed)).permutation(train.n_events)
        cfg = train_cfg.model_copy(update={"seed": int(seed)})
        for size in sorted(int(n) for n in sizes):
            subset = subset_split(train, order[:size])
            for mode, init in ((FINE_TUNED, state), (FROM_SCRATCH, None)):
                result = train_mlpf(
                    subset, validation, pretrained.config, loss_cfg, cfg, initial_state=init
                )
                got = evaluate(result.model)
                run = TransferRun(
                    mode=mode,
                    size=size,
                    seed=int(seed),
                    jet_resolution=got["jet_resolution"],
                    met_resolution=got["met_resolution"],
                    best_epoch=result.best_epoch,
                    epochs=len(result.history),
                    first_val_loss=float(result.history[0]["val_loss"]),
                    seconds=result.seconds,
                )
                runs.append(run)
                if on_run is not None:
                    on_run(run)
    return TransferStudy(
        view=view,
        collection=collection,
        jet_pt_range=(float(jet_pt_range[0]), float(jet_pt_range[1])),
        runs=tuple(runs),
        reference=reference,
        zero_shot=zero,
        n_test_events=test.n_events,
    )


def default_sizes(n_train: int) -> tuple[int, ...]:
    """About 1/10, 1/3 and all of *n_train* target training events (at least 5 each, distinct).

    >>> default_sizes(300), default_sizes(12), default_sizes(4)
    ((30, 100, 300), (5, 12), (4,))
    """
    if n_train <= 5:
        return (n_train,)
    return tuple(sorted({max(n_train // 10, 5), max(n_train // 3, 5), n_train}))


def run_transfer(
    cfg: MLPFConfig,
    pretrained: MLPFModel,
    data_dir: Path | str,
    *,
    progress: Progress | None = None,
) -> TransferStudy:
    """The transfer study of ``cfg.transfer`` for the model *pretrained* on ``cfg.data`` (what the pipeline runs).

    The target samples are ``cfg.data`` made again with the card
    ``cfg.transfer.view`` (``cfg.transfer.events`` per process), produced where
    missing into ``<data_dir>/transfer-<view>`` and split as ``cfg.splits``;
    every run trains with ``cfg.training`` (``max_epochs`` replaced by
    ``cfg.transfer.max_epochs`` when given) and ``cfg.loss``, and is evaluated
    with ``cfg.evaluation`` in one jet-pT bin, ``cfg.transfer.jet_pt_range``.

    Raises:
        ConfigError: a size above the target training events.
        ProductionError: the target samples could not be produced.
    """
    from l1scout.tasks.mlpf.data import ensure_mlpf_samples, load_mlpf_data

    tr = cfg.transfer
    data = cfg.data.model_dump()
    data["view"] = tr.view
    if tr.events is not None:
        data["samples"] = [{"process": s.process, "events": tr.events} for s in cfg.data.samples]
    target_cfg = cfg.model_copy(update={"data": type(cfg.data).model_validate(data)})
    view = tr.view_name
    files, _ = ensure_mlpf_samples(
        target_cfg, Path(data_dir) / f"transfer-{view}", progress=progress
    )
    target = load_mlpf_data(files, view=view, fractions=cfg.splits.fractions)
    train_cfg = cfg.training
    if tr.max_epochs is not None:
        train_cfg = train_cfg.model_copy(update={"max_epochs": tr.max_epochs})
    sizes = tr.sizes if tr.sizes is not None else default_sizes(target.train.n_events)
    n_runs = 2 * len(sizes) * len(tr.seeds)
    done = 0

    def on_run(run: TransferRun) -> None:
        nonlocal done
        done += 1
        _log.info(
            "transfer %s, %d events, seed %d: jet resolution %.3f, MET resolution %.3f (%.0f s)",
            run.mode,
            run.size,
            run.seed,
            run.jet_resolution,
            run.met_resolution,
            run.seconds,
        )
        if progress is not None:
            progress("transfer", done, n_runs)

    return transfer_study(
        pretrained,
        target.train,
        target.validation,
        target.test,
        view=view,
        sizes=sizes,
        seeds=tr.seeds,
        loss_cfg=cfg.loss,
        train_cfg=train_cfg,
        settings=cfg.evaluation,
        jet_pt_range=tr.jet_pt_range,
        collection=tr.collection,
        on_run=on_run,
    )


def plot_transfer(study: TransferStudy, path: Path | str) -> Path:
    """Jet (left) and MET (right) resolution against target training events, written as a PNG.

    Fine-tuned and from-scratch: the mean over seeds with the standard
    deviation as error bars; the pre-trained model without target events
    (dotted) and PF+CHS (dashed) as horizontal lines. Returns *path*.
    """
    from l1scout._html import plot_style, save_png

    with plot_style():
        import matplotlib.pyplot as plt
        from matplotlib.ticker import NullFormatter

        fig, axes = plt.subplots(1, 2, figsize=(16, 7))
        x = np.asarray(study.sizes, dtype=np.float64)
        lo, hi = study.jet_pt_range
        for ax, quantity, label in (
            (axes[0], "jet_resolution", f"jet IQR / median ({lo:g}-{hi:g} GeV)"),
            (axes[1], "met_resolution", "MET IQR / median"),
        ):
            for mode, marker in ((FINE_TUNED, "o"), (FROM_SCRATCH, "s")):
                mean, std = study.summary(mode, quantity)
                ax.errorbar(x, mean, yerr=std, marker=marker, capsize=3, label=mode)
            ax.axhline(study.reference[quantity], color="grey", linestyle="--", label=PF_CHS)
            ax.axhline(
                study.zero_shot[quantity],
                color="black",
                linestyle=":",
                label="pre-trained, 0 events",
            )
            ax.set_xscale("log")
            ax.set_xticks(x, [f"{v:g}" for v in x])
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_xlabel(f"{study.view} training events")
            ax.set_ylabel(label)
            ax.set_ylim(bottom=0.0)
        axes[0].legend(fontsize=11)
        fig.suptitle(
            f"{study.collection} on {study.n_test_events} {study.view} test events", fontsize=16
        )
        fig.tight_layout()
        return save_png(fig, Path(path), 60)
