"""A corpus of Keras models written the way Keras users write them (after the keras.io examples:
conv autoencoder, U-Net, DCGAN, VAE, text CNN, BiLSTM, time-series FCN and Transformer,
anomaly-detection autoencoder, seq2seq, ...), small enough to build in a second.

Each entry is `name -> (build, refused)`: `build()` returns an uncompiled or compiled
`keras.Model`; `refused` is None for a model that must import and round-trip, or a text the
first line of the refusal must contain (the model is out of the catalog's scope: its author's
own class, a layer the catalog lacks, an initial state).

`CUSTOM` holds the author's classes some models use; tests save such a model with the class
registered, then unregister it, as a user receiving the file would be.
"""
from __future__ import annotations

import keras
from keras import layers


@keras.saving.register_keras_serializable(package="corpus")
class Sampling(layers.Layer):
    """The keras.io VAE's reparameterisation (no KL term: that example adds it in train_step)."""

    def call(self, inputs):
        z_mean, z_log_var = inputs
        eps = keras.random.normal(keras.ops.shape(z_mean))
        return z_mean + keras.ops.exp(0.5 * z_log_var) * eps


@keras.saving.register_keras_serializable(package="corpus")
class TokenAndPositionEmbedding(layers.Layer):
    """The keras.io text-classification Transformer's embedding."""

    def __init__(self, maxlen, vocab_size, embed_dim, **kwargs):
        super().__init__(**kwargs)
        self.maxlen, self.vocab_size, self.embed_dim = maxlen, vocab_size, embed_dim
        self.token_emb = layers.Embedding(vocab_size, embed_dim)
        self.pos_emb = layers.Embedding(maxlen, embed_dim)

    def call(self, x):
        positions = keras.ops.arange(0, keras.ops.shape(x)[-1], 1)
        return self.token_emb(x) + self.pos_emb(positions)

    def get_config(self):
        return {**super().get_config(), "maxlen": self.maxlen, "vocab_size": self.vocab_size,
                "embed_dim": self.embed_dim}


CUSTOM = {"corpus>Sampling": Sampling,
          "corpus>TokenAndPositionEmbedding": TokenAndPositionEmbedding}


def conv_autoencoder():
    inp = keras.Input(shape=(16, 16, 1))
    x = layers.Conv2D(8, (3, 3), activation="relu", padding="same")(inp)
    x = layers.MaxPooling2D((2, 2), padding="same")(x)
    x = layers.Conv2D(8, (3, 3), activation="relu", padding="same")(x)
    x = layers.MaxPooling2D((2, 2), padding="same")(x)
    x = layers.Conv2DTranspose(8, (3, 3), strides=2, activation="relu", padding="same")(x)
    x = layers.Conv2DTranspose(8, (3, 3), strides=2, activation="relu", padding="same")(x)
    x = layers.Conv2D(1, (3, 3), activation="sigmoid", padding="same")(x)
    model = keras.Model(inp, x, name="conv_autoencoder")
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


def unet():
    inputs = keras.Input((16, 16, 3))

    def block(x, n):
        x = layers.Conv2D(n, 3, padding="same", activation="relu")(x)
        return layers.Conv2D(n, 3, padding="same", activation="relu")(x)

    c1 = block(inputs, 4)
    p1 = layers.MaxPooling2D()(c1)
    c2 = block(p1, 8)
    p2 = layers.MaxPooling2D()(c2)
    b = block(p2, 16)
    u2 = layers.Conv2DTranspose(8, 2, strides=2, padding="same")(b)
    c3 = block(layers.concatenate([u2, c2]), 8)
    u1 = layers.Conv2DTranspose(4, 2, strides=2, padding="same")(c3)
    c4 = block(layers.concatenate([u1, c1]), 4)
    outputs = layers.Conv2D(2, 1, activation="softmax")(c4)
    return keras.Model(inputs, outputs, name="unet")


def dcgan_generator():
    latent_dim = 16
    return keras.Sequential([
        keras.Input(shape=(latent_dim,)),
        layers.Dense(4 * 4 * 16),
        layers.Reshape((4, 4, 16)),
        layers.Conv2DTranspose(16, kernel_size=4, strides=2, padding="same"),
        layers.BatchNormalization(),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2DTranspose(8, kernel_size=4, strides=2, padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(1, kernel_size=5, padding="same", activation="tanh"),
    ], name="generator")


def dcgan_discriminator():
    return keras.Sequential([
        keras.Input(shape=(16, 16, 1)),
        layers.Conv2D(8, kernel_size=4, strides=2, padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(16, kernel_size=4, strides=2, padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Flatten(),
        layers.Dropout(0.2),
        layers.Dense(1, activation="sigmoid"),
    ], name="discriminator")


def vae_encoder():
    latent_dim = 2
    encoder_inputs = keras.Input(shape=(16, 16, 1))
    x = layers.Conv2D(8, 3, activation="relu", strides=2, padding="same")(encoder_inputs)
    x = layers.Conv2D(16, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(16, activation="relu")(x)
    z_mean = layers.Dense(latent_dim, name="z_mean")(x)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(x)
    z = Sampling()([z_mean, z_log_var])
    return keras.Model(encoder_inputs, [z_mean, z_log_var, z], name="encoder")


def vae_decoder():
    latent_inputs = keras.Input(shape=(2,))
    x = layers.Dense(4 * 4 * 16, activation="relu")(latent_inputs)
    x = layers.Reshape((4, 4, 16))(x)
    x = layers.Conv2DTranspose(16, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.Conv2DTranspose(8, 3, activation="relu", strides=2, padding="same")(x)
    decoder_outputs = layers.Conv2DTranspose(1, 3, activation="sigmoid", padding="same")(x)
    return keras.Model(latent_inputs, decoder_outputs, name="decoder")


def text_cnn():
    inputs = keras.Input(shape=(20,), dtype="int64")
    x = layers.Embedding(50, 8)(inputs)
    x = layers.Dropout(0.5)(x)
    x = layers.Conv1D(8, 3, padding="valid", activation="relu", strides=2)(x)
    x = layers.Conv1D(8, 3, padding="valid", activation="relu", strides=2)(x)
    x = layers.GlobalMaxPooling1D()(x)
    x = layers.Dense(8, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    predictions = layers.Dense(1, activation="sigmoid", name="predictions")(x)
    model = keras.Model(inputs, predictions, name="text_cnn")
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


def bilstm_classifier():
    inputs = keras.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(40, 8)(inputs)
    x = layers.Bidirectional(layers.LSTM(8, return_sequences=True))(x)
    x = layers.Bidirectional(layers.LSTM(8))(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs, name="bilstm")
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


def timeseries_fcn():
    input_layer = keras.layers.Input((24, 1))
    x = input_layer
    for _ in range(3):
        x = keras.layers.Conv1D(filters=8, kernel_size=3, padding="same")(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.ReLU()(x)
    gap = keras.layers.GlobalAveragePooling1D()(x)
    output_layer = keras.layers.Dense(2, activation="softmax")(gap)
    model = keras.models.Model(inputs=input_layer, outputs=output_layer, name="fcn")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["sparse_categorical_accuracy"])
    return model


def timeseries_transformer():
    """keras.io's Transformer time-series classifier: its GlobalAveragePooling1D averages over
    the features (data_format="channels_first", the pooling's parameter of the same name)."""
    inputs = keras.Input(shape=(12, 4))
    x = layers.MultiHeadAttention(key_dim=4, num_heads=2, dropout=0.1)(inputs, inputs)
    x = layers.Dropout(0.1)(x)
    x = layers.LayerNormalization(epsilon=1e-6)(x)
    res = x + inputs
    x = layers.Conv1D(filters=4, kernel_size=1, activation="relu")(res)
    x = layers.Conv1D(filters=inputs.shape[-1], kernel_size=1)(x)
    x = layers.LayerNormalization(epsilon=1e-6)(x)
    x = x + res
    x = layers.GlobalAveragePooling1D(data_format="channels_first")(x)
    x = layers.Dense(8, activation="relu")(x)
    outputs = layers.Dense(2, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="ts_transformer")


def timeseries_transformer_last():
    """The same Transformer pooled over time (channels_last), as most write it."""
    inputs = keras.Input(shape=(12, 4))
    x = layers.MultiHeadAttention(key_dim=4, num_heads=2, dropout=0.1)(inputs, inputs)
    x = layers.Dropout(0.1)(x)
    x = layers.LayerNormalization(epsilon=1e-6)(x)
    res = x + inputs
    x = layers.Conv1D(filters=4, kernel_size=1, activation="relu")(res)
    x = layers.Conv1D(filters=inputs.shape[-1], kernel_size=1)(x)
    x = layers.LayerNormalization(epsilon=1e-6)(x)
    x = x + res
    x = layers.GlobalAveragePooling1D()(x)
    outputs = layers.Dense(2, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="ts_transformer_last")


def anomaly_conv1d_autoencoder():
    """keras.io's timeseries anomaly detection: a Conv1D encoder, a Conv1DTranspose decoder."""
    model = keras.Sequential([
        layers.Input(shape=(24, 1)),
        layers.Conv1D(filters=8, kernel_size=7, padding="same", strides=2, activation="relu"),
        layers.Dropout(rate=0.2),
        layers.Conv1D(filters=4, kernel_size=7, padding="same", strides=2, activation="relu"),
        layers.Conv1DTranspose(filters=4, kernel_size=7, padding="same", strides=2,
                               activation="relu"),
        layers.Dropout(rate=0.2),
        layers.Conv1DTranspose(filters=8, kernel_size=7, padding="same", strides=2,
                               activation="relu"),
        layers.Conv1DTranspose(filters=1, kernel_size=7, padding="same"),
    ], name="anomaly")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.001), loss="mse")
    return model


def anomaly_conv1d_upsampled():
    """The same autoencoder decoding with Conv1D + UpSampling-free strides: a Conv1D encoder
    and a Dense decoder reshaped back, as catalog layers allow."""
    model = keras.Sequential([
        layers.Input(shape=(24, 1)),
        layers.Conv1D(filters=8, kernel_size=7, padding="same", strides=2, activation="relu"),
        layers.Dropout(rate=0.2),
        layers.Conv1D(filters=4, kernel_size=7, padding="same", strides=2, activation="relu"),
        layers.Flatten(),
        layers.Dense(24),
        layers.Reshape((24, 1)),
    ], name="anomaly_dense_decoder")
    model.compile(optimizer="adam", loss="mse")
    return model


def arithmetic_with_constants():
    """Scaling written as arithmetic: pixels / 255, then to -1..1, and a residual scaled."""
    inputs = keras.Input((8,))
    x = inputs / 255.0
    x = x * 2.0 - 1.0
    h = layers.Dense(8, activation="tanh")(x)
    out = layers.Dense(8)(h) * 0.5 + x
    out = 1 - out
    return keras.Model(inputs, out, name="arithmetic")


def seq2seq_states():
    """The classic character-level seq2seq: the decoder starts from the encoder's states."""
    encoder_inputs = keras.Input(shape=(None, 6))
    _, state_h, state_c = layers.LSTM(8, return_state=True)(encoder_inputs)
    decoder_inputs = keras.Input(shape=(None, 5))
    decoder_outputs = layers.LSTM(8, return_sequences=True)(
        decoder_inputs, initial_state=[state_h, state_c])
    decoder_outputs = layers.Dense(5, activation="softmax")(decoder_outputs)
    return keras.Model([encoder_inputs, decoder_inputs], decoder_outputs, name="seq2seq")


def gru_forecaster():
    model = keras.Sequential([
        keras.Input((10, 3)),
        layers.GRU(8, return_sequences=True),
        layers.GRU(8),
        layers.Dense(1),
    ], name="gru_forecast")
    model.compile(optimizer="rmsprop", loss="mae")
    return model


def small_resnet():
    inputs = keras.Input((12, 12, 3))
    x = layers.Conv2D(8, 3, padding="same", use_bias=False)(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    for _ in range(2):
        y = layers.Conv2D(8, 3, padding="same")(x)
        y = layers.BatchNormalization()(y)
        y = layers.Activation("relu")(y)
        y = layers.Conv2D(8, 3, padding="same")(y)
        x = layers.add([x, y])
        x = layers.Activation("relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(3, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="small_resnet")


def separable_cnn():
    inputs = keras.Input((12, 12, 3))
    x = layers.SeparableConv2D(8, 3, padding="same", activation="relu")(inputs)
    x = layers.DepthwiseConv2D(3, padding="same")(x)
    x = layers.AveragePooling2D(2)(x)
    x = layers.Flatten()(x)
    outputs = layers.Dense(4, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="separable")


def transformer_text():
    """keras.io's Transformer text classifier: its TokenAndPositionEmbedding is the author's."""
    inputs = layers.Input(shape=(10,))
    x = TokenAndPositionEmbedding(10, 30, 8)(inputs)
    x = layers.MultiHeadAttention(num_heads=2, key_dim=8)(x, x)
    x = layers.GlobalAveragePooling1D()(x)
    outputs = layers.Dense(2, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="transformer_text")


def next_frame_convlstm():
    """keras.io's next-frame video prediction: stacked ConvLSTM2D with BatchNormalization, a
    Conv3D over (time, height, width) giving every next frame (small frames here)."""
    inputs = layers.Input(shape=(None, 8, 8, 1))
    x = layers.ConvLSTM2D(filters=4, kernel_size=(5, 5), padding="same",
                          return_sequences=True, activation="relu")(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.ConvLSTM2D(filters=4, kernel_size=(3, 3), padding="same",
                          return_sequences=True, activation="relu")(x)
    x = layers.BatchNormalization()(x)
    x = layers.ConvLSTM2D(filters=4, kernel_size=(1, 1), padding="same",
                          return_sequences=True, activation="relu")(x)
    x = layers.Conv3D(filters=1, kernel_size=(3, 3, 3), activation="sigmoid",
                      padding="same")(x)
    return keras.Model(inputs, x, name="next_frame")


def ct_scan_3d_cnn():
    """keras.io's 3-D image classification from CT scans: Conv3D, MaxPool3D and
    BatchNormalization blocks, GlobalAveragePooling3D, a Dense head (a small volume here)."""
    inputs = keras.Input((16, 16, 8, 1))
    x = layers.Conv3D(filters=4, kernel_size=3, activation="relu")(inputs)
    x = layers.MaxPool3D(pool_size=2)(x)
    x = layers.BatchNormalization()(x)
    x = layers.Conv3D(filters=8, kernel_size=3, activation="relu", padding="same")(x)
    x = layers.AveragePooling3D(pool_size=(2, 2, 1), strides=(2, 2, 2))(x)
    x = layers.BatchNormalization()(x)
    x = layers.GlobalAveragePooling3D()(x)
    x = layers.Dense(units=8, activation="relu")(x)
    x = layers.Dropout(0.3)(x)
    outputs = layers.Dense(units=1, activation="sigmoid")(x)
    return keras.Model(inputs, outputs, name="3dcnn")


#: name -> (builder, None or the text the refusal's first line must contain)
CORPUS = {
    "conv_autoencoder": (conv_autoencoder, None),
    "unet": (unet, None),
    "dcgan_generator": (dcgan_generator, None),
    "dcgan_discriminator": (dcgan_discriminator, None),
    "vae_encoder": (vae_encoder, "function(s) of its author: Sampling"),
    "vae_decoder": (vae_decoder, None),
    "text_cnn": (text_cnn, None),
    "bilstm_classifier": (bilstm_classifier, None),
    "timeseries_fcn": (timeseries_fcn, None),
    "timeseries_transformer": (timeseries_transformer, None),
    "timeseries_transformer_last": (timeseries_transformer_last, None),
    "anomaly_conv1d_autoencoder": (anomaly_conv1d_autoencoder, None),
    "anomaly_dense_decoder": (anomaly_conv1d_upsampled, None),
    "arithmetic_with_constants": (arithmetic_with_constants, None),
    "seq2seq_states": (seq2seq_states, None),
    "gru_forecaster": (gru_forecaster, None),
    "small_resnet": (small_resnet, None),
    "separable_cnn": (separable_cnn, None),
    "next_frame_convlstm": (next_frame_convlstm, None),
    "ct_scan_3d_cnn": (ct_scan_3d_cnn, None),
    "transformer_text": (transformer_text,
                         "function(s) of its author: TokenAndPositionEmbedding"),
}
