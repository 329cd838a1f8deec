"""Runtime hook of a CPU-only bundle made from a CUDA torch: hide GPUs (their libraries are left out)."""

import os

# cuDNN's engines are not in this bundle; letting torch see a GPU would fail at the first convolution.
os.environ["CUDA_VISIBLE_DEVICES"] = ""
