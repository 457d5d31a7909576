"""``MultiRateAdam``: Adam with a learning-rate multiplier per group of variables."""

import re

import keras


@keras.saving.register_keras_serializable(package="keras_nmf")
class MultiRateAdam(keras.optimizers.Adam):
    """Adam whose step for selected variables is ``multiplier`` times larger.

    Keras optimizers have one learning rate; the authors' code uses one Adam
    per parameter group (0.01 for the kxk NMF/conv weights, 0.001 for the rest).
    Adam's step, lr * m / (sqrt(v) + eps), is invariant to the gradient's scale,
    so scaling gradients would not do; scaling the learning rate used for a
    variable does, and equals a separate Adam with that rate. Schedules and
    ``ReduceLROnPlateau`` act on the base rate, so all groups decay together.

    Args:
        learning_rate: the base rate (float or schedule).
        rate_multipliers: dict ``{regex: multiplier}``; a variable whose
            ``path`` (e.g. ``"block1_cnmf/kernel"``) matches a regex (``re.search``,
            first match wins) uses ``learning_rate * multiplier``.
        **kwargs: ``keras.optimizers.Adam`` arguments.
    """

    def __init__(self, learning_rate=0.001, rate_multipliers=None, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.rate_multipliers = dict(rate_multipliers or {})
        for pattern, multiplier in self.rate_multipliers.items():
            re.compile(pattern)
            if float(multiplier) <= 0:
                raise ValueError(f"Rate multipliers must be > 0. Received: {pattern!r}: {multiplier}")
        self._multipliers = []

    def multiplier_for(self, variable):
        """The multiplier of one variable (1.0 when no pattern matches)."""
        for pattern, multiplier in self.rate_multipliers.items():
            if re.search(pattern, variable.path):
                return float(multiplier)
        return 1.0

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._multipliers = [self.multiplier_for(v) for v in var_list]

    def update_step(self, gradient, variable, learning_rate):
        multiplier = self._multipliers[self._get_variable_index(variable)]
        if multiplier != 1.0:
            learning_rate = learning_rate * multiplier
        super().update_step(gradient, variable, learning_rate)

    @property
    def max_multiplier(self):
        return max([1.0] + [float(m) for m in self.rate_multipliers.values()])

    def get_config(self):
        config = super().get_config()
        config["rate_multipliers"] = self.rate_multipliers
        return config
