"""The compression task in one call: data -> downstream -> baselines -> learned -> deploy -> MLflow -> report.

:func:`run_compress` is what ``l1scout run compress [CONFIG]`` runs. Its
stages, each timed (:data:`STAGES`, :attr:`CompressResult.stage_seconds`):

1. **data**: the samples, produced where missing
   (:func:`~l1scout.tasks.compress.data.ensure_compress_samples`), read as
   the stream carries them and split into training, validation and test
   (:class:`~l1scout.tasks.compress.data.CompressData`).
2. **downstream**: the anomaly model and the event classifier trained once
   on the original training events
   (:meth:`~l1scout.tasks.compress.downstream.DownstreamModels.fit`) and
   measured on the original test events (AUC, efficiency at
   ``fidelity.rate_khz``).
3. **baselines**: every baseline setting of ``[baselines]`` measured
   (:func:`_evaluate`, below).
4. **learned**: one set autoencoder per latent size, trained on the training
   events of every process (early stopping on the validation events), then
   measured at each bit width; one self-supervised encoder per embedding
   size, its stored embedding measured at each bit width with its own probe
   and distance score (fitted on the stored embeddings of the training
   events).
5. **deploy**: each trained encoder exported to ONNX, checked against torch,
   timed through ONNX Runtime and its operations counted.
6. **mlflow**: the configuration as parameters, every point's bytes and
   measures, the goal as metrics; the payload files' sizes, the report and
   ``summary.json`` as artifacts.
7. **report**: :func:`~l1scout.tasks.compress.report.write_compress_report`,
   then ``summary.json`` (atomically) beside it.

**One codec setting** (:func:`_evaluate`) is measured on the test events of
each process in turn: :func:`~l1scout.tasks.compress.codec.measure` encodes
them, writes ``codecs/<process>/<label>.bin``, takes its size from the file
system, reads it back and decodes it; then the fidelity of the decoded events
against the originals (:func:`~l1scout.tasks.compress.fidelity.fidelity_metrics`,
the floors of ``[fidelity]``) and the downstream models run on the decoded
events of every process, divided by the same on the originals
(:func:`~l1scout.tasks.compress.measures.downstream_ratios`). The bytes per
event of a setting are the sum of its files over the test events of every
process. Decoded events are dropped once measured.

Every file goes under the output folder: ``codecs/`` (the payloads),
``report/``, ``summary.json``.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from l1scout._files import atomic_write_bytes
from l1scout._html import json_safe
from l1scout._timing import Timer, stage
from l1scout.tasks._tracking import with_tracking_uri
from l1scout.tasks.compress.config import CompressConfig
from l1scout.tasks.compress.frontier import (
    best_per_budget,
    goal_check,
    learned_losses,
    pareto_front,
    points_of,
)
from l1scout.tasks.compress.results import (
    CodecPoint,
    CompressResult,
    measure_better,
    run_metrics,
    summary_of,
)

if TYPE_CHECKING:
    from l1scout.tasks.compress.codec import Codec
    from l1scout.tasks.compress.data import CompressData
    from l1scout.tasks.compress.downstream import DownstreamConfig, DownstreamModels
    from l1scout.tasks.compress.measures import DownstreamResult
    from l1scout.tasks.scouting.events import StreamEvents

__all__ = ["STAGES", "run_compress"]

_log = logging.getLogger(__name__)

#: The stages, in order, as they appear in :attr:`CompressResult.stage_seconds`.
STAGES = ("data", "downstream", "baselines", "learned", "deploy", "mlflow", "report")

#: ``progress(stage, done, total)``: the production, then one bar per stage's codecs.
Progress = Callable[[str, int, int], None]


def _floors(cfg: CompressConfig) -> dict[str, float]:
    f = cfg.fidelity
    return {"ht": f.ht_floor, "met": f.met_floor, "jet1_pt": f.jet_floor, "jet2_pt": f.jet_floor}


def _downstream_config(cfg: CompressConfig) -> DownstreamConfig:
    from l1scout.tasks.anomaly.config import TrainConfig
    from l1scout.tasks.compress.downstream import DownstreamConfig

    base = DownstreamConfig()
    epochs = cfg.fidelity.downstream_epochs
    return DownstreamConfig(
        zero_bias=cfg.data.zero_bias.process,
        vae_train=TrainConfig(epochs=epochs, batch_size=512, patience=5, threads=2),
        classifier_train=base.classifier_train.model_copy(update={"max_epochs": epochs}),
        candidates=cfg.data.candidates,
        rate_khz=cfg.fidelity.rate_khz,
        min_expected=cfg.fidelity.min_expected,
        threads=2,
    )


def _aggregate_ratios(ratios: Mapping[str, float], rename: Mapping[str, str]) -> dict[str, float]:
    """``downstream/<score>_<auc|eff>_ratio``: the worst (smallest finite) over the signals.

    *rename* maps a stored-form score to the original score it is compared
    with (an embedding's probe to the classifier): both land on one measure.

    >>> _aggregate_ratios({"anomaly/auc_ratio/a": 0.9, "anomaly/auc_ratio/b": 0.8,
    ...                    "anomaly/eff_ratio/a": float("nan")}, {})
    {'downstream/anomaly_auc_ratio': 0.8}
    """
    worst: dict[str, float] = {}
    for key, value in ratios.items():
        score, kind, _signal = key.split("/", 2)
        name = f"downstream/{rename.get(score, score)}_{kind}"
        if math.isfinite(value):
            worst[name] = min(worst.get(name, math.inf), value)
    return worst


def _downstream_metrics(
    ratios: Mapping[str, float], rename: Mapping[str, str] | None = None
) -> dict[str, float]:
    out = _aggregate_ratios(ratios, rename or {})
    out |= {f"downstream/{k}": float(v) for k, v in ratios.items()}
    return out


def _evaluate(
    codec: Codec,
    data: CompressData,
    folder: Path,
    cfg: CompressConfig,
    *,
    quantities: Mapping[str, Any],
    models: DownstreamModels | None,
    original: DownstreamResult | None,
    embedding_models: Callable[[Codec], Any] | None = None,
) -> CodecPoint:
    """Measure one codec setting on the test events of every process (module docstring)."""
    from l1scout.tasks.compress.codec import measure
    from l1scout.tasks.compress.fidelity import fidelity_metrics
    from l1scout.tasks.compress.measures import EMBEDDING_PAIRS, downstream_ratios

    test = data.part("test")
    n_bytes = n_events = 0
    t_enc = t_dec = 0.0
    by_process: dict[str, float] = {}
    fidelity: dict[str, dict[str, float]] = {}
    decoded: dict[str, StreamEvents] = {}
    embedded: dict[str, np.ndarray] = {}
    files: dict[str, Path] = {}
    params: dict[str, Any] = {}
    particle_bytes = object_bytes = 0.0
    for process, events in test.items():
        m = measure(codec, events, folder / process)
        n_bytes += m.n_bytes
        n_events += m.n_events
        t_enc += m.seconds_encode
        t_dec += m.seconds_decode
        by_process[process] = m.bytes_per_event
        files[process] = m.file
        params = dict(m.params)
        particle_bytes += float(m.params.get("particle_bytes_per_event", math.nan)) * m.n_events
        object_bytes += float(m.params.get("object_bytes_per_event", math.nan)) * m.n_events
        if m.decoded is not None:
            fidelity[process] = fidelity_metrics(
                events,
                m.decoded,
                floors=_floors(cfg),
                original_quantities=quantities[process],
            )
            decoded[process] = m.decoded
        elif m.embedding is not None:
            embedded[process] = m.embedding
    if "particle_bytes_per_event" in params:  # the learned codecs' split, over every process
        params["particle_bytes_per_event"] = particle_bytes / max(n_events, 1)
        params["object_bytes_per_event"] = object_bytes / max(n_events, 1)
    downstream: dict[str, float] = {}
    if models is not None and original is not None:
        if decoded:
            ratios = downstream_ratios(models.evaluate(decoded), original)
            downstream = _downstream_metrics(ratios)
        elif embedded and embedding_models is not None:
            probe = embedding_models(codec)
            ratios = downstream_ratios(probe.evaluate(embedded), original, pairs=EMBEDDING_PAIRS)
            downstream = _downstream_metrics(ratios, EMBEDDING_PAIRS)
    _log.info("%s: %.1f bytes/event", codec.label, n_bytes / max(n_events, 1))
    return CodecPoint(
        label=codec.label,
        family=codec.family,
        params=params,
        lossless=bool(codec.lossless),
        n_bytes=n_bytes,
        n_events=n_events,
        bytes_by_process=by_process,
        seconds_encode=t_enc,
        seconds_decode=t_dec,
        fidelity=fidelity,
        downstream=downstream,
        files=files,
        min_events=cfg.fidelity.min_events,
    )


def _baseline_codecs(cfg: CompressConfig) -> list[Codec]:
    """The baseline settings of ``[baselines]``, in the order of ``which``."""
    from l1scout.tasks.compress import baselines as b
    from l1scout.tasks.compress.quantized import quantized_scan

    level = cfg.baselines.zstd_level
    out: list[Codec] = []
    for family in cfg.baselines.which:
        if family == "float16_parquet":
            out.append(b.Float16ParquetCodec())
        elif family == "words_zstd":
            out.append(b.WordsZstdCodec(level=level))
        elif family == "int_pack":
            out.append(b.IntPackCodec(level=level))
        else:
            widths = [q.model_dump() for q in cfg.baselines.quantized]
            out.extend(quantized_scan(widths, level=level))
    return out


def _sets(samples: Mapping[str, StreamEvents], slots: int) -> Any:
    """The particle sets of every process's events, concatenated (zero bias first)."""
    from l1scout.tasks.compress.sets import ParticleSets

    parts = [ParticleSets.from_events(e, slots) for e in samples.values()]
    return ParticleSets(
        np.concatenate([p.features for p in parts]), np.concatenate([p.mask for p in parts])
    )


def _history_facts(result: Any) -> dict[str, Any]:
    history = list(getattr(result, "history", []))
    last = history[-1] if history else {}
    return {
        "epochs": len(history),
        "best_epoch": int(getattr(result, "best_epoch", 0)),
        "stopped_early": bool(getattr(result, "stopped_early", False)),
        "seconds": float(getattr(result, "seconds", math.nan)),
        "val_loss": float(last.get("val_loss", math.nan)),
    }


def _learned(
    cfg: CompressConfig,
    data: CompressData,
    evaluate: Callable[..., CodecPoint],
    parent: Any,
    progress: Progress | None,
) -> tuple[list[CodecPoint], dict[str, dict[str, Any]], list[tuple[str, Any]]]:
    """Train and measure the learned codecs; returns the points, the trainings and the encoders."""
    points: list[CodecPoint] = []
    training: dict[str, dict[str, Any]] = {}
    encoders: list[tuple[str, Any]] = []
    total = len(cfg.learned_points())
    done = 0
    ae = cfg.learned.set_ae
    if ae.enabled:
        from l1scout.tasks.compress.autoencoder import (
            AECodec,
            SetAutoencoderConfig,
            train_set_autoencoder,
        )

        train = _sets(data.part("train"), ae.slots)
        val = _sets(data.part("validation"), ae.slots)
        for latent in ae.latent:
            mcfg = SetAutoencoderConfig(
                slots=ae.slots,
                latent=latent,
                hidden=ae.hidden,
                loss=ae.loss,
                sinkhorn_epsilon=ae.sinkhorn_epsilon,
                sinkhorn_iterations=ae.sinkhorn_iterations,
                epochs=ae.epochs,
                batch_size=ae.batch_size,
                lr=ae.lr,
                patience=ae.patience,
                seed=ae.seed,
                threads=ae.threads,
            )
            name = f"set_ae-d{latent}"

            def log_epoch(epoch: int, metrics: Mapping[str, float], name: str = name) -> None:
                parent.log_metrics(
                    {f"train/{name}/{k}": v for k, v in metrics.items() if math.isfinite(v)},
                    step=epoch,
                )

            result = train_set_autoencoder(train, val, mcfg, on_epoch=log_epoch)
            training[name] = _history_facts(result)
            encoders.append((name, result.model))
            for bits in ae.bits:
                points.append(evaluate(AECodec(result.model, bits)))
                done += 1
                if progress is not None:
                    progress("learned codecs", done, total)
    vic = cfg.learned.vicreg
    if vic.enabled:
        points_v, training_v, encoders_v = _vicreg(cfg, data, evaluate)
        points += points_v
        training |= training_v
        encoders += encoders_v
        if progress is not None:
            progress("learned codecs", total, total)
    return points, training, encoders


def _vicreg(
    cfg: CompressConfig, data: CompressData, evaluate: Callable[..., CodecPoint]
) -> tuple[list[CodecPoint], dict[str, dict[str, Any]], list[tuple[str, Any]]]:
    """The self-supervised embeddings: train one encoder per size, measure each bit width."""
    from l1scout.tasks.compress import embedding as emb
    from l1scout.tasks.compress.downstream import EmbeddingModels

    vic = cfg.learned.vicreg
    points: list[CodecPoint] = []
    training: dict[str, dict[str, Any]] = {}
    encoders: list[tuple[str, Any]] = []
    train_sets = _sets(data.part("train"), cfg.data.candidates)
    val_sets = _sets(data.part("validation"), cfg.data.candidates)
    ds_cfg = _downstream_config(cfg)
    for dim in vic.embed_dim:
        ecfg = emb.SetEmbeddingConfig(
            slots=cfg.data.candidates,
            embed_dim=dim,
            hidden=vic.hidden,
            epochs=vic.epochs,
            batch_size=vic.batch_size,
            lr=vic.lr,
            patience=vic.patience,
            seed=vic.seed,
            threads=vic.threads,
        )
        result = emb.train_set_embedding(train_sets, val_sets, ecfg)
        name = f"vicreg-d{dim}"
        training[name] = _history_facts(result)
        encoders.append((name, result.model))
        for bits in vic.bits:
            codec = emb.EmbeddingCodec(result.model, bits)

            def fit_probe(c: Any) -> EmbeddingModels:
                # the probe and the distance learn on the stored form of the training events
                stored = {p: c.decode_embedding(c.encode(e)) for p, e in data.part("train").items()}
                return EmbeddingModels.fit(stored, ds_cfg)

            points.append(evaluate(codec, embedding_models=fit_probe))
    return points, training, encoders


def _deploy(
    cfg: CompressConfig, encoders: Sequence[tuple[str, Any]], data: CompressData, folder: Path
) -> list[dict[str, Any]]:
    """ONNX export, parity, throughput and operation count of each trained encoder.

    The encoder is the model's ``encoder`` (the part that runs at the stream);
    the events are the first ``deploy.events`` test events of every process
    (repeated when there are fewer).
    """
    if not cfg.deploy.enabled or not encoders:
        return []
    from l1scout.tasks.compress.deploy import deploy_encoder

    out = []
    for name, model in encoders:
        sets = _sets(data.part("test"), model.config.slots)
        sets = sets.subset(np.arange(cfg.deploy.events) % sets.n_events)
        d = deploy_encoder(
            model.encoder,
            sets,
            folder,
            name,
            threads=cfg.deploy.threads,
            batch_size=cfg.deploy.batch,
        )
        out.append(
            {
                "encoder": name,
                "onnx": str(d.onnx),
                "inputs": d.n_inputs,
                "onnx_vs_torch": float(d.parity),
                "events_per_s": float(d.events_per_second),
                "threads": d.threads,
                "cores_for_stream": float(d.cores_for_stream),
                "macs": d.ops.macs,
                "flops": d.ops.flops,
                "params": d.ops.params,
            }
        )
    return out


def run_compress(
    cfg: CompressConfig,
    out: Path | str,
    data_dir: Path | str | None = None,
    *,
    tracking_uri: str | None = None,
    progress: Progress | None = None,
) -> CompressResult:
    """Run the whole compression task of *cfg* into the folder *out* (module docstring).

    Args:
        cfg: the run.
        out: the output folder.
        data_dir: where the samples are, and are produced if missing (default ``<out>/data``).
        tracking_uri: replaces ``tracking.uri`` (None: the config's, else
            ``$MLFLOW_TRACKING_URI``, else the local store).
        progress: ``progress(stage, done, total)`` for the production and the codecs.

    Returns:
        Every codec setting's point, the goal, the best codec per budget, the
        frontiers, the losses to quantization, the deployment and the stage times.

    Raises:
        ConfigError: a tracking URI of an unknown scheme (before any work).
        DataFormatError: a sample without events in a part.
        ProductionError: the samples could not be produced.
    """
    from l1scout.tasks.compress.data import CompressData, ensure_compress_samples
    from l1scout.tasks.compress.downstream import DownstreamModels
    from l1scout.tasks.compress.fidelity import event_quantities
    from l1scout.tasks.compress.report import measure_keys, write_compress_report
    from l1scout.track.runs import start_run

    cfg = with_tracking_uri(cfg, tracking_uri)  # an unknown scheme: refused before any work
    out = Path(out)
    data_path = Path(data_dir) if data_dir is not None else out / "data"
    times: Timer = {}
    with stage(times, "data"):
        files, digest = ensure_compress_samples(cfg.data, data_path, progress=progress)
        data = CompressData.read(
            files,
            cfg.data.candidates,
            cfg.splits.fractions,
            zero_bias=cfg.data.zero_bias.process,
            dataset_hash=digest,
        )
    with start_run(
        cfg.tracking.experiment,
        run_name=cfg.name,
        params={"compress": cfg.model_dump(mode="json")},
        tags={"l1scout.stage": "pipeline", "l1scout.task": "compress"},
        dataset_hash=digest,
        uri=cfg.tracking.uri,
    ) as parent:
        test = data.part("test")
        with stage(times, "downstream"):
            models = DownstreamModels.fit(
                data.part("train"), data.part("validation"), _downstream_config(cfg)
            )
            original = models.evaluate(test)
            quantities = {p: event_quantities(e) for p, e in test.items()}
        training: dict[str, dict[str, Any]] = {
            f"downstream-{k}": {"seconds": v} for k, v in models.seconds.items()
        }

        def evaluate(codec: Codec, **kw: Any) -> CodecPoint:
            return _evaluate(
                codec,
                data,
                out / "codecs",
                cfg,
                quantities=quantities,
                models=models,
                original=original,
                **kw,
            )

        points: list[CodecPoint] = []
        with stage(times, "baselines"):
            codecs = _baseline_codecs(cfg)
            for i, codec in enumerate(codecs):
                points.append(evaluate(codec))
                if progress is not None:
                    progress("baselines", i + 1, len(codecs))
        with stage(times, "learned"):
            learned, trained, encoders = _learned(cfg, data, evaluate, parent, progress)
            points += learned
            training |= trained
        with stage(times, "deploy"):
            deploy = _deploy(cfg, encoders, data, out / "models")
        rows = [p.row() for p in points]
        keys = measure_keys(points)
        fronts = {k: pareto_front(points_of(rows, k), measure_better(k)) for k in keys}
        best = {
            k: best_per_budget(points_of(rows, k), cfg.report.budgets, measure_better(k))
            for k in keys
        }
        goal = goal_check(rows, goal=cfg.fidelity.resolution_goal, factor=cfg.fidelity.bytes_factor)
        losses = learned_losses(rows, {k: measure_better(k) for k in keys})
        result = CompressResult(
            report=out / "report" / "report.html",
            summary=out / "summary.json",
            points=points,
            goal=goal,
            best=best,
            fronts=fronts,
            losses=losses,
            deploy=deploy,
            training=training,
            counts=data.counts(),
            downstream_original=original.metrics(),
            stage_seconds=dict(times),
            run_id=parent.run_id,
            dataset_hash=digest,
        )
        with stage(times, "mlflow"):
            parent.log_metrics(run_metrics(result))
        with stage(times, "report"):
            result.report = write_compress_report(
                points,
                out / "report",
                goal=goal,
                best=best,
                losses=losses,
                deploy=deploy,
                training=training,
                downstream_original=result.downstream_original,
                counts=result.counts,
                config=cfg,
                timings=dict(times),
                dataset_hash=digest,
            )
        result.stage_seconds = dict(times)
        text = json.dumps(json_safe(summary_of(result, cfg)), indent=2, default=str)
        atomic_write_bytes(result.summary, text.encode())
        parent.log_metrics({f"stage.{k}.seconds": v for k, v in times.items()})
        parent.log_artifact(result.report.parent, "report")
        parent.log_artifact(result.summary)
    return result
