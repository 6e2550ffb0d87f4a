"""Writes dcgan_digits.graph: a DCGAN (deep convolutional GAN) on the 8x8 digit images.

    python samples/make_dcgan_digits.py

The generator (top row) turns 16 noise values into a 4x4 grid of 32 channels (Dense, Reshape)
and up-samples it with transposed convolutions to one 8x8 grey image; its sigmoid matches the
data's min-max scaling to [0, 1]. The discriminator (bottom row) is a small strided CNN ending in
one sigmoid unit. Both train in the `gan` mode (`backends.gan_loop`), like gan_moons.graph.
"""
from __future__ import annotations

from pathlib import Path

from netdesigner.graph import Graph, fileformat

HERE = Path(__file__).resolve().parent
NOISE = 16

TRAINING = {"dataset": "digits", "mode": "gan", "normalize": "minmax",
            "loss": "binary_crossentropy", "optimizer": "adam", "batch_size": 32, "epochs": 60,
            "seed": 0, "validation_split": 0.15, "test_split": 0.15,
            "optimizer_params": {"learning_rate": 0.001, "beta_1": 0.5, "beta_2": 0.999,
                                 "epsilon": 1e-07},
            "metrics": ["accuracy"]}


def dcgan_graph() -> Graph:
    g = Graph()

    def chain(nodes, y):
        ids = []
        for k, (node_id, kind, params) in enumerate(nodes):
            ids.append(g.add_node(kind, params, (220.0 * k, y), node_id=node_id))
            if k:
                g.connect(ids[-2], 0, ids[-1], 0)

    chain([("noise", "Input", {"shape": [NOISE]}),
           ("gen_dense", "Dense", {"units": 4 * 4 * 32, "activation": "relu"}),
           ("gen_grid", "Reshape", {"target_shape": [4, 4, 32]}),
           ("gen_up", "Conv2DTranspose", {"filters": 32, "kernel_size": [3, 3],
                                          "strides": [2, 2], "padding": "same",
                                          "activation": "relu"}),
           ("gen_image", "Conv2DTranspose", {"filters": 1, "kernel_size": [3, 3],
                                             "strides": [1, 1], "padding": "same",
                                             "activation": "sigmoid"})], 0.0)
    chain([("image", "Input", {"shape": [8, 8, 1]}),
           ("disc_conv_1", "Conv2D", {"filters": 32, "kernel_size": [3, 3], "strides": [2, 2],
                                      "padding": "same", "activation": "leaky_relu"}),
           ("disc_conv_2", "Conv2D", {"filters": 64, "kernel_size": [3, 3], "strides": [2, 2],
                                      "padding": "same", "activation": "leaky_relu"}),
           ("disc_flat", "Flatten", {}),
           ("disc_real", "Dense", {"units": 1, "activation": "sigmoid"})], 300.0)
    g.metadata["title"] = "DCGAN on the 8x8 digits"
    g.metadata["description"] = (
        "A deep convolutional GAN: the generator (top) turns 16 noise values into a 4x4x32 "
        "grid (Dense, Reshape) and up-samples it with transposed convolutions into an 8x8 "
        "image (sigmoid: the digits are min-max scaled to [0, 1]); the discriminator (bottom), "
        "a strided CNN, tells real digit images from made-up ones. They train in turns; the "
        "Generated tab shows a grid of generated images after every epoch.")
    g.training.update(TRAINING)
    return g


def main():
    fileformat.save(dcgan_graph(), HERE / "dcgan_digits.graph")


if __name__ == "__main__":
    main()
