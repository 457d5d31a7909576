"""The paper's training loss (eq. 21)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_nmf")
class CrossEntropyMSE(keras.losses.Loss):
    """Eq. 21: L = -sum_k y_k log p_k + alpha * sum_k (y_k - p_k)^2.

    Takes class probabilities (a softmax output), not logits. ``y_true`` may
    be integer labels, shape (batch,) or (batch, 1), or one-hot/soft targets
    of the same shape as ``y_pred``. Per example, then Keras's reduction (mean
    over the batch by default). The authors' code divides by 1 + alpha and sums
    over the batch; only the scale differs.

    Args:
        alpha: float >= 0, weight of the squared-error term. Defaults to 0.5.
    """

    def __init__(self, alpha=0.5, name="cross_entropy_mse", **kwargs):
        super().__init__(name=name, **kwargs)
        if float(alpha) < 0:
            raise ValueError(f"`alpha` must be >= 0. Received: alpha={alpha!r}")
        self.alpha = float(alpha)

    def call(self, y_true, y_pred):
        y_pred = ops.cast(y_pred, "float32")
        num_classes = y_pred.shape[-1]
        if len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] == num_classes:
            targets = ops.cast(y_true, "float32")
        else:
            labels = ops.reshape(ops.cast(y_true, "int32"), (-1,))
            targets = ops.one_hot(labels, num_classes)
        probabilities = ops.clip(y_pred, keras.config.epsilon(), 1.0)
        cross_entropy = -ops.sum(targets * ops.log(probabilities), axis=-1)
        squared_error = ops.sum(ops.square(targets - y_pred), axis=-1)
        return cross_entropy + self.alpha * squared_error  # eq. 21

    def get_config(self):
        config = super().get_config()
        config["alpha"] = self.alpha
        return config
