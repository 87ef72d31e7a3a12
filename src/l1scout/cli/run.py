"""``l1scout run TASK [CONFIG]``: one command for every task, and the registry of the tasks.

A new task adds one entry to :data:`TASKS`: its name, a one-line help, its
config loader and its run function (see :class:`~l1scout.cli._common.Task`).
``l1scout run --help`` lists the entries; the shared options (``--out``,
``--data``, ``--tracking-uri``, ``--no-firmware``) reach every task as a
:class:`~l1scout.cli._common.RunOptions`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from l1scout.cli._common import (
    ConfigArg,
    DataDir,
    NoFirmware,
    OutDir,
    RunOptions,
    Task,
    TrackingUri,
    handle_errors,
)
from l1scout.cli.anomaly import load_anomaly, run_anomaly
from l1scout.cli.classify import load_classify, run_classify_cli
from l1scout.cli.compress import load_compress, run_compress_cli
from l1scout.cli.jettag import load_jettag, run_jettag_cli
from l1scout.cli.mlpf import load_mlpf, run_mlpf_cli
from l1scout.cli.recalib import load_recalib, run_recalib
from l1scout.cli.scouting import load_scouting, run_scouting_cli
from l1scout.cli.taus import load_taus, run_taus_cli
from l1scout.errors import ConfigError

__all__ = ["TASKS", "get_task", "run", "run_help", "run_task"]


def _registry(*tasks: Task[Any]) -> dict[str, Task[Any]]:
    return {task.name: task for task in tasks}


TASKS: dict[str, Task[Any]] = _registry(
    Task(
        "anomaly",
        "Anomaly-detection trigger: data -> training (scan) -> evaluation at trigger rates "
        "-> registry -> ONNX and firmware (CONFIG optional: the demo defaults).",
        load=load_anomaly,
        run=run_anomaly,
    ),
    Task(
        "recalib",
        "Re-calibrate L1 muons and jets toward offline: networks vs Nystrom kernel ridge "
        "regression (CONFIG: a study file, e.g. examples/recalib/tiny.toml).",
        load=load_recalib,
        run=run_recalib,
    ),
    Task(
        "taus",
        "Soft-tau identification: CLUE / AK4 / NNPuppiTau candidates -> NNPuppiTau and "
        "transformer training -> di-tau working points at 50 kHz -> ONNX and firmware "
        "(CONFIG optional: the demo defaults).",
        load=load_taus,
        run=run_taus_cli,
    ),
    Task(
        "mlpf",
        "Machine-learned particle flow: tracks and towers -> windowed transformer with a "
        "per-particle pileup flag -> jets, MET and pileup ROC against PF+CHS and PUPPI "
        "-> ONNX and a Triton repository (CONFIG optional: the demo defaults).",
        load=load_mlpf,
        run=run_mlpf_cli,
    ),
    Task(
        "classify",
        "Event classification into the 18 public COLLIDE-2V classes: object transformer, MLP "
        "and particle DeepSets on the same events in FullReco and L1T -> mean ROC AUC, trigger "
        "bits at 1 and 10 kHz -> ONNX (CONFIG optional: the demo defaults).",
        load=load_classify,
        run=run_classify_cli,
    ),
    Task(
        "jettag",
        "Level-1 jet tagging: 8 classes and a pT regression on PUPPI jets, L1T vs FullReco "
        "-> quantized DeepSets, ONNX and bit-exact firmware -> the HH -> 4b seed with "
        "b-tags at equal rate (CONFIG optional: the demo defaults).",
        load=load_jettag,
        run=run_jettag_cli,
    ),
    Task(
        "scouting",
        "The 40 MHz L1 scouting stream: zero bias and injected signals in orbits of Phase-2 "
        "64-bit words -> unpacker -> a menu of selections and models (W -> 3 pions, soft "
        "di-tau, anomaly score, muon, HT) -> rates, overlaps, efficiencies (CONFIG optional: "
        "the demo defaults).",
        load=load_scouting,
        run=run_scouting_cli,
    ),
    Task(
        "compress",
        "Learned compression of L1 scouting events: float16 Parquet, stream words, integer "
        "packing and quantization vs a set autoencoder and a VICReg embedding -> bytes per "
        "event against HT / MET resolution and downstream AUC -> ONNX throughput (CONFIG "
        "optional: the demo defaults).",
        load=load_compress,
        run=run_compress_cli,
    ),
)
"""The tasks of ``l1scout run``, by name."""


def get_task(name: str) -> Task[Any]:
    """The registered task *name*.

    Raises:
        ConfigError: no such task; the one-line message names the known tasks.
    """
    try:
        return TASKS[name]
    except KeyError:
        msg = f"unknown task {name!r}; the tasks are: {', '.join(TASKS)}"
        raise ConfigError(msg) from None


def run_task(
    name: str,
    config: Path | None,
    out: Path | None = None,
    data: Path | None = None,
    tracking_uri: str | None = None,
    no_firmware: bool = False,
) -> None:
    """Run the task *name* from the command-line values (out None: ``<name>-output``)."""
    with handle_errors():
        task = get_task(name)
        options = RunOptions(
            out=out if out is not None else Path(f"{task.name}-output"),
            data=data,
            tracking_uri=tracking_uri,
            firmware=False if no_firmware else None,
        )
        task(config, options)


def run_help() -> str:
    """The help of ``l1scout run``: what it does, then one paragraph per registered task."""
    tasks = "\n\n".join(f"{task.name}: {task.help}" for task in TASKS.values())
    return (
        "Run a task: TASK [CONFIG] with the shared options "
        "(data produced if missing, MLflow runs, report, ONNX and firmware).\n\n"
        f"The tasks:\n\n{tasks}"
    )


def run(
    task: Annotated[
        str,
        typer.Argument(
            metavar="TASK",
            help=f"The task to run: {', '.join(TASKS)}.",
            show_default=False,
        ),
    ],
    config: ConfigArg = None,
    out: OutDir = None,
    data: DataDir = None,
    tracking_uri: TrackingUri = None,
    no_firmware: NoFirmware = False,
) -> None:
    """Run a task (see ``l1scout run --help`` for the list)."""
    run_task(task, config, out, data, tracking_uri, no_firmware)
