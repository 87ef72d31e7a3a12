"""The 40 MHz Level-1 scouting stream: orbits of Phase-2 words, their unpacker, a menu of selections.

Every bunch crossing's Level-1 objects, orbit by orbit (3564 crossings, 2760 of
them colliding in the Phase-2 filling scheme): the PUPPI candidates as the
Phase-2 64-bit words with a per-crossing header, muons, e/gamma, jets and
energy sums as hardware words (:mod:`~l1scout.tasks.scouting.words`,
``docs/physics/scouting-stream.md``); orbits built from produced zero-bias
events with signals injected at the rate their cross section gives
(:mod:`~l1scout.tasks.scouting.orbits`, ``docs/physics/scouting-orbits.md``);
a compiled unpacker (:mod:`~l1scout.tasks.scouting.unpack`); a TOML menu of
selections (W -> 3 pions, soft di-tau, anomaly score, single muon, HT) with
rates on distinct zero-bias events, overlaps, pure rates and signal
efficiencies, in one process or on Dask (:mod:`~l1scout.tasks.scouting.menu_run`).
``l1scout run scouting [CONFIG]`` runs the whole chain (``docs/scouting.md``).
"""

from l1scout.tasks.scouting.config import (
    ScoutingConfig,
    demo_config,
    load_scouting_config,
)
from l1scout.tasks.scouting.encode import (
    EncodedEvents,
    encode_events,
)
from l1scout.tasks.scouting.events import (
    StreamEvents,
    read_stream_events,
)
from l1scout.tasks.scouting.menu import (
    AnomalySelection,
    DiTauSelection,
    HtSelection,
    Menu,
    SingleMuonSelection,
    W3PiSelection,
    load_menu,
    load_menu_models,
    run_menu_on_orbit,
)
from l1scout.tasks.scouting.menu_run import (
    run_menu,
    run_menu_file,
)
from l1scout.tasks.scouting.ml_selections import (
    DiTauParams,
    Scorer,
    anomaly_inputs,
    anomaly_select,
    ditau_select,
    load_scorer,
)
from l1scout.tasks.scouting.models import (
    ModelsResult,
    train_scouting_models,
)
from l1scout.tasks.scouting.orbit_file import (
    ORBIT_FILE_SUFFIX,
    OrbitFile,
    OrbitWriter,
    open_orbit_file,
)
from l1scout.tasks.scouting.orbits import (
    DEFAULT_LUMI_CM2S,
    InjectedSignal,
    OrbitPlan,
    build_orbit,
    expected_per_crossing,
    filling_scheme,
    plan_orbits,
    read_truth,
    truth_path,
    write_orbit_files,
)
from l1scout.tasks.scouting.pipeline import (
    STAGES,
    run_scouting,
)
from l1scout.tasks.scouting.pipeline_results import (
    ScoutingResult,
    StreamFacts,
)
from l1scout.tasks.scouting.report import (
    write_scouting_report,
)
from l1scout.tasks.scouting.results import (
    MenuResult,
    OrbitOutcome,
)
from l1scout.tasks.scouting.samples import (
    DEFAULT_SCOUTING_SIGNALS,
    ScoutingSamplesConfig,
    SignalRequest,
    ensure_scouting_samples,
    scouting_dataset_hash,
)
from l1scout.tasks.scouting.selections import (
    SelectionOutput,
    W3PiCuts,
    ht_select,
    single_muon_select,
    w3pi_pions,
    w3pi_select,
)
from l1scout.tasks.scouting.unpack import (
    BxIndex,
    Problems,
    UnpackedObjects,
    UnpackedPuppi,
    scan_headers,
    unpack_objects,
    unpack_puppi,
)
from l1scout.tasks.scouting.words import (
    FILLED_BX,
    MAX_OBJECTS,
    ORBIT_BX,
    ORBIT_RATE_KHZ,
    PDG_CODES,
    STREAMS,
    HeaderFields,
    PuppiHardware,
    decode_egamma,
    decode_headers,
    decode_jets,
    decode_muons,
    decode_puppi,
    decode_sums,
    encode_egamma,
    encode_headers,
    encode_jets,
    encode_muons,
    encode_puppi,
    encode_sums,
    pack_stream,
    puppi_physical,
    puppi_to_hardware,
)

__all__ = [
    "DEFAULT_LUMI_CM2S",
    "DEFAULT_SCOUTING_SIGNALS",
    "FILLED_BX",
    "MAX_OBJECTS",
    "ORBIT_BX",
    "ORBIT_FILE_SUFFIX",
    "ORBIT_RATE_KHZ",
    "PDG_CODES",
    "STAGES",
    "STREAMS",
    "AnomalySelection",
    "BxIndex",
    "DiTauParams",
    "DiTauSelection",
    "EncodedEvents",
    "HeaderFields",
    "HtSelection",
    "InjectedSignal",
    "Menu",
    "MenuResult",
    "ModelsResult",
    "OrbitFile",
    "OrbitOutcome",
    "OrbitPlan",
    "OrbitWriter",
    "Problems",
    "PuppiHardware",
    "Scorer",
    "ScoutingConfig",
    "ScoutingResult",
    "ScoutingSamplesConfig",
    "SelectionOutput",
    "SignalRequest",
    "SingleMuonSelection",
    "StreamEvents",
    "StreamFacts",
    "UnpackedObjects",
    "UnpackedPuppi",
    "W3PiCuts",
    "W3PiSelection",
    "anomaly_inputs",
    "anomaly_select",
    "build_orbit",
    "decode_egamma",
    "decode_headers",
    "decode_jets",
    "decode_muons",
    "decode_puppi",
    "decode_sums",
    "demo_config",
    "ditau_select",
    "encode_egamma",
    "encode_events",
    "encode_headers",
    "encode_jets",
    "encode_muons",
    "encode_puppi",
    "encode_sums",
    "ensure_scouting_samples",
    "expected_per_crossing",
    "filling_scheme",
    "ht_select",
    "load_menu",
    "load_menu_models",
    "load_scorer",
    "load_scouting_config",
    "open_orbit_file",
    "pack_stream",
    "plan_orbits",
    "puppi_physical",
    "puppi_to_hardware",
    "read_stream_events",
    "read_truth",
    "run_menu",
    "run_menu_file",
    "run_menu_on_orbit",
    "run_scouting",
    "scan_headers",
    "scouting_dataset_hash",
    "single_muon_select",
    "train_scouting_models",
    "truth_path",
    "unpack_objects",
    "unpack_puppi",
    "w3pi_pions",
    "w3pi_select",
    "write_orbit_files",
    "write_scouting_report",
]
