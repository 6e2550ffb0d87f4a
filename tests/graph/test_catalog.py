"""The catalog is the single source of truth for layer types."""
import pytest

from netdesigner.graph import CATALOG
from netdesigner.graph.catalog import Catalog, LayerType
from netdesigner.graph.params import KINDS, Param, ParamSet

REQUIRED = """Input Dense Activation Dropout GaussianNoise BatchNormalization LayerNormalization
Flatten Reshape Permute RepeatVector Conv1D Conv2D Conv2DTranspose DepthwiseConv2D
SeparableConv2D MaxPooling1D MaxPooling2D AveragePooling1D AveragePooling2D GlobalMaxPooling1D
GlobalMaxPooling2D GlobalAveragePooling1D GlobalAveragePooling2D ZeroPadding2D UpSampling2D
Embedding SimpleRNN LSTM GRU Bidirectional Attention AdditiveAttention MultiHeadAttention Add
Subtract Multiply Average Maximum Concatenate TimeDistributed Sampling RBF Block""".split()

ACTIVATIONS = {"linear", "relu", "leaky_relu", "prelu", "elu", "sigmoid", "tanh", "softmax",
               "swish", "gelu"}


def test_catalog_has_every_required_layer():
    assert set(REQUIRED) <= set(CATALOG.ids())


def test_activation_layer_offers_every_required_function():
    assert ACTIVATIONS <= set(CATALOG["Activation"].params["activation"].choices)


@pytest.mark.parametrize("layer_type", list(CATALOG), ids=lambda t: t.type_id)
def test_declaration_is_complete(layer_type: LayerType):
    assert layer_type.category and layer_type.description.endswith((".", ")"))
    for p in layer_type.params:
        assert p.kind in KINDS, f"{layer_type.type_id}.{p.name}"
        assert p.help, f"{layer_type.type_id}.{p.name} has no help text"
        assert p.check(p.default) is None
    if layer_type.max_inputs is not None:
        assert layer_type.min_inputs <= layer_type.max_inputs


def test_layers_with_weights_take_l1_l2_regularisers():
    # every layer with a kernel (not merely a scale or statistics) can be regularised
    kernels = {"Dense", "Conv1D", "Conv2D", "Conv2DTranspose", "DepthwiseConv2D",
               "SeparableConv2D", "Embedding", "SimpleRNN", "LSTM", "GRU", "Bidirectional",
               "TimeDistributed", "MultiHeadAttention"}
    for type_id in kernels:
        names = CATALOG[type_id].params.names()
        assert "l1" in names and "l2" in names, type_id


def test_palette_categories_are_generated_from_the_catalog():
    categories = CATALOG.categories()
    listed = [t.type_id for types in categories.values() for t in types]
    assert sorted(listed) == sorted(CATALOG.ids())
    assert len(listed) == len(set(listed))


def test_registering_a_type_twice_is_an_error():
    catalog = Catalog()
    dense = CATALOG["Dense"]
    catalog.register(dense)
    with pytest.raises(ValueError, match="declared twice"):
        catalog.register(dense)


def test_aliases_resolve_to_the_current_type():
    catalog = Catalog()
    old = LayerType("NewName", "Core", "A layer.", ParamSet(), shape=lambda p, i: i,
                    aliases=("OldName",))
    catalog.register(old)
    assert catalog["OldName"] is old and "OldName" in catalog
    assert catalog.resolve("OldName") == "NewName"


def test_parameter_checks_explain_refusals():
    units = CATALOG["Dense"].params["units"]
    assert units.check(0) == "must be at least 1; got 0"
    assert "whole number" in units.check(2.5)
    assert "whole number" in units.check(True)
    rate = CATALOG["Dropout"].params["rate"]
    assert "less than 1" in rate.check(1.0)
    kernel = CATALOG["Conv2D"].params["kernel_size"]
    assert kernel.coerce(3) == (3, 3) and kernel.coerce([5, 5]) == (5, 5)
    assert "2 entries" in kernel.check((3, 3, 3))
    activation = CATALOG["Dense"].params["activation"]
    assert "one of" in activation.check("relu7")


def test_a_bad_default_is_caught_at_declaration():
    with pytest.raises(ValueError, match="default"):
        Param("units", "int", 0, "x", min=1)
    with pytest.raises(ValueError, match="declared twice"):
        ParamSet((Param("a", "int", 1), Param("a", "int", 2)))
