"""The jettag task of ``l1scout run``: Level-1 jet tagging and the HH -> 4b seed (config loader, run function)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from l1scout.cli._common import RunOptions, print_stage_times, progress_bars, result_console

if TYPE_CHECKING:
    from l1scout.tasks.jettag.config import JetTagConfig
    from l1scout.tasks.jettag.results import JetTagResult

__all__ = ["load_jettag", "print_jettag_result", "run_jettag_cli"]


def load_jettag(path: Path | None) -> JetTagConfig:
    """The task file at *path*, or the embedded demo defaults when None."""
    from l1scout.tasks.jettag.config import demo_config, load_jettag_config

    return demo_config() if path is None else load_jettag_config(path)


def _fmt(value: object, spec: str = ".3f") -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return "-"
    return format(value, spec) if isinstance(value, int | float) else str(value)


def print_jettag_result(result: JetTagResult) -> None:
    """Print the stage times, the AUC table, the checks, the HH -> 4b table and the report path."""
    from rich.table import Table

    console = result_console()
    print_stage_times(console, "jet-tagging pipeline stages", dict(result.stage_seconds))
    views = list(result.views)
    table = Table(title="AUC per class (test jets)")
    table.add_column("class", justify="left")
    for v in views:
        table.add_column(f"AUC {v}", justify="right")
        table.add_column(f"jets {v}", justify="right")
    for row in result.auc_table():
        cells = [str(row["class"])]
        for v in views:
            cells += [_fmt(row[v]), str(row[f"{v} jets"])]
        table.add_row(*cells)
    console.print(table)
    for view, vr in result.views.items():
        b, r = vr.btag, vr.response
        parity = (
            "-"
            if vr.onnx_parity is None
            else f"{vr.onnx_parity:.2g} ({'ok' if vr.onnx_ok else 'FAILED'})"
        )
        console.print(
            f"{view}: card BTag b eff {_fmt(b.card_eff)}, light mistag {_fmt(b.card_mistag, '.4f')}; "
            f"tagger mistag at that eff {_fmt(b.tagger_mistag_at_card_eff, '.4f')}; response raw "
            f"{_fmt(r.raw_median)} -> regressed {_fmt(r.regressed_median)} (resolution "
            f"{_fmt(r.regressed_resolution)}); ONNX parity {parity}",
            highlight=False,
        )
    fw = result.firmware
    if fw is not None:
        console.print(
            f"firmware {fw.path}: integer emulation bit-exact {fw.emulation_bit_exact} on "
            f"{fw.emulation_jets:,} jets; hls4ml C++ bit-exact {fw.hls_bit_exact} on {fw.hls_jets} jets",
            highlight=False,
        )
    if result.hh4b is not None:
        t = Table(
            title=f"HH -> 4b seed ({result.hh4b.zero_bias_events} zero-bias, "
            f"{result.hh4b.signal_events} signal events)"
        )
        for name in (
            "rate kHz",
            "working point",
            "b-tags",
            "HT thr",
            "eff",
            "HT+b thr",
            "eff",
            "drop",
            "measurable",
        ):
            t.add_column(name, justify="right")
        for hr in result.hh4b.rows:
            t.add_row(
                f"{hr.rate_khz:g}",
                hr.working_point,
                str(hr.n_btag),
                f"{hr.ht_threshold:.0f}",
                f"{hr.ht_only_efficiency.value:.3f}",
                f"{hr.btag_ht_threshold:.0f}",
                f"{hr.with_btag_efficiency.value:.3f}",
                f"{hr.threshold_drop:.0f}",
                str(hr.measurable),
            )
        console.print(t)
    console.print(f"report: [bold]{result.report}[/]", highlight=False)


def run_jettag_cli(config: JetTagConfig, options: RunOptions) -> JetTagResult:
    """Run the jet-tagging task with progress bars and print its results."""
    from l1scout.tasks.jettag.pipeline import run_jettag

    with progress_bars() as update:
        result = run_jettag(
            config,
            options.out,
            options.data,
            tracking_uri=options.tracking_uri,
            firmware=options.firmware is not False,
            progress=update,
        )
    print_jettag_result(result)
    return result
