"""A fake download server for the corpus-download tests (test_prepare, test_eval_only): files
served through ``seedkit.prepare.download.open_url``."""

from __future__ import annotations

import io

from seedkit.prepare import download


def archive_server(monkeypatch, files: dict[str, bytes]) -> list[str]:
    """Serve ``files`` (URL -> bytes) through ``download.open_url``; returns the URLs asked for."""
    asked: list[str] = []

    def fake(url, start):
        asked.append(url)
        if url not in files:
            raise OSError(f"no route to {url}")
        return io.BytesIO(files[url][start:]), len(files[url]), True

    monkeypatch.setattr(download, "open_url", fake)
    return asked
