"""seedkit: SEED speaker-embedding enhancement diffusion, Kaldi-style recipes and library.

Console scripts are discovered from ``seedkit/bin/*.py``: ``seedkit/bin/train_seed.py`` becomes
``seedkit-train-seed`` (calling its ``main`` through :func:`seedkit.errors.run_main`).
"""

from pathlib import Path

from setuptools import find_packages, setup

here = Path(__file__).resolve().parent
scripts = sorted(p.stem for p in (here / "seedkit" / "bin").glob("*.py") if p.stem != "__init__")

setup(
    name="seedkit",
    version="0.1.0",
    description="SEED speaker-embedding enhancement diffusion: Kaldi-style recipes and library",
    packages=find_packages(include=["seedkit", "seedkit.*"]),
    package_data={"seedkit": ["resources/*"]},
    python_requires=">=3.9",
    install_requires=[
        "torch>=2.1",
        "torchaudio>=2.1",
        "lhotse>=1.33,<1.34",  # prepare/ patches lhotse recipes: tests/prepare/test_lhotse_pins.py
        "urllib3",
        "kaldiio>=2.17",
        "numpy>=1.23",
        "scipy>=1.9",
        "soundfile>=0.12",
        "tqdm>=4.60",
        "pyyaml>=6.0",
        "matplotlib>=3.5",
    ],
    entry_points={
        "console_scripts": [
            f"seedkit-{name.replace('_', '-')}=seedkit.bin.{name}:console_main" for name in scripts
        ],
    },
)
