"""seedkit: SEED speaker-embedding enhancement as a Kaldi-style toolkit and a Python API.

``seedkit.Enhancer`` and ``seedkit.Backbone`` (:mod:`seedkit.api`) are imported on first use,
so the command-line tools do not pay for torch when they do not need it.
"""

__all__ = ["Backbone", "Enhancer"]


def __getattr__(name: str):
    if name in __all__:
        from seedkit import api  # noqa: PLC0415

        return getattr(api, name)
    raise AttributeError(f"module 'seedkit' has no attribute {name!r}")
