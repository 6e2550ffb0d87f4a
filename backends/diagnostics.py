"""Read a `layer_stats` event and say, per layer, what a student should look at.

Gradient flow is judged relative to the layer nearest the output, so the verdict does not
depend on the loss scale: a layer whose weights get gradients a thousand times weaker than the
last layer's is barely learning (vanishing gradients); a thousand times stronger, or huge in
absolute terms, is exploding. A ReLU layer whose outputs are almost all zero has "died".
"""
from __future__ import annotations

import math
from dataclasses import dataclass

VANISHING_RATIO = 1e-3
EXPLODING_RATIO = 1e3
EXPLODING_ABS = 1e3
DEAD_FRACTION = 0.95


@dataclass(frozen=True)
class LayerWarning:
    node: str
    kind: str          # vanishing | exploding | dead_relu
    message: str


def layer_gradient(gradients: dict) -> dict[str, float]:
    """Mean absolute gradient of each layer's weights (size-independent), from a layer_stats
    event's `gradients` (node -> weight -> stats)."""
    out = {}
    for node, weights in gradients.items():
        values = [w["mean_abs"] for w in weights.values() if math.isfinite(w["mean_abs"])]
        if values:
            out[node] = max(values)
    return out


def diagnose(event: dict, order: list[str], relu_nodes: set[str]) -> list[LayerWarning]:
    """Warnings for one `layer_stats` event. `order`: node ids from input to output."""
    warnings = []
    grads = layer_gradient(event.get("gradients", {}))
    weighted = [n for n in order if n in grads]
    if weighted:
        reference = grads[weighted[-1]]
        for n in weighted[:-1]:
            g = grads[n]
            ratio = g / reference if reference > 0 else math.inf
            if reference > 0 and ratio < VANISHING_RATIO:
                warnings.append(LayerWarning(n, "vanishing", (
                    f"Vanishing gradient: {n} gets gradients {1 / ratio:,.0f}x weaker than the "
                    f"last layer, so it barely learns. Sigmoid and tanh squash gradients at each "
                    f"layer; try ReLU activations, BatchNormalization, a residual connection, "
                    f"or fewer layers.")))
            elif ratio > EXPLODING_RATIO or g > EXPLODING_ABS:
                warnings.append(LayerWarning(n, "exploding", (
                    f"Exploding gradient: {n} gets gradients {ratio:,.0f}x stronger than the "
                    f"last layer (mean |g| = {g:.3g}); training may diverge. Try a smaller "
                    f"learning rate, gradient clipping (clip_norm), or BatchNormalization.")))
    for n in order:
        stats = event.get("activations", {}).get(n)
        if n in relu_nodes and stats is not None and stats["zeros"] >= DEAD_FRACTION:
            warnings.append(LayerWarning(n, "dead_relu", (
                f"Dying ReLU: {stats['zeros']:.0%} of {n}'s outputs are zero, so almost no "
                f"gradient flows through it. Try a smaller learning rate, leaky_relu, or "
                f"BatchNormalization before it.")))
    return warnings


def relu_nodes(graph) -> set[str]:
    """Layers whose output is a ReLU (Dense/Conv with activation relu, or a ReLU Activation)."""
    return {n for n in graph.nodes() if graph.node(n).params.get("activation") == "relu"}
