from seedkit.errors import SeedkitError, run_main


def test_run_main_prints_one_error_line(capsys):
    def main(argv):
        raise SeedkitError("bad thing; do X", "data/x/wav.scp", 7)

    assert run_main(main, prog="seedkit-x") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["ERROR (seedkit-x): data/x/wav.scp:7: bad thing; do X"]


def test_run_main_passes_status():
    assert run_main(lambda argv: 0, prog="p") == 0
    assert run_main(lambda argv: 3, prog="p") == 3
