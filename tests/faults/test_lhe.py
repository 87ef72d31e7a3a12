"""A bad LHE file is named, with what is wrong with it, before any work starts.

Through ``l1scout generate --lhe`` as a user runs it; a file that passes the
checks but that Pythia still refuses gives Pythia's own reason at DEBUG.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from l1scout.cli.app import app
from l1scout.errors import ConfigError
from l1scout.generate.pileup import pool_path, pool_settings
from l1scout.generate.pythia import check_lhe_file

runner = CliRunner()

POOL_SEED = 16_004  # a pool no other test builds: it must not be built here either
EXPECTED = (
    "; expected a Les Houches Event file (<LesHouchesEvents>, an <init> block, <event> blocks)"
)
INIT = "<init>\n 2212 2212 7000.0 7000.0 0 0 0 0 3 1\n 1000.0 1.0 1.0 1\n</init>\n"

#: name -> (file name, content, what the message says is wrong)
BAD: dict[str, tuple[str, bytes, str]] = {
    "empty": ("empty.lhe", b"", "is empty"),
    "not XML": ("notes.lhe", b"2212 2212 7000 7000\n", "is not XML (it does not start with '<')"),
    "not LHE": (
        "page.lhe",
        b"<html><body>no events</body></html>\n",
        "has no <LesHouchesEvents> tag: not a Les Houches Event file",
    ),
    "no init": (
        "noinit.lhe",
        b'<LesHouchesEvents version="1.0">\n<event>\n</event>\n</LesHouchesEvents>\n',
        "has no <init> block",
    ),
    "no events": (
        "noevents.lhe",
        f'<LesHouchesEvents version="1.0">\n{INIT}</LesHouchesEvents>\n'.encode(),
        "holds no <event>",
    ),
    "no events, gzipped": (
        "noevents.lhe.gz",
        gzip.compress(f'<LesHouchesEvents version="1.0">\n{INIT}</LesHouchesEvents>\n'.encode()),
        "holds no <event>",
    ),
    "empty once decompressed": ("void.lhe.gz", gzip.compress(b""), "is empty once decompressed"),
}


def _generate(lhe: Path, out: Path, *options: str) -> Result:
    return runner.invoke(
        app,
        [
            *options, "generate", "zmumu", "--lhe", str(lhe), "-n", "2", "--truth-only",
            "--pileup", "3", "--pool-size", "12", "--pool-seed", str(POOL_SEED),
            "--out", str(out),
        ],
    )  # fmt: skip


def _files(out: Path) -> list[Path]:
    """The files under *out* (the command may have made the empty output folder)."""
    return [p for p in out.rglob("*") if p.is_file()] if out.exists() else []


def _pool() -> Path:
    return pool_path(pool_settings("collide2v"), POOL_SEED, 12)


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_lhe_file_is_named_before_any_work(case: str, tmp_path: Path) -> None:
    name, content, why = BAD[case]
    lhe = tmp_path / name
    lhe.write_bytes(content)
    result = _generate(lhe, tmp_path / "out")
    assert result.exit_code == 2
    assert result.output == f"error: LHE file {str(lhe)!r} {why}{EXPECTED}\n"
    assert _files(tmp_path / "out") == []
    assert not _pool().exists()  # refused before the pileup pool was built


def _lhe(tmp_path: Path, init: str, header: str = "") -> Path:
    event = (
        "<event>\n 5 1 1.0 91.1876 0.0078 0.118\n"
        " 2 -1 0 0 501 0 0.0 0.0 45.59 45.59 0.0 0.0 9.0\n"
        " -2 -1 0 0 0 501 0.0 0.0 -45.59 45.59 0.0 0.0 9.0\n"
        " 23 2 1 2 0 0 0.0 0.0 0.0 91.1876 91.1876 0.0 9.0\n"
        " 13 1 3 3 0 0 10.0 20.0 30.0 45.5938 0.10566 0.0 9.0\n"
        " -13 1 3 3 0 0 -10.0 -20.0 -30.0 45.5938 0.10566 0.0 9.0\n</event>\n"
    )
    path = tmp_path / "zmumu.lhe"
    path.write_text(f'<LesHouchesEvents version="3.0">\n{header}{init}{event}</LesHouchesEvents>\n')
    return path


def test_pythia_s_own_reason_is_logged_at_debug(tmp_path: Path) -> None:
    # passes l1scout's checks; Pythia cannot read the <init> block's numbers
    lhe = _lhe(tmp_path, "<init>\n not numbers\n</init>\n")
    plain = runner.invoke(
        app,
        ["generate", "zmumu", "--lhe", str(lhe), "-n", "1", "--truth-only", "--pileup", "0",
         "--out", str(tmp_path / "out")],
    )  # fmt: skip
    verbose = runner.invoke(
        app,
        ["--verbose", "generate", "zmumu", "--lhe", str(lhe), "-n", "1", "--truth-only",
         "--pileup", "0", "--out", str(tmp_path / "out")],
    )  # fmt: skip
    failed = f"error: zmumu: Pythia 8 failed to initialise from the LHE file {lhe.resolve()} "
    assert plain.exit_code == 2
    assert plain.output == (
        f"{failed}(rerun with logging at DEBUG, `l1scout --verbose`, for Pythia's own output)\n"
    )
    assert verbose.exit_code == 2
    flat = " ".join(verbose.output.split())
    assert "DEBUG zmumu: Pythia: PYTHIA Abort from BeamSetup::initFrame:" in flat
    assert verbose.output.splitlines()[-1] == (
        f"{failed}(Pythia's own output is logged above at DEBUG)"
    )
    assert flat.index("PYTHIA Abort") < flat.index("error:")
    assert "Traceback" not in plain.output + verbose.output
    assert _files(tmp_path / "out") == []


def test_a_good_lhe3_header_passes(tmp_path: Path) -> None:
    """``<initrwgt>`` in the header is not the ``<init>`` block; the file showers."""
    header = (
        "<header>\n<initrwgt>\n<weightgroup name='scale'>\n</weightgroup>\n</initrwgt>\n</header>\n"
    )
    init = "<init>\n 2212 2212 6500.0 6500.0 0 0 0 0 3 1\n 1000.0 1.0 1.0 1\n</init>\n"
    lhe = _lhe(tmp_path, init, header)
    result = runner.invoke(
        app,
        ["generate", "zmumu", "--lhe", str(lhe), "-n", "1", "--truth-only", "--pileup", "0",
         "--out", str(tmp_path / "out")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "zmumu" / "zmumu-NEVENT1-RS1.parquet").is_file()


@pytest.mark.parametrize("cut", [65_536 - 3, 65_536, 65_536 + 2])
def test_tags_across_read_blocks_are_found(tmp_path: Path, cut: int) -> None:
    """The file is read in 64 KiB blocks: a tag cut by a block boundary is still found."""
    head = '<LesHouchesEvents version="1.0">\n<header>\n'
    pad = "x" * (cut - len(head) - len("</header>\n"))
    text = f"{head}{pad}</header>\n{INIT}<event>\n</event>\n</LesHouchesEvents>\n"
    assert text.index("<init>") == cut
    path = tmp_path / "big.lhe"
    path.write_text(text)
    assert check_lhe_file(path) == path
    path.write_text(text.replace("<event>\n</event>\n", ""))
    with pytest.raises(ConfigError, match="holds no <event>"):
        check_lhe_file(path)
