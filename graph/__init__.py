"""The pure model of a network design: layer catalog, graph, shape inference, validation and
`.graph` files. Imports neither Qt nor TensorFlow."""
from . import layers  # noqa: F401  (fills the catalog)
from . import blocks  # noqa: F401
from .catalog import CATALOG, LayerType
from .events import Edge
from .model import BlockDef, Graph, Node, WiringError
from .shapes import ShapeError
from .validation import Analysis, Problem, validate

__all__ = ["CATALOG", "LayerType", "Edge", "BlockDef", "Graph", "Node", "WiringError",
           "ShapeError", "Analysis", "Problem", "validate"]
