"""Small graphs that several tests share."""
from netdesigner.graph import Graph


def chain(specs, graph=None, y=0.0) -> tuple[Graph, list[str]]:
    """A straight line of layers: [(type, params), ...] wired output 0 -> input 0."""
    graph = graph or Graph()
    ids, prev = [], None
    for i, (type_id, params) in enumerate(specs):
        node = graph.add_node(type_id, params, (200.0 * i, y))
        if prev is not None:
            graph.connect(prev, 0, node, 0)
        ids.append(node)
        prev = node
    return graph, ids


def mlp(*units, inputs=64) -> tuple[Graph, list[str]]:
    return chain([("Input", {"shape": (inputs,)})]
                 + [("Dense", {"units": u, "activation": "relu"}) for u in units])
