"""Trained presets from finished runs: a run's network behind the paper's preprocessing, measured and described.

``python -m keras_nmf.experiments.presets RUN DESTINATION --data-dir DIR`` writes the preset of the finished run
``RUN`` (e.g. a seed-0 run of the 20-epoch Figure 5 grid) to ``DESTINATION`` (e.g. ``keras_nmf/presets/cnn_cifar10``):
:meth:`keras_nmf.models.ImageClassifier.save_to_preset`'s files, with the test accuracy that
``ImageClassifier.from_preset(...).predict`` gives on every test image of ``DIR`` in its ``metadata.json`` and model
card.
"""

import argparse
import base64
import pathlib
import sys

import numpy as np

from keras_nmf.architectures import NETWORKS

from keras_nmf.data.image_folder import list_images
from keras_nmf.data.pipeline import load_arrays
from keras_nmf.data.subsets import subset_indices
from keras_nmf.experiments.records import without_machine_paths
from keras_nmf.experiments.robustness import evaluate_robustness, prepare_images
from keras_nmf.experiments.summary import paper_accuracy, schedule_text
from keras_nmf.layers.augmentation import PaperAugmentation
from keras_nmf.models import ImageClassifier
from keras_nmf.models.calibration import (
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    with_temperature,
)
from keras_nmf.models.presets import load_preset, parameter_counts, read_metadata
from keras_nmf.training.run_files import read_run_results
from keras_nmf.training.saved_networks import load_paper_model


def classifier_of_run(run_dir):
    """The finished run's network, with its trained weights, behind the paper's preprocessing."""
    model = load_paper_model(pathlib.Path(run_dir) / "model.keras")
    return model if isinstance(model, ImageClassifier) else ImageClassifier(model)


#: The fixed test subset whose accuracy a preset also states (``--limit-test 1000 --seed 0``): a fast test
#: recomputes it.
SUBSET = {"limit_test": 1000, "seed": 0}


def predict_test_images(classifier, data_dir, limit_test=None, seed=0, count=None, batch_size=100):
    """The classifier's predicted class (centre crop) and the label of each test image of ``data_dir``, int (N,)
    each: every image in the folder's order, or the seeded subset of ``limit_test`` (as ``--limit-test``/``--seed``
    select it); with ``count``, its first ``count`` images only."""
    _, (images, labels), _ = load_arrays(
        data_dir=data_dir, verbose=False, limit_train=1, limit_test=limit_test, seed=seed
    )
    images, labels = images[:count], labels[:count]
    return np.argmax(classifier.predict(images, batch_size=batch_size, verbose=0), axis=-1), labels


def encode_classes(classes):
    """Predicted classes as a preset's metadata records them (``test_predicted_classes``): one byte per image, in
    base64 (13,336 characters for 10,000 images)."""
    classes = np.asarray(classes)
    if classes.size and (classes.min() < 0 or classes.max() > 255):
        raise ValueError(f"One byte holds class indices 0-255; received {classes.min()}..{classes.max()}.")
    return base64.b64encode(classes.astype(np.uint8).tobytes()).decode("ascii")


def decode_classes(text):
    """The predicted classes :func:`encode_classes` recorded, int64 (N,)."""
    return np.frombuffer(base64.b64decode(text), dtype=np.uint8).astype(np.int64)


def subset_of(values, limit_test, seed):
    """The entries of every test image's ``values`` (predictions, labels) that the seeded subset of ``limit_test``
    keeps, in the order :func:`predict_test_images` with ``limit_test`` and ``seed`` predicts those images."""
    return values[subset_indices(len(values), limit_test, seed, "test")]


#: The noise robustness a trained preset's card states: keras-nmf-robustness's perturbations (the authors' four) at
#: five noise levels, on a seeded test subset.
ROBUSTNESS = {"limit_test": 1000, "seed": 0, "steps": 5}


def robustness(classifier, data_dir, limit_test, seed, steps):
    """The network's test accuracy under each of the authors' perturbations at ``steps`` levels of eta from 0 to 1
    (:func:`keras_nmf.experiments.evaluate_robustness`): ``{kind: [[eta, accuracy], ...]}``."""
    images, labels, train_images = prepare_images(
        "cifar10", data_dir, None, classifier.network.input_shape[1:], limit_test=limit_test, seed=seed
    )
    rows = evaluate_robustness(
        [classifier.network],
        ["preset"],
        images,
        labels,
        train_images,
        steps=steps,
        seed=seed,
        print_fn=lambda *_, **__: None,
    )
    table = {}
    for row in rows:
        table.setdefault(row["perturbation"], []).append([row["eta"], row["accuracy"]])
    return table


#: The training images a preset's temperature is fitted on: a seeded subset (``--limit-train``'s), seen as in
#: training (the paper's random crop, flip and colour jitter, seeded), where the network is about as accurate as on
#: the test images (on its clean crops it is more accurate than there).
CALIBRATION = {"fit_images": 5000, "seed": 0}

#: A fitted temperature this close to 1 (within a factor 1.25) is not carried: the fitting images were trained on,
#: which biases T low (towards confidence) by about as much, so the correction is within what it can tell.
KEEP_TEMPERATURE = 1.25


def _augmented_probabilities(classifier, images, seed, batch_size):
    """The network's probabilities on ``images`` as training sees them (seeded draws of the paper's augmentation)."""
    import keras

    augmentation = PaperAugmentation(classifier.network.input_shape[1], seed=seed)
    crops = np.concatenate(
        [
            keras.ops.convert_to_numpy(augmentation(images[start : start + batch_size], training=True))
            for start in range(0, len(images), batch_size)
        ]
    )
    return classifier.network.predict(crops, batch_size=batch_size, verbose=0)


def calibration(classifier, data_dir, fit_images=CALIBRATION["fit_images"], seed=CALIBRATION["seed"], batch_size=100):
    """Fits a temperature to ``classifier``'s network on ``fit_images`` training images (:data:`CALIBRATION`) and
    measures the expected calibration error (:mod:`keras_nmf.models.calibration`) on every test image, with and
    without it.

    Returns ``(class_names, figures)``: the data's class names, and a dict of the fitted temperature, the one
    carried (None within :data:`KEEP_TEMPERATURE` of 1), the test ECE and negative log-likelihood before and after
    (after: with the carried one), and the test accuracy (a temperature changes no argmax)."""
    available = len(list_images(data_dir, "train")[0])  # a small data set: all its training images
    train, (images, labels), class_names = load_arrays(
        data_dir=data_dir, verbose=False, seed=seed, limit_train=fit_images if fit_images < available else None
    )
    fitted = fit_temperature(_augmented_probabilities(classifier, train[0], seed, batch_size), train[1])
    carried = round(fitted, 4) if max(fitted, 1 / fitted) > KEEP_TEMPERATURE else None
    plain = ImageClassifier(classifier.network, classifier.image_shape, class_names=class_names)
    before = plain.predict(images, batch_size=batch_size, verbose=0)
    after = before if carried is None else with_temperature(before, carried)
    return class_names, {
        "fitted_temperature": round(fitted, 4),
        "temperature": carried,
        "test_images": len(labels),
        "fitted_on": (
            f"{len(train[1]):,} train images (seed {seed}) as training sees them (random crop, flip, "
            f"colour jitter); never the test images"
        ),
        "ece_before": expected_calibration_error(before, labels),
        "ece_after": expected_calibration_error(after, labels),
        "nll_before": negative_log_likelihood(before, labels),
        "nll_after": negative_log_likelihood(after, labels),
        "median_top_probability_before": float(np.median(before.max(axis=1))),
        "median_top_probability_after": float(np.median(after.max(axis=1))),
        "test_accuracy": float(np.mean(before.argmax(axis=1) == labels)),
        "ece_bins": 15,
    }


def calibrate_preset(directory, data_dir, **fit):
    """Rewrites the trained preset in ``directory`` with its class names and a fitted temperature
    (:func:`calibration`), its weights unchanged; returns the new metadata."""
    metadata = read_metadata(directory)
    classifier = load_preset(directory)
    class_names, figures = calibration(classifier, data_dir, **fit)
    calibrated = ImageClassifier(
        classifier.network,
        classifier.image_shape,
        seed=classifier.seed,
        class_names=class_names,
        temperature=figures["temperature"],
        name=classifier.name,
    )
    metadata = {
        **metadata,
        **parameter_counts(classifier.network),
        "class_names": list(class_names),
        "calibration": figures,
    }
    calibrated.save_to_preset(directory, metadata, model_card(metadata), overwrite=True)
    return metadata


def write_trained_preset(run_dir, destination, data_dir, subset=SUBSET, noise=ROBUSTNESS, overwrite=False):
    """Writes the preset of the finished run ``run_dir`` to ``destination`` (a folder holding files only with
    ``overwrite``), then calibrates it (:func:`calibrate_preset`); returns its metadata.

    ``subset`` and ``noise``: the test subset whose accuracy it also states, and the robustness measurement
    (:data:`SUBSET`, :data:`ROBUSTNESS`)."""
    run_dir = pathlib.Path(run_dir)
    results = read_run_results(run_dir / "results.json")
    classifier = classifier_of_run(run_dir)
    predicted, labels = predict_test_images(classifier, data_dir)
    correct = predicted == labels
    accuracy, count = float(np.mean(correct)), len(correct)
    subset = {**subset, "limit_test": min(subset["limit_test"], count)}  # a small test set: all of it
    noise = {**noise, "limit_test": min(noise["limit_test"], count)}
    subset_accuracy = float(np.mean(subset_of(correct, **subset)))
    config = without_machine_paths(results["config"], run_dir.name)
    metadata = {
        "name": pathlib.Path(destination).name,
        "arch": config["arch"],
        "test_accuracy": accuracy,
        "test_images": count,
        "evaluation": "ImageClassifier.predict on the raw test images (centre crop)",
        "subset_test_accuracy": {**subset, "accuracy": subset_accuracy},
        # Each test image's predicted class: the accuracies above follow from them and the folder's labels, and a
        # test compares a backend's predictions of the fixed subset with them, image by image.
        "test_predicted_classes": encode_classes(predicted),
        "run_test_accuracy": results["test_accuracy"],
        "epochs": results["epochs_run"],
        "train_images": results["data"]["train_size"],
        "seed": config["seed"],
        "schedule": schedule_text(config),
        "published_accuracy": paper_accuracy(config["arch"], config),
        "git_commit": results.get("git_commit"),
        "backend": results.get("versions", {}).get("keras_backend"),
        **parameter_counts(classifier.network),
        "robustness": {**noise, "accuracy": robustness(classifier, data_dir, **noise)},
        "config": config,
    }
    classifier.save_to_preset(destination, metadata, model_card(metadata), overwrite=overwrite)
    return calibrate_preset(destination, data_dir)


def model_card(metadata):
    """The preset's README.md: what it is, how well it does against the paper, how to use and fine-tune it."""
    name, arch = metadata["name"], metadata["arch"]
    published = metadata["published_accuracy"]
    config = metadata["config"]
    return f"""# {name}

The paper's `{arch}` network (Nouri et al., Figure 4) trained on CIFAR-10 by keras_nmf, behind the paper's
preprocessing: images of pixel values in [0, 255] in (32x32, or resized), the 10 class probabilities out.

| | |
|---|---|
| test accuracy (all {metadata["test_images"]:,} CIFAR-10 test images, centre crop) | {100 * metadata["test_accuracy"]:.2f} % |
| published (the paper, up to 500 epochs) | {f"{published} %" if published is not None else "none"} |
| training | {metadata["epochs"]} epochs on {metadata["train_images"]:,} images, seed {metadata["seed"]}, schedule {metadata["schedule"]}, batch {config["batch_size"]}, Adam {config["lr"]:g} (k×k weights {config["kxk_lr"]:g}){_branch_text(config)} |
| parameters | {_parameters_text(metadata)} |
| trained with | keras_nmf at commit {metadata["git_commit"]}, Keras backend {metadata["backend"]} |

Noise robustness (`keras-nmf-robustness`'s perturbations, the authors' four, on {metadata["robustness"]["limit_test"]:,}
test images, seed {metadata["robustness"]["seed"]}): test accuracy % at noise level eta

{_robustness_table(metadata["robustness"]["accuracy"])}

{_calibration_text(metadata)}

It is a short budget: the paper trains up to 500 epochs. The test images are a JPEG re-encoding of CIFAR-10
(the data the package was trained and tested on); the original PNG test set may give a slightly different number.

```python
import keras_nmf

classifier = keras_nmf.models.ImageClassifier.from_preset("{name}")
probabilities = classifier.predict(images)  # uint8 (B, H, W, 3) in [0, 255]; other sizes are resized
classifier.decode_predictions(probabilities, top_k=3)  # [[(class name, probability), ...], ...]
network = classifier.network  # the network alone, on 28x28 crops in [0, 1]
```

It takes pixel values in [0, 255] (uint8, or integers or floats of those values) and refuses a float batch in
[0, 1], NaN, infinite or out-of-range values, and labels outside its classes, naming the fix.

Fine-tuning: compile and fit the classifier on raw images (it augments as the paper does when training), e.g.
with the recipe's optimizer and loss (`keras_nmf.optimizers.MultiRateAdam`, `keras_nmf.losses.CrossEntropyMSE`),
or train it further with `keras-nmf-train`'s recipe. The NMF layers keep their weights non-negative with unit
column sums by construction (eq. 20).
"""


def _branch_text(config):
    """The card's note on a decay branch: its budget came from a stable trunk (docs/training.md, "Decay branches")."""
    if not config.get("branch_from"):
        return ""
    return (
        f"; a decay branch of the stable trunk `{config['branch_from']}` at its epoch {config['branch_epoch']} "
        f"(the CPU budget campaign, docs/experiments/cpu_budget)"
    )


def _parameters_text(metadata):
    """The card's parameter count, saying what the README's tables count (the trained ones)."""
    trained = metadata.get("trainable_parameter_count")
    if trained is None or trained == metadata["parameter_count"]:
        return f"{metadata['parameter_count']:,}"
    return (
        f"{metadata['parameter_count']:,} in the weights file: {trained:,} trained (the count the README and the "
        f"paper give) and {metadata['parameter_count'] - trained:,} BatchNorm moving statistics"
    )


def _flat_output(arch):
    """Whether the network's softmax reads its output NMF layer's activations directly (an NMF network without the
    local interactions): they sum to 1, so its probabilities are nearly flat."""
    spec = NETWORKS.get(arch)
    return spec is not None and spec.family == "nmf" and not spec.interactions


def _calibration_text(metadata):
    """The card's paragraph on the output: what the probabilities are, and their calibration error."""
    if "calibration" not in metadata:
        return "Its output is the network's softmax probabilities, not calibrated."
    c = metadata["calibration"]
    flat = (
        " This network (no local interactions) feeds its softmax the activations of its output NMF layer, "
        "which sum to 1: its own probabilities are nearly flat; they rank the classes but do not say how "
        "sure it is."
        if _flat_output(metadata["arch"])
        else ""
    )
    fitted = f"T = {c['fitted_temperature']:g} was fitted on {c['fitted_on']}"
    if c["temperature"] is None:
        head = (
            f"**Output: the network's own softmax probabilities** (what the paper's loss, eq. 21, trains). "
            f"{fitted}; within a factor {KEEP_TEMPERATURE:g} of 1 it is not carried (the fitting images were "
            f"trained on, which biases T towards confidence by about as much).{flat}"
        )
        rows = [
            ("expected calibration error (15 bins)", f"{100 * c['ece_before']:.1f} %"),
            ("negative log-likelihood", f"{c['nll_before']:.3f}"),
            ("median top probability", f"{c['median_top_probability_before']:.2f}"),
        ]
        table = "\n".join(
            [f"| on the {c['test_images']:,} test images | |", "|---|---|"]
            + [f"| {name} | {value} |" for name, value in rows]
        )
        return f"{head}\n\n{table}"
    head = (
        f"**Output: calibrated class probabilities.** The network ends in a softmax (its probabilities are "
        f"what the paper's loss, eq. 21, trains); `predict` returns them with temperature scaling, "
        f"softmax(log p / T). {fitted}.{flat} It changes no class, so no accuracy."
    )
    t = f"T = {c['temperature']:g}"
    rows = [
        ("expected calibration error (15 bins)", f"{100 * c['ece_before']:.1f} %", f"{100 * c['ece_after']:.1f} %"),
        ("negative log-likelihood", f"{c['nll_before']:.3f}", f"{c['nll_after']:.3f}"),
        (
            "median top probability",
            f"{c['median_top_probability_before']:.2f}",
            f"{c['median_top_probability_after']:.2f}",
        ),
    ]
    table = "\n".join(
        [f"| on the {c['test_images']:,} test images | the network's own | with {t} |", "|---|---|---|"]
        + [f"| {name} | {a} | {b} |" for name, a, b in rows]
    )
    return (
        f"{head}\n\n{table}\n\n`ImageClassifier(classifier.network, class_names=classifier.class_names)` "
        f"gives the network's own probabilities."
    )


def _robustness_table(accuracy):
    etas = [eta for eta, _ in next(iter(accuracy.values()))]
    lines = ["| perturbation | " + " | ".join(f"eta {eta:g}" for eta in etas) + " |", "|---|" + "---|" * len(etas)]
    lines += [
        f"| {kind} | " + " | ".join(f"{100 * value:.1f}" for _, value in rows) + " |" for kind, rows in accuracy.items()
    ]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m keras_nmf.experiments.presets",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run", nargs="?", help="a finished run directory (model.keras, config.json, results.json)")
    parser.add_argument("destination", nargs="?", help="the preset directory to write")
    parser.add_argument("--data-dir", required=True, help="the image folder whose test images measure the preset")
    parser.add_argument("--overwrite", action="store_true", help="replace what DESTINATION holds")
    parser.add_argument(
        "--calibrate",
        nargs="+",
        metavar="PRESET_DIR",
        help="instead: fit the temperature of these trained presets again and state their class "
        "names and calibration (weights unchanged)",
    )
    args = parser.parse_args(argv)
    if args.calibrate:
        for directory in args.calibrate:
            c = calibrate_preset(directory, args.data_dir)["calibration"]
            carried = "not carried" if c["temperature"] is None else "carried"
            print(
                f"{directory}: T = {c['fitted_temperature']:g} ({carried}), test ECE {100 * c['ece_before']:.1f} % "
                f"-> {100 * c['ece_after']:.1f} %"
            )
        return 0
    if not (args.run and args.destination):
        parser.error("give RUN and DESTINATION, or --calibrate PRESET_DIR ...")
    metadata = write_trained_preset(args.run, args.destination, args.data_dir, overwrite=args.overwrite)
    print(
        f"{args.destination}: {metadata['arch']}, test accuracy {100 * metadata['test_accuracy']:.2f} % on "
        f"{metadata['test_images']} images (the run's results.json: {100 * metadata['run_test_accuracy']:.2f} %)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
