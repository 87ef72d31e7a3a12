"""One detector view of a batch of generated events: simulation and reconstruction.

:func:`simulate_view` runs the chain of a view card over a batch, vectorised
over all particles of all events: propagation, tracking, calorimeters,
particle flow (with the L1T cut), vertices, CHS, PUPPI, rho, electrons,
muons (and, when the card has a ``muon_system``, the standalone Level-1
muons of the muon track finders), photons, jets with flavour and b-tagging,
MET and HT. It returns the
view's columns (:func:`l1scout.io.schema.view_columns`), and on request its
detector elements with their truth (:mod:`l1scout.reco.elements`). :func:`truth_objects`
makes the generator jets and generator MET shared by the views.

Every stage's wall time is added to an optional ``timer`` dictionary (the
simulation benchmark reads it).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Collection, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from l1scout._jagged import event_index, offsets_from_counts
from l1scout._timing import Timer, stage
from l1scout._types import F64, I64
from l1scout.detector.calorimeter import (
    CaloTowers,
    energy_fractions,
    particle_deposits,
    run_calorimeter,
)
from l1scout.detector.card import TruthJetSpec
from l1scout.detector.muon_system import standalone_muons
from l1scout.detector.particles import GenParticles
from l1scout.detector.propagation import beyond_end_caps, propagate_to_surface
from l1scout.detector.tracking import Tracks, reconstruct_tracks
from l1scout.detector.view_card import BTagWorkingPoint, JetSpec, ViewCard
from l1scout.errors import ConfigError
from l1scout.io.schema import ELEMENT_COLLECTIONS
from l1scout.pdg import is_heavy_flavour_hadron
from l1scout.reco.chs import chs_flags
from l1scout.reco.elements import element_arrays
from l1scout.reco.jets import (
    JetDefinitionSpec,
    Jets,
    btag,
    cluster_jets,
    constituent_sums,
    jet_flavour,
)
from l1scout.reco.leptons import IsolationInputs, ehad_over_eem, keep_with, match_photons, select
from l1scout.reco.met import missing_momentum, scalar_ht
from l1scout.reco.particleflow import Candidates, build_candidates
from l1scout.reco.puppi import CHARGED_PU, CHARGED_PV, LEPTON, NEUTRAL, puppi_weights
from l1scout.reco.rho import rho_for, rho_grid_median
from l1scout.reco.vertexing import gap_cluster_vertices

__all__ = ["simulate_view", "truth_objects"]

Columns = dict[str, tuple[npt.NDArray[Any], ...]]


def _put(cols: Columns, prefix: str, offsets: I64, fields: Mapping[str, npt.ArrayLike]) -> None:
    for name, values in fields.items():
        cols[f"{prefix}_{name}"] = (offsets, np.asarray(values))


def _single(cols: Columns, prefix: str, fields: Mapping[str, npt.ArrayLike]) -> None:
    n = len(np.asarray(next(iter(fields.values()))))
    _put(cols, prefix, np.arange(n + 1, dtype=np.int64), fields)


def _particle_fields(c: Candidates) -> dict[str, npt.ArrayLike]:
    return {
        "fUniqueID": c.uid,
        "PID": c.pid,
        "Charge": c.charge,
        "PT": c.pt,
        "Eta": c.eta,
        "Phi": c.phi,
        "E": c.energy,
        "Mass": c.mass,
        "D0": c.d0,
        "DZ": c.dz,
        "ErrorD0": c.err_d0,
        "ErrorDZ": c.err_dz,
        "IsPU": c.is_pu,
        "IsRecoPU": c.is_reco_pu,
        "PuppiW": c.puppi_w,
    }


def _definition(spec: JetSpec | TruthJetSpec) -> JetDefinitionSpec:
    return JetDefinitionSpec(algorithm=spec.algorithm, radius=spec.radius, pt_min=spec.pt_min)


def _flavour_tags(
    gen: GenParticles, spec: JetSpec, *, hadrons: bool, cache: dict[str, Any]
) -> tuple[I64, I64]:
    """Indices and offsets of the flavour tags of a jet collection, made once per batch.

    Hard-process partons of the hard collision above the card's pT inside its
    |eta| (and, with *hadrons*, its b and c hadrons).
    """
    key = f"tags {spec.flavour_parton_pt_min} {spec.flavour_parton_eta_max} {hadrons}"
    if key not in cache:
        hard = gen.hard
        apid = np.abs(gen.pid[hard])
        status = gen.status[hard]
        keep = ((apid <= 5) | (apid == 21)) & (status >= 21) & (status <= 29)
        keep &= gen.pt[hard] > spec.flavour_parton_pt_min
        keep &= np.abs(gen.eta[hard]) < spec.flavour_parton_eta_max
        if hadrons:
            pid = gen.pid[hard]
            keep |= is_heavy_flavour_hadron(pid, 5) | is_heavy_flavour_hadron(pid, 4)
        sel = hard[keep]  # still grouped by event, in generator order
        cache[key] = sel, offsets_from_counts(np.bincount(gen.event[sel], minlength=gen.n_events))
    tags: tuple[I64, I64] = cache[key]
    return tags


def _efficiency(wp: BTagWorkingPoint) -> Callable[[str, F64, F64], F64]:
    """The b-tag efficiency of a working point as :func:`l1scout.reco.jets.btag` takes it."""

    def efficiency(kind: str, pt: F64, eta: F64) -> F64:
        table = {"b": wp.b, "c": wp.c}.get(kind, wp.light)
        return table(pt, eta)

    return efficiency


def _substream(rng: np.random.Generator, name: str) -> np.random.Generator:
    """A random stream of its own for *name*, from the seed of *rng* (not its state).

    What it draws does not depend on what *rng* or other substreams drew before,
    so a collection's random numbers are the same whichever other collections
    a file writes.
    """
    seq = rng.bit_generator.seed_seq
    if not isinstance(seq, np.random.SeedSequence):  # pragma: no cover - a generator without one
        msg = "the view's random stream needs a SeedSequence"
        raise TypeError(msg)
    key = (*seq.spawn_key, zlib.crc32(name.encode()))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seq.entropy, spawn_key=key)))


def _jet_columns(
    cols: Columns,
    prefix: str,
    jets: Jets,
    coll: Candidates,
    gen: GenParticles,
    spec: JetSpec,
    card: ViewCard,
    rng: np.random.Generator,
    cache: dict[str, Any],
) -> None:
    charge, n_ch, n_neu = constituent_sums(jets, coll.offsets, coll.charge)
    flavours = []
    for hadrons in (True, False):  # Flavor, then the physics flavour of BTagPhys
        idx, off = _flavour_tags(gen, spec, hadrons=hadrons, cache=cache)
        flavours.append(
            jet_flavour(
                jets, off, gen.eta[idx], gen.phi[idx], gen.pid[idx], delta_r=spec.flavour_delta_r
            )
        )
    flavour, flavour_phys = flavours
    tag = np.zeros(len(jets.pt), np.int8)
    tag_phys = np.zeros(len(jets.pt), np.int8)
    points = {wp.name: wp for wp in card.btag}
    for name in spec.btag:
        wp = points[name]
        eff = _efficiency(wp)
        tag |= (btag(flavour, jets.pt, jets.eta, eff, rng) << wp.bit).astype(np.int8)
        tag_phys |= (btag(flavour_phys, jets.pt, jets.eta, eff, rng) << wp.bit).astype(np.int8)
    _put(
        cols,
        prefix,
        jets.offsets,
        {
            "PT": jets.pt,
            "Eta": jets.eta,
            "Phi": jets.phi,
            "Mass": jets.mass,
            "Charge": charge,
            "Flavor": flavour,
            "BTag": tag,
            "BTagPhys": tag_phys,
            "NCharged": n_ch,
            "NNeutrals": n_neu,
        },
    )
    const_event = np.repeat(event_index(jets.offsets), np.diff(jets.constituent_offsets))
    glob = coll.offsets[const_event] + jets.constituents
    cols[f"{prefix}_Constituents"] = (jets.offsets, jets.constituent_offsets, coll.uid[glob])
    cols[f"{prefix}_ConstituentsIdx"] = (
        jets.offsets,
        jets.constituent_offsets,
        jets.constituents.astype(np.int16),
    )


def _subtract_rho_area(jets: Jets, rho: F64, radius: float, pt_min: float) -> Jets:
    """Scale each jet by max(0, 1 - rho pi R^2 / pT), keep pT >= pt_min, re-sort (JetPileUpSubtractor)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.clip(
            1.0 - rho * np.pi * radius**2 / np.where(jets.pt > 0, jets.pt, 1.0), 0.0, 1.0
        )
    pt = jets.pt * scale
    n_ev = len(jets.offsets) - 1
    event = event_index(jets.offsets)
    keep = np.flatnonzero(pt >= pt_min)
    order = keep[np.lexsort((-pt[keep], event[keep]))]
    n_const = np.diff(jets.constituent_offsets)
    lengths = n_const[order]
    new_offsets = offsets_from_counts(lengths)
    shift = np.repeat(jets.constituent_offsets[order] - new_offsets[:-1], lengths)
    const_idx = np.arange(int(new_offsets[-1]), dtype=np.int64) + shift
    return Jets(
        offsets=offsets_from_counts(np.bincount(event[order], minlength=n_ev)),
        px=jets.px[order] * scale[order],
        py=jets.py[order] * scale[order],
        pz=jets.pz[order] * scale[order],
        e=jets.e[order] * scale[order],
        pt=pt[order],
        eta=jets.eta[order],
        phi=jets.phi[order],
        mass=jets.mass[order] * scale[order],
        constituent_offsets=new_offsets,
        constituents=jets.constituents[const_idx],
    )


def simulate_view(
    gen: GenParticles,
    card: ViewCard,
    pv_z: F64,
    n_vertices: I64,
    rng: np.random.Generator,
    timer: Timer | None = None,
    shared: dict[str, Any] | None = None,
    elements: Collection[str] = (),
) -> Columns:
    """The columns of one view for a batch of generated events.

    Args:
        gen: the generated particles (hard collision and pileup).
        card: the view card.
        pv_z: true z of the hard collision in every event (mm).
        n_vertices: number of true collisions in every event (1 + pileup).
        rng: the view's random stream for this batch.
        timer: stage timings are added here when given.
        shared: intermediate results of this batch that do not depend on the
            view's random stream (propagation, calorimeter deposits), keyed by
            the card sections they come from; views with equal sections reuse them.
        elements: the detector-element collections to add (names of
            :data:`l1scout.io.schema.ELEMENT_COLLECTIONS`, such as ``Track``);
            they draw no random number and change no other column.
    """
    unknown = sorted(set(elements) - set(ELEMENT_COLLECTIONS))
    if unknown:
        msg = (
            f"elements: unknown collection {unknown[0]!r} (known: {', '.join(ELEMENT_COLLECTIONS)})"
        )
        raise ConfigError(msg)
    view = card.name
    n_ev = gen.n_events
    cols: Columns = {}
    prop = card.propagation
    with stage(timer, f"{view}: propagation"):
        cache: dict[str, Any] = shared if shared is not None else {}
        # only visible particles are used, and none that surely lands beyond both the
        # calorimeters and the tracker (their hits would be dropped): not propagated
        eta_max = max(
            card.tracking.eta_max,
            *(
                abs(e)
                for c in (card.ecal, card.hcal)
                for g in c.segments
                for e in (g.eta_min, g.eta_max)
            ),
        )
        hits_key = f"hits {prop.model_dump_json()} {eta_max!r}"
        cached = cache.get(hits_key)
        if cached is None:
            needed = gen.visible & ~beyond_end_caps(
                gen.eta, gen.x, gen.y, gen.z, half_length_mm=prop.half_length_mm, eta_max=eta_max
            )
            cached = propagate_to_surface(
                gen.px,
                gen.py,
                gen.pz,
                gen.charge,
                gen.x,
                gen.y,
                gen.z,
                bz_tesla=prop.bz_tesla,
                radius_mm=prop.radius_mm,
                half_length_mm=prop.half_length_mm,
                needed=needed,
            )
        hits = cached
        cache[hits_key] = hits
    with stage(timer, f"{view}: tracking"):
        tracks = reconstruct_tracks(gen, hits, card.tracking, prop.bz_tesla, rng)
    with stage(timer, f"{view}: calorimeters"):
        fractions = card.particle_flow.model_dump_json(
            include={"default_fraction_ecal", "default_fraction_hcal", "energy_fractions"}
        )
        if f"fractions {fractions}" not in cache:
            cache[f"fractions {fractions}"] = energy_fractions(gen.pid, card.particle_flow)
        f_ecal, f_hcal = cache[f"fractions {fractions}"]
        t_ecal, t_hcal = energy_fractions(tracks.pid, card.particle_flow)
        deposits = []
        for calo, frac in ((card.ecal, f_ecal), (card.hcal, f_hcal)):
            key = f"deposits {hits_key} {calo.model_dump_json()} {fractions} {frac is f_ecal}"
            if key not in cache:
                cache[key] = particle_deposits(gen, hits, calo, frac)
            deposits.append(cache[key])
        ecal, ecal_neutral = run_calorimeter(
            gen, hits, tracks, card.ecal, f_ecal, t_ecal, rng, deposits[0]
        )
        hcal, hcal_neutral = run_calorimeter(
            gen, hits, tracks, card.hcal, f_hcal, t_hcal, rng, deposits[1]
        )
    if elements:
        with stage(timer, f"{view}: elements"):
            cols.update(element_arrays(card, gen, tracks, (ecal, hcal), deposits, elements, cache))
    with stage(timer, f"{view}: particle flow"):
        pf = card.particle_flow
        cands = build_candidates(
            gen,
            tracks,
            ecal_neutral,
            hcal_neutral,
            photon_pid=pf.photon_pid,
            neutral_hadron_pid=pf.neutral_hadron_pid,
            max_candidates=pf.max_candidates,
        )
    with stage(timer, f"{view}: vertices"):
        vt = card.vertexing
        times = None
        if vt.time_resolution_ps > 0:
            times = gen.t[tracks.gen] + vt.time_resolution_ps * 1e-12 * rng.standard_normal(
                len(tracks.gen)
            )
        vertices = gap_cluster_vertices(
            tracks.offsets,
            tracks.dz,
            tracks.err_dz,
            tracks.pt,
            times,
            pt_min=vt.track_pt_min,
            z_gap=vt.z_gap_mm,
            min_tracks=vt.min_tracks,
        )
        _put(
            cols,
            f"{view}_Vertex",
            vertices.offsets,
            {
                "Index": np.arange(len(vertices.z))
                - vertices.offsets[event_index(vertices.offsets)],
                "X": np.zeros(len(vertices.z)),
                "Y": np.zeros(len(vertices.z)),
                "Z": vertices.z,
                "T": vertices.t,
                "NDF": vertices.ndf,
                "SumPT2": vertices.sum_pt2,
            },
        )
    with stage(timer, f"{view}: CHS"):
        cands = cands.replace(is_reco_pu=chs_flags(cands.gen, gen, pv_z, card.chs.sigma_z))
    with stage(timer, f"{view}: PUPPI"):
        category = np.where(
            cands.charge == 0,
            NEUTRAL,
            np.where(
                cands.is_lepton, LEPTON, np.where(cands.is_reco_pu == 1, CHARGED_PU, CHARGED_PV)
            ),
        ).astype(np.int8)
        n_pv = (card.puppi.n_pv_fraction * n_vertices).astype(np.int64)
        weights = puppi_weights(
            cands.offsets,
            cands.pt,
            cands.eta,
            cands.rapidity,
            cands.phi,
            category,
            n_pv,
            card.puppi,
        )
        cands = cands.replace(puppi_w=weights.astype(np.float32))
        chs_cands = cands.take(cands.is_reco_pu == 0)
        _put(cols, f"{view}_PFPart", chs_cands.offsets, _particle_fields(chs_cands))
        _put(cols, f"{view}_PUPPIPart", cands.offsets, _particle_fields(cands))
    regions = [(float(r[0]), float(r[1])) for r in card.rho.regions]
    with stage(timer, f"{view}: rho"):
        rho = rho_grid_median(
            chs_cands.offsets,
            chs_cands.pt,
            chs_cands.rapidity,
            chs_cands.phi,
            regions=regions,
            cell_size=card.rho.cell_size,
            signed=True,
        )
        _put(
            cols,
            f"{view}_Rho",
            np.arange(n_ev + 1, dtype=np.int64) * len(card.rho.regions),
            {"Rho": rho.ravel()},
        )
    with stage(timer, f"{view}: leptons and photons"):
        _leptons(cols, view, gen, tracks, cands, ecal, hcal, rho, card, rng)
    if card.muon_system is not None:
        with stage(timer, f"{view}: standalone muons"):
            prefix = f"{view}_{card.muon_system.collection}"
            mu = standalone_muons(gen, card.muon_system, _substream(rng, prefix))
            _put(cols, prefix, mu.offsets, mu.columns())
    with stage(timer, f"{view}: jets"):
        for spec in card.jets:
            coll = chs_cands if spec.input == "pf" else cands
            w = None if spec.input == "pf" else coll.puppi_w.astype(np.float64)
            definition = _definition(spec)
            if spec.subtract_rho_area and rho.size:
                # a jet passes only if its raw pT >= pt_min + rho pi R^2 with its own rho,
                # so the smallest rho of the batch gives a safe, much higher raw threshold
                area = np.pi * spec.radius**2
                definition = JetDefinitionSpec(
                    algorithm=spec.algorithm,
                    radius=spec.radius,
                    pt_min=spec.pt_min + max(0.0, float(rho.min())) * area,
                )
            jets = cluster_jets(
                coll.offsets, coll.px, coll.py, coll.pz, coll.energy, definition, weights=w
            )
            if spec.subtract_rho_area:
                rho_jet = rho_for(jets.eta, event_index(jets.offsets), rho, regions, signed=True)
                jets = _subtract_rho_area(jets, rho_jet, spec.radius, spec.pt_min)
            prefix = f"{view}_{spec.name}"
            jet_rng = _substream(rng, prefix)  # b-tagging: the same bits in any fast mode
            _jet_columns(cols, prefix, jets, coll, gen, spec, card, jet_rng, cache)
    with stage(timer, f"{view}: MET and HT"):
        met = missing_momentum(cands.event, cands.px, cands.py, cands.pz, n_ev)
        _single(cols, f"{view}_MET", {"MET": met[0], "Eta": met[1], "Phi": met[2]})
        w = cands.puppi_w.astype(np.float64)
        pmet = missing_momentum(cands.event, w * cands.px, w * cands.py, w * cands.pz, n_ev)
        _single(cols, f"{view}_PUPPIMET", {"MET": pmet[0], "Eta": pmet[1], "Phi": pmet[2]})
        _single(cols, f"{view}_ScalarHT", {"HT": scalar_ht(cands.event, w * cands.pt, n_ev)})
    return cols


def _leptons(
    cols: Columns,
    view: str,
    gen: GenParticles,
    tracks: Tracks,
    cands: Candidates,
    ecal: CaloTowers,
    hcal: CaloTowers,
    rho: F64,
    card: ViewCard,
    rng: np.random.Generator,
) -> None:
    n_ev = gen.n_events
    regions = [(float(r[0]), float(r[1])) for r in card.rho.regions]
    puppi_in = IsolationInputs.from_candidates(cands, weighted=True)
    chs_in = IsolationInputs.from_candidates(cands, weighted=False)
    t_event = gen.event[tracks.gen]
    apid = np.abs(tracks.pid)
    for name, pid, spec in (("Electron", 11, card.electron), ("MuonTight", 13, card.muon)):
        keep = (apid == pid) & (tracks.pt > spec.pt_min)
        keep &= keep_with(spec.efficiency, tracks.pt, tracks.eta, rng)
        keep &= keep_with(spec.id_efficiency, tracks.pt, tracks.eta, rng)
        idx, off = select(t_event, keep, n_ev)
        ev = t_event[idx]
        pt, eta, phi = tracks.pt[idx], tracks.eta[idx], tracks.phi[idx]
        none = np.full(len(idx), -1, np.int64)  # leptons are not in the isolation lists
        iso = puppi_in.sums(off, pt, eta, phi, none, np.zeros(len(idx)), spec.isolation)
        iso_chs = chs_in.sums(
            off, pt, eta, phi, none, rho_for(eta, ev, rho, regions, signed=True), spec.isolation
        )
        passed = iso.isolation_var <= spec.isolation.pt_ratio_max
        order = np.lexsort((-pt[passed], ev[passed]))
        sel = np.flatnonzero(passed)[order]
        off = offsets_from_counts(np.bincount(ev[sel], minlength=n_ev))
        fields: dict[str, npt.ArrayLike] = {
            "Charge": tracks.charge[idx][sel],
            "D0": tracks.d0[idx][sel],
            "DZ": tracks.dz[idx][sel],
            "ErrorD0": tracks.err_d0[idx][sel],
            "ErrorDZ": tracks.err_dz[idx][sel],
            "PT": pt[sel],
            "Eta": eta[sel],
            "Phi": phi[sel],
        }
        if pid == 11:
            fields["EhadOverEem"] = ehad_over_eem(
                ecal, hcal, ev[sel], tracks.surface_eta[idx][sel], tracks.surface_phi[idx][sel]
            )
        fields["IsolationVar"] = iso.isolation_var[sel]
        fields["IsolationVarRhoCorr"] = iso_chs.isolation_var_rho_corr[sel]
        _put(cols, f"{view}_{name}", off, fields)

    # photons: ECAL neutral candidates of the candidate list above pt_min
    ph = card.photon
    is_photon = (
        (cands.charge == 0) & (cands.pid == card.particle_flow.photon_pid) & (cands.pt >= ph.pt_min)
    )
    idx, off = select(cands.event, is_photon, n_ev)
    ev = cands.event[idx]
    pt, eta, phi = cands.pt[idx], cands.eta[idx], cands.phi[idx]
    iso_puppi = puppi_in.sums(
        off, pt, eta, phi, puppi_in.own_index(idx), np.zeros(len(idx)), ph.isolation
    ).isolation_var
    iso_rho = chs_in.sums(
        off,
        pt,
        eta,
        phi,
        chs_in.own_index(idx),
        rho_for(eta, ev, rho, regions, signed=True),
        ph.isolation,
    ).isolation_var_rho_corr
    matched = match_photons(
        ev, pt, eta, phi, gen, delta_r=ph.match_delta_r, pt_ratio=ph.match_pt_ratio
    )
    prompt = matched & (iso_puppi < ph.prompt_isolation_max)
    eff = np.where(
        prompt,
        ph.prompt(pt, eta),
        np.where(matched, ph.non_prompt(pt, eta), ph.fake(pt, eta)),
    )
    keep = (rng.random(len(idx)) < eff) & (iso_puppi <= ph.isolation.pt_ratio_max)
    sel = np.flatnonzero(keep)
    off = offsets_from_counts(np.bincount(ev[sel], minlength=n_ev))
    _put(
        cols,
        f"{view}_PhotonTight",
        off,
        {
            "PT": pt[sel],
            "Eta": eta[sel],
            "Phi": phi[sel],
            "EhadOverEem": ehad_over_eem(ecal, hcal, ev[sel], eta[sel], phi[sel]),
            "IsolationVar": iso_puppi[sel],
            "IsolationVarRhoCorr": iso_rho[sel],
        },
    )


def truth_objects(gen: GenParticles, jets: list[TruthJetSpec]) -> Columns:
    """Generator jets and generator MET from the visible particles of the hard collision."""
    cols: Columns = {}
    keep = gen.visible & (gen.is_pu == 0)
    idx, off = select(gen.event, keep, gen.n_events)
    for spec in jets:
        j = cluster_jets(
            off, gen.px[idx], gen.py[idx], gen.pz[idx], gen.energy[idx], _definition(spec)
        )
        _put(cols, spec.name, j.offsets, {"PT": j.pt, "Eta": j.eta, "Phi": j.phi, "Mass": j.mass})
    met = missing_momentum(gen.event[idx], gen.px[idx], gen.py[idx], gen.pz[idx], gen.n_events)
    _single(cols, "Gen_MissingET", {"MET": met[0], "Eta": met[1], "Phi": met[2]})
    return cols
