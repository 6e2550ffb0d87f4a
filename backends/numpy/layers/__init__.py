"""The per-layer kernels, one module per family. Importing this package registers them all."""
from . import (activations, attention, conv, dense, embedding, merge, noise,  # noqa: F401
               normalization, pooling, radial, recurrent, reshape, sampling, spatial,
               preprocessing)
