"""Demo-size transfer of MLPF from FullReco to FullRecoCLD (docs/mlpf.md, "Transfer to a new detector").

Produces the demo configuration's samples (pileup 10) for both detectors,
pre-trains on FullReco, then fine-tunes and trains from scratch on three
FullRecoCLD training-set sizes with two seeds each, and prints the table and
writes the plot ``OUT/transfer.png``. About 5 minutes on 2 cores::

    python benchmarks/mlpf_transfer.py --events 200 --out mlpf-transfer-demo
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from l1scout.tasks.mlpf.config import MLPFConfig, demo_config
from l1scout.tasks.mlpf.data import ensure_mlpf_samples, load_mlpf_data
from l1scout.tasks.mlpf.training import train_mlpf
from l1scout.tasks.mlpf.transfer import default_sizes, plot_transfer, transfer_study


def _config(view: str, events: int) -> MLPFConfig:
    base = demo_config()
    d = base.model_dump()
    d["data"]["view"] = view
    d["data"]["samples"] = [{"process": s.process, "events": events} for s in base.data.samples]
    d["data"]["shard_size"] = max(events // 2, 1)
    d["data"]["workers"] = 2
    d["training"]["max_epochs"] = 8
    d["training"]["patience"] = 3
    return MLPFConfig.model_validate(d)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200, help="events per sample and detector")
    parser.add_argument("--out", type=Path, default=Path("mlpf-transfer-demo"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    start = time.time()
    data = {}
    for view in ("FullReco", "FullRecoCLD"):
        cfg = _config(view, args.events)
        files, _ = ensure_mlpf_samples(cfg, args.out / f"data_{view}")
        data[view] = load_mlpf_data(files, view=view, fractions=cfg.splits.fractions)
    cfg = _config("FullReco", args.events)
    source, target = data["FullReco"], data["FullRecoCLD"]
    pre = train_mlpf(
        source.train,
        source.validation,
        cfg.model,
        cfg.loss,
        cfg.training.model_copy(update={"max_epochs": 12}),
    )
    sizes = default_sizes(target.train.n_events)
    study = transfer_study(
        pre.model,
        target.train,
        target.validation,
        target.test,
        view="FullRecoCLD",
        sizes=sizes,
        seeds=(1, 2),
        loss_cfg=cfg.loss,
        train_cfg=cfg.training,
        settings=cfg.evaluation,
        jet_pt_range=(20.0, 100.0),
    )
    plot_transfer(study, args.out / "transfer.png")
    rows = study.table()
    (args.out / "table.json").write_text(json.dumps(rows, indent=1))
    for row in rows:
        print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()})
    print(f"total {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
