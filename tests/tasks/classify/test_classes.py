"""The 18 event classes: catalog processes, lookup by name or process, labels of events."""

from __future__ import annotations

import numpy as np
import pytest

from l1scout.errors import ConfigError
from l1scout.processes import load_catalog
from l1scout.tasks.classify.classes import (
    CLASS_NAMES,
    EVENT_CLASSES,
    ZERO_BIAS_CLASS,
    class_index,
    class_of_processes,
)


def test_eighteen_distinct_classes_in_the_public_order() -> None:
    assert len(EVENT_CLASSES) == 18
    assert len(set(CLASS_NAMES)) == 18
    assert len({c.process for c in EVENT_CLASSES}) == 18
    # the public order: QCD first, the three ttbar decays together, ggH -> tautau last
    procs = [c.process for c in EVENT_CLASSES]
    assert procs[0] == "QCD_HT50toInf"
    assert procs[1] == "DYJetsToLL_13TeV-madgraphMLM-pythia8"
    assert procs[8] == "gamma"
    assert procs[9] == "QCD_HT50tobb"
    assert [p.rsplit("_", 1)[-1] for p in procs[10:13]] == ["hadronic", "semiLeptonic", "leptonic"]
    assert procs[13:] == ["minbias", "upsilon_to_leptons", "VBFHbb", "HH_4b", "ggHtautau"]


def test_every_process_is_in_the_catalog_and_in_collide() -> None:
    catalog = load_catalog()
    for cls in EVENT_CLASSES:
        assert cls.process in catalog, cls.process
        assert catalog.get(cls.process).in_collide, cls.process


def test_zero_bias_class_is_minimum_bias() -> None:
    assert ZERO_BIAS_CLASS in CLASS_NAMES
    assert EVENT_CLASSES[class_index(ZERO_BIAS_CLASS)].process == "minbias"


def test_class_index_accepts_names_and_processes() -> None:
    for i, cls in enumerate(EVENT_CLASSES):
        assert class_index(cls.name) == i
        assert class_index(cls.process) == i


@pytest.mark.parametrize("bad", ["ttbar", "VBFHtautau", "", "QCD"])
def test_unknown_class_names_it_and_the_known_ones(bad: str) -> None:
    with pytest.raises(ConfigError, match="unknown event class") as err:
        class_index(bad)
    text = str(err.value)
    assert repr(bad) in text
    assert "hh_4b" in text
    assert "\n" not in text


def test_labels_of_hand_made_event_processes() -> None:
    procs = np.array(["minbias", "HH_4b", "tt0123j_5f_ckm_LO_MLM_leptonic", "minbias", "qcd"])
    labels = class_of_processes(procs)
    assert labels.dtype == np.int64
    assert labels.tolist() == [13, 16, 12, 13, 0]
    assert class_of_processes([]).shape == (0,)
    with pytest.raises(ConfigError, match="WW_leptonic"):
        class_of_processes(["minbias", "WW_leptonic"])
