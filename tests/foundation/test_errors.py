"""The one ERROR line: SeedkitError, usage errors, OS errors, and bin scripts as processes."""

import argparse
import subprocess
import sys
from pathlib import Path

from seedkit.cli import option_names
from seedkit.errors import OptionError, Param, SeedkitError, run_main


def test_run_main_prints_one_error_line(capsys):
    def main(argv):
        raise SeedkitError("bad thing; do X", "data/x/wav.scp", 7)

    assert run_main(main, prog="seedkit-x") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["ERROR (seedkit-x): data/x/wav.scp:7: bad thing; do X"]


def test_run_main_passes_status():
    assert run_main(lambda argv: 0, prog="p") == 0
    assert run_main(lambda argv: 3, prog="p") == 3



def test_error_without_location_and_multiline_message(capsys):
    def main(argv):
        raise SeedkitError("two\nlines; do Y")

    assert run_main(main, prog="p") == 1
    assert capsys.readouterr().err == "ERROR (p): two lines; do Y\n"


def _option_error() -> OptionError:
    return OptionError(Param("method", "plda"), " needs ", Param("plda_path"), "; or pass ",
                       Param("skip_missing", True), ", ", Param("check_spk_sort", False), ", ",
                       Param("by", "utt"), " or ", Param("level", 95), path="t", line=2)


def test_option_error_names_parameters_in_the_library_and_options_on_the_command_line(capsys):
    err = _option_error()
    library = ("method='plda' needs plda_path; or pass skip_missing=True, check_spk_sort=False, "
               "by='utt' or level=95")
    assert err.message == library and str(err) == "t:2: " + library and err.path == "t"

    def main(argv):
        raise _option_error()

    def mapped(argv):  # a bin whose options are not the parameters' names
        with option_names({"plda_path": "--plda", "level": "--ci", "by=utt": "--per-utt"}):
            with option_names({"check_spk_sort": "--no-spk-sort", "level": "--inner"}):
                raise _option_error()

    assert run_main(main, prog="p") == 1
    assert capsys.readouterr().err == ("ERROR (p): t:2: --method plda needs --plda-path; or pass "
                                       "--skip-missing, --no-check-spk-sort, --by utt or "
                                       "--level 95\n")
    assert run_main(mapped, prog="p") == 1
    assert capsys.readouterr().err == ("ERROR (p): t:2: --method plda needs --plda; or pass "
                                       "--skip-missing, --no-spk-sort, --per-utt or "
                                       "--inner 95\n")  # the inner block's names win


def test_error_at_another_file_keeps_its_type_and_words():
    err = _option_error()
    err.options = {"plda_path": "--plda"}
    moved = err.at("trials", 5)
    assert type(moved) is OptionError and (moved.path, moved.line) == ("trials", 5)
    assert str(moved) == "trials:5: " + err.message and (err.path, err.line) == ("t", 2)
    assert moved.format("p") == err.format("p").replace("t:2:", "trials:5:")
    plain = SeedkitError("bad", "a", 1).at(None)
    assert type(plain) is SeedkitError and str(plain) == "bad"
    assert plain.format("p") == "ERROR (p): bad"


def test_usage_error_is_one_error_line_status_2(capsys):
    def main(argv):
        p = argparse.ArgumentParser(prog="seedkit-x")
        p.add_argument("--n", type=int)
        p.parse_args(["--n", "many"])

    assert run_main(main, prog="seedkit-x") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("usage: seedkit-x")
    assert err[-1] == ("ERROR (seedkit-x): argument --n: invalid int value: 'many' "
                       "(see seedkit-x --help)")
    assert argparse.ArgumentParser.error.__name__ == "error"  # restored afterwards


def test_os_error_on_a_file_is_one_error_line(capsys, tmp_path):
    def main(argv):
        open(tmp_path / "no" / "such.txt", "w")

    assert run_main(main, prog="p") == 1
    assert capsys.readouterr().err == (f"ERROR (p): {tmp_path}/no/such.txt:0: "
                                       "No such file or directory\n")


def test_bin_script_error_line_format(tmp_path):
    """A console script run as a subprocess ends with exactly one ERROR line, status 1."""
    d = tmp_path / "d"
    d.mkdir()
    (d / "wav.scp").write_text("u-1 x.wav\n")
    (d / "utt2spk").write_text("u-1 u\nu-2 u x\n")
    exe = Path(sys.executable).parent / "seedkit-validate-data-dir"
    out = subprocess.run([exe, d], capture_output=True, text=True)
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr == (f"ERROR (seedkit-validate-data-dir): {d}/utt2spk:2: expected at most "
                          "2 fields, got 3: 'u-2 u x'\n")
    out = subprocess.run([exe], capture_output=True, text=True)
    assert out.returncode == 2
    assert out.stderr.splitlines()[-1] == (
        "ERROR (seedkit-validate-data-dir): the following arguments are required: data_dir "
        "(see seedkit-validate-data-dir --help)")
    out = subprocess.run([sys.executable, "-m", "seedkit.bin.fix_data_dir", tmp_path / "none"],
                         capture_output=True, text=True)
    assert out.returncode == 1
    assert out.stderr == f"ERROR (fix_data_dir.py): {tmp_path}/none:0: data directory not found\n"
