"""The plots of the validation page: one PNG per study, all views overlaid.

:func:`draw_plots` draws every figure of :data:`_PLOTS` (matplotlib with
mplhep's CMS style, :func:`l1scout._html.plot_style`) into the output folder
and returns the (title, path) pairs the page shows. matplotlib is imported
only here, when the plots are drawn.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from l1scout._html import plot_style, save_png
from l1scout._types import F64
from l1scout.detector.validation import metrics as m
from l1scout.detector.validation.definitions import (
    EFF_PT_EDGES,
    FAT_JET_PT_EDGES,
    JET_PT_EDGES,
    L1T_MAX_CANDIDATES,
    MUON_PT_EDGES,
    PUPPI_W_EDGES,
    RES_PT_EDGES,
    SPECIES,
)
from l1scout.detector.validation.results import ValidationResult

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["draw_plots"]

_log = logging.getLogger(__name__)

_SPECIES_LABEL = {"electron": "electrons", "muon": "muons", "charged_hadron": "charged hadrons"}
_VIEW_COLORS = {"FullReco": "tab:blue", "L1T": "tab:red"}
_OTHER_COLORS = ("tab:green", "tab:purple", "tab:orange", "tab:brown")


def _color(view: str, k: int) -> str:
    return _VIEW_COLORS.get(view, _OTHER_COLORS[k % len(_OTHER_COLORS)])


def _figure(nrows: int, ncols: int) -> tuple[Figure, npt.NDArray[Any]]:
    import matplotlib.pyplot as plt

    width, height = 8.5 * ncols, 7.0 * nrows
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), squeeze=False)
    # fixed margins in inches: tight_layout triples the drawing time of these figures
    fig.subplots_adjust(
        left=1.4 / width,
        right=1 - 0.3 / width,
        bottom=1.1 / height,
        top=1 - 0.6 / height,
        wspace=0.3,
        hspace=0.35,
    )
    return fig, axes


def _log_x(ax: Axes, edges: F64) -> None:
    """Log x axis over the bins, labelled with plain numbers at 1-2-5 steps."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    ax.set_xscale("log")
    ax.set_xlim(edges[0], edges[-1])
    steps = [f * 10.0**e for e in range(-1, 4) for f in (1.0, 2.0, 5.0)]
    ax.set_xticks([t for t in steps if edges[0] <= t <= edges[-1]])
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _legend(ax: Axes, **kwargs: Any) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(**kwargs)


def _save(fig: Figure, path: Path) -> Path:
    return save_png(fig, path, dpi=70)


def _plot_efficiency(result: ValidationResult, out: Path) -> Path:
    fig, axes = _figure(2, 3)
    for col, name in enumerate(SPECIES):
        for row, var in enumerate(("pt", "eta")):
            ax = axes[row, col]
            for k, (view, s) in enumerate(result.views.items()):
                b = s.efficiency[f"{name}_{var}"]
                color = _color(view, k)
                half = 0.5 * np.diff(b.edges)
                ax.errorbar(
                    b.centers,
                    b.efficiency,
                    yerr=b.error,
                    xerr=half,
                    fmt="o",
                    ms=4,
                    color=color,
                    label=view,
                )
                if np.isfinite(b.expected).any():
                    ax.stairs(
                        b.expected,
                        b.edges,
                        baseline=None,
                        color=color,
                        ls="--",
                        label=f"{view} card",
                    )
            ax.set_ylim(0, 1.15)
            ax.set_ylabel("tracking efficiency")
            if var == "pt":
                _log_x(ax, EFF_PT_EDGES)
                ax.set_xlabel(r"generated $p_T$ [GeV] ($|\eta| < 2.4$)")
            else:
                ax.set_xlabel(r"generated $\eta$ ($p_T > 2$ GeV)")
            ax.set_title(f"{_SPECIES_LABEL[name]}, hard scatter", fontsize=18)
            _legend(ax, fontsize=13, loc="lower right")
    return _save(fig, out / "tracking_efficiency.png")


def _measured_and_expected(
    ax: Axes, measured: m.BinnedSpread, expected: F64, color: str, view: str, what: str
) -> None:
    """Measured widths per bin (markers) and the expected ones (dashed steps, when known)."""
    ax.plot(measured.centers, measured.sigma, "o", color=color, label=view)
    if np.isfinite(expected).any():
        ax.stairs(
            expected, measured.edges, baseline=None, color=color, ls="--", label=f"{view} {what}"
        )


def _plot_track_resolution(result: ValidationResult, out: Path) -> Path:
    fig, axes = _figure(1, 2)
    ax_pt, ax_dz = axes[0]
    for k, (view, s) in enumerate(result.views.items()):
        color = _color(view, k)
        _measured_and_expected(ax_pt, s.pt_resolution, s.pt_resolution_card, color, view, "card")
        _measured_and_expected(
            ax_dz, s.dz_resolution, s.dz_resolution_card, color, view, "mean ErrorDZ"
        )
    ax_pt.set_ylabel(r"$\sigma(p_T)/p_T$ (robust)")
    ax_pt.set_title(r"charged hadrons, $|\eta| < 1.2$", fontsize=18)
    ax_dz.set_ylabel(r"$\sigma(d_z - z_{gen})$ [mm] (robust)")
    ax_dz.set_title(r"prompt hard-scatter tracks, $|\eta| < 1.2$", fontsize=18)
    for ax in (ax_pt, ax_dz):
        _log_x(ax, RES_PT_EDGES)
        ax.set_xlabel(r"generated $p_T$ [GeV]")
        ax.set_ylim(bottom=0)
        _legend(ax, fontsize=13)
    return _save(fig, out / "track_resolution.png")


def _plot_vertices(result: ValidationResult, out: Path) -> Path:
    fig, axes = _figure(1, 2)
    ax_dz, ax_n = axes[0]
    sigmas = [s.numbers["pv_dz_sigma"] for s in result.views.values()]
    finite = [x for x in sigmas if math.isfinite(x)]
    half = min(max(5.0 * max(finite, default=0.0), 0.05), 10.0)
    dz_edges = np.linspace(-half, half, 51)
    top = max([int(s.n_vertices.max(initial=0)) for s in result.views.values()] + [1])
    n_edges = np.arange(-0.5, top + 1.5, max(1, (top + 2) // 60))
    for k, (view, s) in enumerate(result.views.items()):
        color = _color(view, k)
        dz = np.clip(s.pv_dz[np.isfinite(s.pv_dz)], dz_edges[0], dz_edges[-1])
        label = f"{view}: $\\sigma$ = {s.numbers['pv_dz_sigma'] * 1e3:.0f} $\\mu$m"
        ax_dz.stairs(np.histogram(dz, dz_edges)[0], dz_edges, color=color, label=label)
        ax_n.stairs(np.histogram(s.n_vertices, n_edges)[0], n_edges, color=color, label=view)
    ax_dz.set_xlabel(r"$z_{PV}^{reco} - z_{HS}^{gen}$ [mm] (overflow in the edge bins)")
    ax_dz.set_ylabel("events")
    ax_n.set_xlabel("reconstructed vertices per event")
    ax_n.set_ylabel("events")
    first = next(iter(result.views.values()), None)
    if first is not None and len(first.n_true_vertices):
        ax_n.axvline(
            float(np.mean(first.n_true_vertices)),
            color="gray",
            ls=":",
            label="mean generated collisions",
        )
    _legend(ax_dz, fontsize=13)
    _legend(ax_n, fontsize=13)
    return _save(fig, out / "vertices.png")


def _plot_jets(result: ValidationResult, out: Path, kind: str) -> Path | None:
    colls = ("JetAK4", "JetPuppiAK4") if kind == "ak4" else ("JetAK8", "JetPuppiAK8")
    if not any(c in s.jets for s in result.views.values() for c in colls):
        return None
    fig, axes = _figure(1, 2)
    ax_r, ax_s = axes[0]
    for k, (view, s) in enumerate(result.views.items()):
        color = _color(view, k)
        for coll in colls:
            if coll not in s.jets:
                continue
            r = s.jets[coll]
            style = "s--" if "Puppi" in coll else "o-"
            label = f"{view} {'PUPPI' if 'Puppi' in coll else 'CHS'}"
            ax_r.plot(r.centers, r.median, style, color=color, label=label)
            ax_s.plot(r.centers, r.resolution, style, color=color, label=label)
    ax_r.axhline(1.0, color="gray", lw=1)
    ax_r.set_ylabel(r"median $p_T / p_T^{gen}$")
    ax_s.set_ylabel(r"$\sigma(p_T / p_T^{gen})$ / median")
    ax_s.set_ylim(bottom=0)
    radius = "0.4" if kind == "ak4" else "0.8"
    for ax in (ax_r, ax_s):
        _log_x(ax, JET_PT_EDGES if kind == "ak4" else FAT_JET_PT_EDGES)
        ax.set_xlabel(r"generator jet $p_T$ [GeV]")
        ax.set_title(f"anti-kT R = {radius}, $|\\eta^{{gen}}| < 2.4$", fontsize=18)
        _legend(ax, fontsize=13)
    return _save(fig, out / f"jets_{kind}.png")


def _plot_met(result: ValidationResult, out: Path) -> Path:
    fig, axes = _figure(1, 2)
    widths = [
        s.numbers[k] for s in result.views.values() for k in ("met_sigma_x", "puppimet_sigma_x")
    ]
    finite = [w for w in widths if math.isfinite(w)]
    half = 5.0 * max(finite) if finite and max(finite) > 0 else 100.0
    edges = np.linspace(-half, half, 51)
    for col, comp in enumerate(("x", "y")):
        ax = axes[0, col]
        for k, (view, s) in enumerate(result.views.items()):
            color = _color(view, k)
            for coll, ls in (("MET", "-"), ("PUPPIMET", "--")):
                values = s.met[coll][col]
                values = np.clip(values[np.isfinite(values)], edges[0], edges[-1])
                sigma = s.numbers[f"{coll.lower()}_sigma_{comp}"]
                ax.stairs(
                    np.histogram(values, edges)[0],
                    edges,
                    color=color,
                    ls=ls,
                    label=f"{view} {coll}: {sigma:.1f} GeV",
                )
        ax.set_xlabel(f"$E_{{T,{comp}}}^{{miss}} - E_{{T,{comp}}}^{{miss,gen}}$ [GeV]")
        ax.set_ylabel("events")
        _legend(ax, fontsize=12)
    return _save(fig, out / "met.png")


def _plot_puppi(result: ValidationResult, out: Path) -> Path:
    fig, axes = _figure(len(result.views), 2)
    for row, (view, s) in enumerate(result.views.items()):
        for col, charge in enumerate(("charged", "neutral")):
            ax = axes[row, col]
            for origin, color in (("pv", "tab:green"), ("pu", "tab:gray")):
                h = s.puppi_hist[f"{charge}_{origin}"]
                label = "primary (IsPU 0)" if origin == "pv" else "pileup (IsPU 1)"
                ax.stairs(h, PUPPI_W_EDGES, color=color, label=f"{label}: {int(h.sum())}")
            if any(int(s.puppi_hist[f"{charge}_{o}"].sum()) for o in ("pv", "pu")):
                ax.set_yscale("log")
                ax.set_ylim(bottom=0.5)
            ax.set_xlabel("PUPPI weight")
            ax.set_ylabel("candidates")
            ax.set_title(f"{view}, {charge} candidates", fontsize=18)
            _legend(ax, fontsize=13, loc="upper center")
    return _save(fig, out / "puppi_weights.png")


def _plot_multiplicity(result: ValidationResult, out: Path) -> Path:
    fig, axes = _figure(1, 1)
    ax = axes[0, 0]
    top = max([int(s.n_puppi.max(initial=0)) for s in result.views.values()] + [1])
    edges = np.linspace(0, top * 1.05 + 1, 41)
    for k, (view, s) in enumerate(result.views.items()):
        ax.stairs(np.histogram(s.n_puppi, edges)[0], edges, color=_color(view, k), label=view)
    if "L1T" in result.views:
        ax.axvline(L1T_MAX_CANDIDATES, color="gray", ls=":", label="L1T cap")
    ax.set_xlabel("PUPPI candidates per event")
    ax.set_ylabel("events")
    _legend(ax, fontsize=13)
    return _save(fig, out / "multiplicity.png")


def _plot_pileup_definitions(result: ValidationResult, out: Path) -> Path | None:
    """Per view: PUPPI candidates per event and PUPPI MET x residual, one line per pileup definition."""
    if result.comparison is None:
        return None
    sides = result.comparison.sides
    views = [v for v in sides[0].views if v in sides[1].views]
    if not views:
        return None
    fig, axes = _figure(2, len(views))
    for col, view in enumerate(views):
        summaries = [side.views[view] for side in sides]
        counts = np.concatenate([s.n_puppi for s in summaries]).astype(np.float64)
        lo, hi = (float(counts.min()), float(counts.max())) if len(counts) else (0.0, 1.0)
        edges = np.linspace(0.95 * lo, 1.05 * hi + 1, 41)
        widths = [s.numbers["puppimet_sigma_x"] for s in summaries]
        finite = [w for w in widths if math.isfinite(w) and w > 0]
        half = 5.0 * max(finite) if finite else 100.0
        met_edges = np.linspace(-half, half, 41)
        for k, (side, s) in enumerate(zip(sides, summaries, strict=True)):
            color = ("tab:blue", "tab:orange")[k]
            mean = s.numbers.get("mult_PUPPIPart", math.nan)
            axes[0, col].stairs(
                np.histogram(s.n_puppi, edges)[0],
                edges,
                color=color,
                label=f"{side.label}: mean {mean:,.0f}",
            )
            dx = s.met["PUPPIMET"][0]
            dx = np.clip(dx[np.isfinite(dx)], met_edges[0], met_edges[-1])
            axes[1, col].stairs(
                np.histogram(dx, met_edges)[0],
                met_edges,
                color=color,
                label=f"{side.label}: {s.numbers['puppimet_sigma_x']:.1f} GeV",
            )
        axes[0, col].set_xlabel(f"{view} PUPPI candidates per event")
        axes[1, col].set_xlabel(f"{view} PUPPI " + "$E_{T,x}^{miss} - E_{T,x}^{miss,gen}$ [GeV]")
        for row in range(2):
            axes[row, col].set_ylabel("events")
            _legend(axes[row, col], fontsize=13)
    return _save(fig, out / "pileup_definitions.png")


_REGION_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown")
_VIEW_MARKERS = ("o", "s", "^", "D")


def _plot_standalone_muons(result: ValidationResult, out: Path) -> Path | None:
    """Standalone Level-1 muons per region vs generator pT (views whose card has ``[muon_system]``)."""
    measured = [
        (view, s.standalone_muons)
        for view, s in result.views.items()
        if s.standalone_muons is not None and s.standalone_muons.n_gen > 0
    ]
    if not measured:
        return None
    fig, axes = _figure(2, 3)
    several = len(measured) > 1
    for v, (view, mu) in enumerate(measured):
        marker = _VIEW_MARKERS[v % len(_VIEW_MARKERS)]
        for k, (region, c) in enumerate(mu.regions.items()):
            color = _REGION_COLORS[k % len(_REGION_COLORS)]
            label = f"{view} {region}" if several else region
            x = c.efficiency.centers
            half = 0.5 * np.diff(c.efficiency.edges)
            style: dict[str, Any] = {"ms": 6, "color": color, "marker": marker, "ls": "none"}
            open_style = {**style, "mfc": "none"}
            eff = c.efficiency
            axes[0, 0].errorbar(x, eff.efficiency, yerr=eff.error, xerr=half, label=label, **style)
            axes[0, 1].plot(x, c.pt.sigma, label=f"{label}: robust", **style)
            axes[0, 1].plot(x, c.pt_rms, label=f"{label}: RMS", **open_style)
            wrong = c.charge_misid
            axes[0, 2].errorbar(
                x, wrong.efficiency, yerr=wrong.error, xerr=half, label=label, **style
            )
            axes[1, 0].plot(x, c.phi_station.sigma, label=label, **style)
            axes[1, 1].plot(x, c.phi_vertex_rms, label=f"{label}: RMS", **style)
            axes[1, 1].plot(x, np.abs(c.bending), label=f"{label}: |median q dphi|", **open_style)
            axes[1, 2].plot(x, c.eta_station.sigma, label=label, **style)
            if v == 0:
                for ax, card in (
                    (axes[0, 1], c.pt_card),
                    (axes[1, 0], c.phi_station_card),
                    (axes[1, 2], c.eta_station_card),
                ):
                    if np.isfinite(card).any():
                        ax.stairs(card, c.efficiency.edges, baseline=None, color=color, ls="--")
    max_dr = measured[0][1].max_dr
    titles = (
        (f"efficiency (matched within $\\Delta R$ < {max_dr:g} at station 2)", "efficiency"),
        ("$p_T$ resolution; dashed: card core", r"$(p_T - p_T^{gen})/p_T^{gen}$ width"),
        ("charge mis-assignment", "wrong-charge share"),
        (r"$\phi$ at station 2; dashed: card", r"$\sigma(\phi - \phi^{gen}_{st})$ [rad]"),
        (r"$\phi$ to the vertex direction (bending)", r"$\phi - \phi^{gen}_{vtx}$ [rad]"),
        (r"$\eta$ at station 2; dashed: card", r"$\sigma(\eta - \eta^{gen}_{st})$"),
    )
    for ax, (title, ylabel) in zip(axes.ravel(), titles, strict=True):
        _log_x(ax, MUON_PT_EDGES)
        ax.set_xlabel(r"generated muon $p_T$ [GeV]")
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=16)
    axes[0, 0].set_ylim(0, 1.15)
    axes[0, 2].set_ylim(bottom=0)
    for ax in (axes[0, 1], axes[1, 1]):
        if ax.has_data():
            ax.set_yscale("log")
    for ax in (axes[1, 0], axes[1, 2]):
        ax.set_ylim(bottom=0)
    _legend(axes[0, 0], fontsize=12, loc="lower right")
    for ax in axes.ravel()[1:]:
        _legend(ax, fontsize=10)
    return _save(fig, out / "standalone_muons.png")


_PLOTS: tuple[tuple[str, Callable[[ValidationResult, Path], Path | None]], ...] = (
    (
        "Tracking efficiency (markers) and the view card's table x acceptance (dashed)",
        _plot_efficiency,
    ),
    ("Track pT and dz resolution", _plot_track_resolution),
    ("Primary vertex", _plot_vertices),
    ("AK4 jets: response and resolution", lambda r, o: _plot_jets(r, o, "ak4")),
    ("AK8 jets: response and resolution", lambda r, o: _plot_jets(r, o, "ak8")),
    ("Missing transverse momentum", _plot_met),
    ("PUPPI weights", _plot_puppi),
    ("PUPPI candidates per event", _plot_multiplicity),
    ("Pileup definitions side by side (with --compare)", _plot_pileup_definitions),
    (
        "Standalone Level-1 muons per region: efficiency, resolutions and charge vs generator pT",
        _plot_standalone_muons,
    ),
)


def draw_plots(result: ValidationResult, out: Path) -> list[tuple[str, Path]]:
    """Draw the figures of *result* into the folder *out*: (title, PNG path) of each one drawn.

    A figure without data (AK8 jets in files without them) is left out.
    """
    plots: list[tuple[str, Path]] = []
    with plot_style():
        for title, plot in _PLOTS:
            _log.info("plotting: %s", title)
            path = plot(result, out)
            if path is not None:
                plots.append((title, path))
    return plots
