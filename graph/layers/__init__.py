"""Layer declarations, one module per family. Importing this package fills the catalog.

The import order is the palette order.
"""
from . import (core, convolution, pooling, normalization, recurrent, attention,  # noqa: F401
               merge, radial, preprocessing)
