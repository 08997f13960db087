"""The one text-reading path (seedkit.fileio.read_text): binary, compressed and mis-encoded input
end in one SeedkitError naming the file and what it looks like."""

import gzip

import pytest

from seedkit.errors import SeedkitError
from seedkit.fileio import iter_lines, read_text

CASES = [
    ("ark", b"utt1 \x00B\x04\x00\x00\x00\x00", "binary Kaldi archive"),
    ("png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG image"),
    ("gzip", gzip.compress(b"a b target\n"), "gzip-compressed"),
    ("bzip2", b"BZh91AY&SY\x00\xff\x01", "bzip2"),
    ("zip", b"PK\x03\x04\x14\x00\x00\x00", "zip archive"),
    ("wav", b"RIFF\x24\x00\x00\x00WAVEfmt ", "wav file"),
    ("npy", b"\x93NUMPY\x01\x00v\x00", "numpy"),
    ("utf16", "a b\n".encode("utf-16"), "UTF-16"),
    ("nul", b"a b\x00c\n", "binary data"),
]


@pytest.mark.parametrize("name,data,looks", CASES, ids=[c[0] for c in CASES])
def test_binary_input_is_named(tmp_path, name, data, looks):
    p = tmp_path / name
    p.write_bytes(data)
    with pytest.raises(SeedkitError, match=looks) as err:
        read_text(p, "scp file")
    assert err.value.path == str(p)
    assert "\n" not in str(err.value)


def test_latin1_names_the_line(tmp_path):
    p = tmp_path / "utt2spk"
    p.write_bytes(b"a x\ncaf\xe9 y\n")
    with pytest.raises(SeedkitError, match="not UTF-8 text.*iconv") as err:
        list(iter_lines(p))
    assert err.value.line == 2


def test_gzip_read_where_allowed(tmp_path):
    p = tmp_path / "trials"
    p.write_bytes(gzip.compress(b"a b target\n"))
    assert read_text(p, "trials file", gzip_ok=True) == "a b target\n"
    p.write_bytes(gzip.compress(b"a b target\n")[:-6])
    with pytest.raises(SeedkitError, match="cannot be decompressed"):
        read_text(p, "trials file", gzip_ok=True)


def test_text_that_starts_like_a_magic_is_text(tmp_path):
    p = tmp_path / "utt2spk"
    p.write_text("ID3-a ID3\nRIFF-b RIFF\n")
    assert [n for n, _ in iter_lines(p)] == [1, 2]


def test_directory_and_missing(tmp_path):
    with pytest.raises(SeedkitError, match="is a directory"):
        read_text(tmp_path, "trials file")
    with pytest.raises(SeedkitError, match="trials file not found"):
        read_text(tmp_path / "nope", "trials file")


def test_readers_use_it(tmp_path):
    from seedkit.data.trials import read_trial_list
    from seedkit.embio import read_embeddings
    from seedkit.scoring.scorefile import read_scores

    ark = tmp_path / "x.ark"
    ark.write_bytes(b"utt1 \x00B\x04\x00\x00\x00\x00")
    with pytest.raises(SeedkitError, match="use ark:FILE|read it with ark:FILE"):
        read_embeddings(f"scp:{ark}")
    gz = tmp_path / "scores.gz"
    gz.write_bytes(gzip.compress(b"a b 0.5\n"))
    assert read_scores(gz).scores.tolist() == [0.5]
    png = tmp_path / "t.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00")
    with pytest.raises(SeedkitError, match="PNG"):
        read_trial_list(png)


def test_run_main_out_of_memory_is_one_line(capsys):
    from seedkit.errors import run_main

    def oom(argv):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:124] DefaultCPUAllocator: can't "
                           "allocate memory: you tried to allocate 4000000000000 bytes.")

    def mem(argv):
        raise MemoryError()

    for main in (oom, mem):
        assert run_main(main, prog="p", argv=[]) == 1
        err = capsys.readouterr().err.splitlines()
        assert len(err) == 1 and err[0].startswith("ERROR (p): out of memory")

    def other(argv):
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError, match="a bug"):
        run_main(other, prog="p", argv=[])


def test_output_in_unwritable_place(tmp_path):
    from seedkit.fileio import write_lines

    (tmp_path / "file").write_text("x")
    with pytest.raises(SeedkitError, match="cannot create the directory|cannot write here") as err:
        write_lines(tmp_path / "file" / "out", ["a"])
    assert "out" in err.value.path
