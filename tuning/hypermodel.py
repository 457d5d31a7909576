"""``NMFHyperModel``: the paper's sweep space (widths x groups) for KerasTuner."""

import keras_tuner as kt

from keras_nmf.models import build_model
from keras_nmf.training.batchnorm import RecalibrateBatchNorm
from keras_nmf.training.config import TrainConfig
from keras_nmf.training.run import DEFAULT_JIT, compile_model

WIDTHS = (1, 2, 4, 8)
GROUPS = (1, 2, 4, 8, 16)


class NMFHyperModel(kt.HyperModel):
    """Samples ``width`` and ``groups`` (one value for NMF and CNN layers), then calls the factory.

    The model is compiled exactly as ``scripts/train.py`` compiles it (eq. 21
    loss, Adam at ``lr`` with ``kxk_lr`` for the kxk weights).

    Args:
        arch: one of ``keras_nmf.models.ARCHITECTURES``.
        input_shape, num_classes: as ``build_model``.
        widths, groups: the values to search.
        iterations: NMF iterations N.
        lr, kxk_lr: learning rates, as ``scripts/train.py``.
    """

    def __init__(self, arch="cnmf_1x1", input_shape=(28, 28, 3), num_classes=10, widths=WIDTHS, groups=GROUPS,
                 iterations=20, lr=1e-3, kxk_lr=1e-2, **kwargs):
        super().__init__(**kwargs)
        self.arch, self.input_shape, self.num_classes = arch, tuple(input_shape), num_classes
        self.widths, self.groups = list(widths), list(groups)
        self.iterations, self.lr, self.kxk_lr = iterations, lr, kxk_lr

    def build(self, hp):
        width = hp.Choice("width", self.widths)
        groups = hp.Choice("groups", self.groups)
        model = build_model(
            self.arch, input_shape=self.input_shape, num_classes=self.num_classes, width=width,
            nmf_groups=groups, conv_groups=groups, iterations=self.iterations,
        )
        config = TrainConfig(arch=self.arch, lr=self.lr, kxk_lr=self.kxk_lr)
        return compile_model(model, config, DEFAULT_JIT[self.arch])

    def fit(self, hp, model, *args, recalibration_data=None, **kwargs):
        """``model.fit``, forwarding the tuner's callbacks.

        With ``recalibration_data`` (training batches), BatchNorm statistics are
        recalibrated before each validation pass, as ``scripts/train.py`` does.
        """
        if recalibration_data is not None:
            kwargs["callbacks"] = [RecalibrateBatchNorm(recalibration_data)] + list(kwargs.get("callbacks") or [])
        return model.fit(*args, **kwargs)
