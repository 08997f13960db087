"""The SEED release's two SEED configs in their shipped form (docs/method.md §11: spaces before
colons, ``lr : 5e-4`` read by YAML as a string, the ECAPA config's ``model:`` key and missing
keys), and an official-layout RDM-MLP state dict: shared by test_release_configs, test_api and
test_release_recipe."""

from __future__ import annotations

import torch

from seedkit.seed.network import RDMMLP

RESNET_SEED = """\
# Speaker extraction model parameters
backbone: ResNetSE34V2
log_input: True
encoder_type: ASP
batch_size : 300
nPerSpeaker: 1

nOut: 512
n_mels: 64

pretrained_backbone_model : ./pretrained/official_resnetse34V2.model

train_list :      ./datasets/manifests/train_libritts+light_1000h.txt # absolute paths
test_list  :      ./datasets/manifests/vox1-O.txt                # relative paths
extra_test_list : ./datasets/manifests/vcmix_test.txt            # relative paths
train_path : null
test_path  :      ./datasets/vox1-evals

# Diffusion network parameters
train_diffusion : True
diffusion_network  : rdm_mlp
diffusion_pipeline : ddpm
diffusion_num_layers : 3

# Diffusion parameters
lr : 5e-4
lr_decay : 1
lr_decay_interval : 1
optimizer : adamW

train_timesteps  : 1000
sample_timesteps : 50
conditional_diffusion : False
predict_type : sample
self_cond    : True
# training_clamp_norm : False
# sampling_clamp_norm : False
# sampling_final_norm : False
normalize_type : l2
"""

ECAPA_SEED = """\
# Speaker extraction model parameters
model: ECAPA_TDNN
log_input: True
trainfunc: softmaxproto
nPerSpeaker: 1
C: 1024
encoder_type: ECA


nOut: 256
n_mels: 80

pretrained_backbone_model : ./pretrained/official_ecapatdnn.model

train_list :      ./datasets/manifests/train_libritts+light_1000h.txt
test_list  :      ./datasets/manifests/vox1-O.txt
extra_test_list : ./datasets/manifests/vcmix_test.txt
train_path : null
test_path  :      ./datasets/vox1-evals

# Diffusion network parameters
train_diffusion : True
diffusion_network  : rdm_mlp
diffusion_pipeline : ddpm
diffusion_num_layers : 3

# Diffusion parameters
lr : 5e-4
lr_decay : 1
lr_decay_interval : 1
optimizer : adamW


conditional_diffusion : False
predict_type : sample
self_cond    : True
# training_clamp_norm : False
# sampling_clamp_norm : False
# sampling_final_norm : False
normalize_type : l2
use_speaker_label : False
"""


def official_sd(d: int) -> dict:
    """A ``d``-dim RDM-MLP state dict in the official layout (seeded normal weights)."""
    torch.manual_seed(0)
    net = RDMMLP(d)
    for q in net.parameters():
        torch.nn.init.normal_(q, std=0.02)
    return net.state_dict()
