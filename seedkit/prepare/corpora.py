"""Per-corpus preparation, one import away: every ``prepare_<corpus>`` of the corpus modules
(lhotse ``prepare_*`` -> lhotse manifests -> Kaldi data dirs + trials), as ``lhotse.recipes``
gathers its recipe modules.

Each ``prepare_<corpus>(corpus_dir, data_root)`` reads a corpus in its published layout (the one
``seedkit.prepare.download`` leaves on disk, or your own copy), saves the lhotse manifests under
``<data_root>/manifests/`` and writes Kaldi data dirs (with ``spk2utt``, ``utt2dur``) under
``<data_root>/``. Data dirs point at the original files (pipes for flac and multi-channel files);
``seedkit-resample-data-dir`` makes the 16 kHz mono wav copies.

Written data dirs (``<data_root>/...``):

=========================  ==================================================================
voxceleb1_test, _dev       ``id10270-<yt>-00001`` keys; ``voxceleb1_test/trials`` = VoxCeleb1-O
                           cleaned in Kaldi form (keys checked against the data dir)
librittsr_<part>           e.g. ``librittsr_train_clean_100``; keys ``19-198-000000-000000``
librilight_small           one utterance per chapter file, key ``<spk>-<book>-<file>``
musan, musan_<cat>         every MUSAN file, ``utt2spk`` = its category (music/noise/speech)
rirs                       simulated RIRs ``small-Room001-00001`` (speaker = room size)
voxconverse_sv             files of ``trials_wo_overlap.txt``; key = path with ``/`` -> ``-``
vcmix                      VoxConverse-SV non-target + VoxCeleb1-O target trials (the paper's)
=========================  ==================================================================

One module per corpus (:mod:`.voxceleb1`, :mod:`.librittsr`, :mod:`.librilight`, :mod:`.musan`,
:mod:`.rirs`, :mod:`.voxconverse`, :mod:`.vcmix`), each naming the lhotse behaviours it works
around; what they share is in :mod:`.common`. The recipes have no public option for some of those
behaviours, so seedkit patches the module attribute named for the length of one call
(:func:`~seedkit.prepare.common.patched`); setup.py and requirements.txt pin ``lhotse>=1.33,<1.34``,
and ``tests/prepare/test_lhotse_pins.py`` fails naming the attribute if a lhotse release changes
under a patch.
"""

from __future__ import annotations

from seedkit.prepare.common import convert_trials, patched
from seedkit.prepare.librilight import librilight_key, prepare_librilight
from seedkit.prepare.librittsr import librittsr_dir_name, prepare_librittsr
from seedkit.prepare.musan import MUSAN_CATEGORIES, prepare_musan
from seedkit.prepare.rirs import RIR_PARTS, prepare_rirs
from seedkit.prepare.vcmix import make_vcmix
from seedkit.prepare.voxceleb1 import prepare_voxceleb1
from seedkit.prepare.voxconverse import VC_TRIALS, prepare_voxconverse_sv

__all__ = [
    "MUSAN_CATEGORIES",
    "RIR_PARTS",
    "VC_TRIALS",
    "convert_trials",
    "librilight_key",
    "librittsr_dir_name",
    "make_vcmix",
    "patched",
    "prepare_librilight",
    "prepare_librittsr",
    "prepare_musan",
    "prepare_rirs",
    "prepare_voxceleb1",
    "prepare_voxconverse_sv",
]
