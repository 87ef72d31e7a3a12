"""The 18 event classes of the public COLLIDE-2V classification baseline, as catalog processes.

A public baseline on COLLIDE-2V (foundation-model tests on the dataset,
``huggingface.co/datasets/fastmachinelearning/collide-1m``) classifies events
into 18 classes, one COLLIDE-2V process folder each. :data:`EVENT_CLASSES`
lists them in that public order, each with the process of our catalog
(:mod:`l1scout.processes`) that stands for it; every process name is the
COLLIDE-2V folder name, so the same classes read published files and ours.
The table, with how our Pythia-only processes differ from COLLIDE-2V's
MadGraph ones, is in ``docs/physics/event-classes.md``.

The label of an event is the position of its class in :data:`EVENT_CLASSES`
(0 ... 17). Minimum bias (class ``minbias``, :data:`ZERO_BIAS_CLASS`) is the
zero-bias sample of the trigger study: at pileup 200 a minimum-bias event in
the L1T view is what a zero-bias crossing looks like.

Example:
    >>> len(EVENT_CLASSES), CLASS_NAMES[:3]
    (18, ('qcd', 'dy_ll', 'z_vv'))
    >>> class_index("minbias"), class_index("HH_4b"), class_index("hh_4b")
    (13, 16, 16)
    >>> class_of_processes(["gamma", "QCD_HT50tobb", "gamma"]).tolist()
    [8, 9, 8]
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from l1scout._types import I64
from l1scout.errors import ConfigError

__all__ = [
    "CLASS_NAMES",
    "EVENT_CLASSES",
    "ZERO_BIAS_CLASS",
    "EventClass",
    "class_index",
    "class_of_processes",
]


@dataclass(frozen=True)
class EventClass:
    """One class of the 18-class setup.

    Attributes:
        name: the class name used in configurations and tables (snake case).
        process: the catalog process (the COLLIDE-2V folder name) whose events
            make the class.
        description: one line for tables.
    """

    name: str
    process: str
    description: str


_V13 = "_13TeV-madgraphMLM-pythia8"

#: The 18 classes in the public order; an event's label is its class's position.
EVENT_CLASSES: tuple[EventClass, ...] = (
    EventClass("qcd", "QCD_HT50toInf", "QCD multijet, inclusive (HT > 50 GeV)"),
    EventClass("dy_ll", f"DYJetsToLL{_V13}", "Drell-Yan Z/gamma* -> l+ l- (e, mu, tau)"),
    EventClass("z_vv", f"ZJetsTovv{_V13}", "Z -> nu nubar + jet"),
    EventClass("z_qq", f"ZJetsToQQ{_V13}", "Z -> q qbar (u, d, s) + jet"),
    EventClass("z_bb", f"ZJetsTobb{_V13}", "Z -> b bbar + jet"),
    EventClass("z_cc", f"ZJetsTocc{_V13}", "Z -> c cbar + jet"),
    EventClass("w_lv", f"WJetsToLNu{_V13}", "W -> l nu (e, mu, tau)"),
    EventClass("w_qq", f"WJetsToQQ{_V13}", "W -> q qbar'"),
    EventClass("gamma", "gamma", "prompt photon + jet"),
    EventClass("qcd_bb", "QCD_HT50tobb", "QCD b bbar"),
    EventClass("tt_had", "tt0123j_5f_ckm_LO_MLM_hadronic", "ttbar, both W -> q qbar'"),
    EventClass(
        "tt_semilep", "tt0123j_5f_ckm_LO_MLM_semiLeptonic", "ttbar, one W -> l nu, one W -> q qbar'"
    ),
    EventClass("tt_lep", "tt0123j_5f_ckm_LO_MLM_leptonic", "ttbar, both W -> l nu"),
    EventClass("minbias", "minbias", "minimum bias (zero bias at pileup 200)"),
    EventClass("upsilon", "upsilon_to_leptons", "Upsilon(nS) -> e+ e-, mu+ mu-"),
    EventClass("vbf_hbb", "VBFHbb", "vector-boson fusion H -> b bbar"),
    EventClass("hh_4b", "HH_4b", "gluon-fusion HH -> b bbar b bbar"),
    EventClass("ggh_tautau", "ggHtautau", "gluon-fusion H -> tau+ tau-"),
)

#: The class names, in label order.
CLASS_NAMES: tuple[str, ...] = tuple(c.name for c in EVENT_CLASSES)
#: The class whose events are the zero-bias sample of the trigger rates.
ZERO_BIAS_CLASS = "minbias"

_BY_KEY = MappingProxyType(
    {c.name: i for i, c in enumerate(EVENT_CLASSES)}
    | {c.process: i for i, c in enumerate(EVENT_CLASSES)}
)


def class_index(name_or_process: str) -> int:
    """The label (0 ... 17) of a class given by its name or by its process.

    Raises:
        ConfigError: neither a class name nor a class process; the message
            lists the closest names and every class name.

    >>> class_index("qcd"), class_index("QCD_HT50toInf"), class_index("ggHtautau")
    (0, 0, 17)
    >>> class_index("ttbar")
    Traceback (most recent call last):
    ...
    l1scout.errors.ConfigError: unknown event class 'ttbar'; expected a class name ...
    """
    try:
        return _BY_KEY[name_or_process]
    except (KeyError, TypeError):
        pass
    close = difflib.get_close_matches(str(name_or_process), list(_BY_KEY), n=3, cutoff=0.6)
    hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
    msg = (
        f"unknown event class {name_or_process!r}; expected a class name "
        f"({', '.join(CLASS_NAMES)}) or its catalog process{hint}"
    )
    raise ConfigError(msg)


def class_of_processes(processes: Sequence[str]) -> I64:
    """The label of every event from its process (or class) name, int64.

    Raises:
        ConfigError: a name that is no class (:func:`class_index`).

    >>> class_of_processes([]).dtype.name
    'int64'
    """
    names = list(processes)
    lookup = {name: class_index(name) for name in dict.fromkeys(names)}
    return np.fromiter((lookup[n] for n in names), dtype=np.int64, count=len(names))
