"""GAN projects: one design holding two separate networks, found and checked here.

A project trained in mode "gan" is ONE graph with two disconnected parts:

* the generator: an Input of noise -> ... -> an output shaped like one data sample;
* the discriminator: an Input shaped like one data sample -> ... -> one unit, either a
  probability (sigmoid) or a logit (linear).

`split_gan(graph)` validates the design, expands its blocks, tells the two parts apart (the
discriminator is the part that ends in one unit and takes what the other part makes) and returns
them as two graphs that the backends compile like any other network. Every refusal is a sentence
that names the nodes concerned. Pure: imports neither Qt nor TensorFlow.
"""
from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from .expand import DesignError, validated_flat
from .model import Graph
from .shapes import fmt
from .validation import Analysis

#: words in the id of a generator's Input that settle which part is which when the shapes
#: alone cannot (data samples of one value: both parts then map (1,) -> (1,))
NOISE_WORDS = ("noise", "latent", "z")


class GanError(ValueError):
    """A design that cannot be trained as a GAN; the message names the nodes concerned."""


@dataclass
class GanParts:
    """The two networks of a GAN design (flat graphs: blocks expanded, ids kept)."""
    generator: Graph
    discriminator: Graph
    noise_input: str              # the generator's Input node
    generator_output: str         # the generator's output node
    sample_input: str             # the discriminator's Input node
    discriminator_output: str     # the discriminator's one-unit output node
    noise_shape: tuple            # one noise sample, without the batch dimension
    sample_shape: tuple           # one data sample (what the generator makes)
    logits: bool                  # the discriminator gives logits (linear), not probabilities


@dataclass
class _Part:
    nodes: set
    graph: Graph
    input: str
    output: str
    input_shape: tuple
    output_shape: tuple

    def describe(self) -> str:
        return (f"the part from {self.input} {fmt(self.input_shape)} to {self.output} "
                f"{fmt(self.output_shape)}")


def split_gan(graph: Graph) -> GanParts:
    """The generator and the discriminator of a GAN design; a GanError says what is wrong."""
    try:
        flat, _ = validated_flat(graph)
    except DesignError as e:
        raise GanError(str(e)) from None
    analysis = Analysis(flat, live=False)
    order = {n: i for i, n in enumerate(flat.nodes())}
    components = sorted((set(c) for c in nx.weakly_connected_components(flat.nx_graph())),
                        key=lambda c: min(order[n] for n in c))
    if len(components) != 2:
        listing = "; ".join(_listing(flat, c, order) for c in components)
        raise GanError(
            f"GAN mode needs two separate networks in one project: a generator (an Input of "
            f"noise -> ... -> a made-up sample) and a discriminator (an Input shaped like a "
            f"sample -> ... -> one unit). This network has {len(components)} connected "
            f"part(s): {listing}.")
    parts = [_part(flat, analysis, c, order) for c in components]
    generator, discriminator = _roles(parts)
    d_out = flat.node(discriminator.output)
    activation = d_out.params.get("activation", "linear")
    if activation not in ("sigmoid", "linear"):
        raise GanError(f"{discriminator.output}: the discriminator's output must be a "
                       f"probability (sigmoid) or a logit (linear activation), not "
                       f"{activation}.")
    noise = flat.node(generator.input)
    if not str(noise.params.get("dtype", "float32")).startswith("float"):
        raise GanError(f"{generator.input}: the generator's noise Input must be float32, not "
                       f"{noise.params['dtype']}.")
    if None in generator.input_shape:
        raise GanError(f"{generator.input}: the noise Input needs a fixed shape, not "
                       f"{fmt(generator.input_shape)}.")
    return GanParts(generator.graph, discriminator.graph, generator.input, generator.output,
                    discriminator.input, discriminator.output, tuple(generator.input_shape),
                    tuple(discriminator.input_shape), activation == "linear")


def _noise_name(node_id: str) -> bool:
    words = node_id.lower().split("_")
    return any(w in words or (len(w) > 1 and w in node_id.lower()) for w in NOISE_WORDS)


def _listing(flat: Graph, nodes: set, order: dict) -> str:
    ids = sorted(nodes, key=order.__getitem__)
    shown = ", ".join(ids[:4]) + (", ..." if len(ids) > 4 else "")
    return f"[{shown}]"


def _part(flat: Graph, analysis: Analysis, nodes: set, order: dict) -> _Part:
    sub = Graph()
    sub.training, sub.metadata = dict(flat.training), dict(flat.metadata)
    for n in sorted(nodes, key=order.__getitem__):
        node = flat.node(n)
        sub.add_node(node.type, dict(node.params), node.position, n)
    for e in flat.edges():
        if e.target in nodes:
            sub.restore_edge(e)
    inputs, outputs = sub.inputs(), sub.outputs()
    where = _listing(flat, nodes, order)
    if len(inputs) != 1:
        raise GanError(f"the part {where} has {len(inputs)} Inputs ({', '.join(inputs)}): the "
                       f"generator and the discriminator each need exactly one Input.")
    if len(outputs) != 1 or sub.output_count(outputs[0]) != 1:
        raise GanError(f"the part {where} has {len(outputs)} outputs ({', '.join(outputs)}): "
                       f"the generator and the discriminator each need exactly one output "
                       f"layer.")
    (shape_in,), (shape_out,) = (analysis.output_shapes(inputs[0]),
                                 analysis.output_shapes(outputs[0]))
    return _Part(nodes, sub, inputs[0], outputs[0], tuple(shape_in), tuple(shape_out))


def _roles(parts: list) -> tuple:
    """(generator, discriminator): the discriminator ends in one unit and takes what the
    generator makes."""
    fits = [(g, d) for g, d in (parts, parts[::-1])
            if d.output_shape == (1,) and g.output_shape == d.input_shape]
    if len(fits) == 2:
        named = [p for p in parts if _noise_name(p.input)]
        if len(named) != 1:
            raise GanError(
                f"both parts map {fmt(parts[0].input_shape)} to one unit, so it is not clear "
                f"which is the generator: give the generator's Input an id with 'noise' in "
                f"it ({parts[0].input} or {parts[1].input}).")
        return (named[0], parts[1] if named[0] is parts[0] else parts[0])
    if fits:
        return fits[0]
    ends_in_one = [p for p in parts if p.output_shape == (1,)]
    if not ends_in_one:
        raise GanError(
            f"neither part ends in one unit: the discriminator's output layer "
            f"({parts[0].output} gives {fmt(parts[0].output_shape)}, {parts[1].output} gives "
            f"{fmt(parts[1].output_shape)}) must give one value per sample (a Dense layer "
            f"with 1 unit).")
    d = ends_in_one[0]
    g = parts[1] if d is parts[0] else parts[0]
    raise GanError(
        f"the generator's output {g.output} makes samples of shape {fmt(g.output_shape)} but "
        f"the discriminator's Input {d.input} takes {fmt(d.input_shape)}: they must be the "
        f"same (the shape of one data sample).")
