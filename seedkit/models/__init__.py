"""Speaker-embedding backbones (frozen feature extractors for SEED), their registry and loader.

Built in: ``ResNetSE34V2`` (512-d), ``ECAPA_TDNN`` (SEED variant, 256-d) and ``GE2E``
(resemblyzer's d-vector, 256-d). A conf file's ``model:`` name picks the class; see
:mod:`seedkit.models.registry` for adding one and :mod:`seedkit.models.checkpoint` for the accepted
checkpoint layouts.
"""

from seedkit.models.registry import (
    BackboneNet,
    available_backbones,
    build_backbone,
    get_backbone_class,
    register_backbone,
)

__all__ = [
    "BackboneNet",
    "available_backbones",
    "build_backbone",
    "get_backbone_class",
    "register_backbone",
]
