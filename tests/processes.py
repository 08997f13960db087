"""Process helpers shared by the tests that look for orphans or wait on a condition: live
processes found by a word in their command line (in /proc, so a job reparented to init is found
wherever it went), and a bounded wait."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path


def live_processes() -> Iterator[tuple[int, str, str]]:
    """(pid, command line with spaces for its NULs, working directory or "" where it cannot be
    read) of every live process but this one; zombies and processes that end meanwhile are
    passed over."""
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            if (d / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        try:
            cwd = os.readlink(d / "cwd")
        except OSError:
            cwd = ""
        yield int(d.name), cmd, cwd


def procs_with(marker: str) -> list[int]:
    """PIDs of live processes whose command line contains ``marker`` (zombies excluded)."""
    return [pid for pid, cmd, _ in live_processes() if marker in cmd]


def wait_for(pred, timeout: float, what: str) -> None:
    """Poll ``pred`` until it is true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)
