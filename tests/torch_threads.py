"""``one_thread``: an autouse fixture for the test modules that import it (a shared 2-core
machine: more intra-op threads only contend), restoring torch's thread count afterwards."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
