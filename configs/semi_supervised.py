r"""Semi-supervised learning with a GAN (Salimans et al. 2016, section 5): a K-class discriminator
whose real/fake logit is the log-sum-exp of its class logits, trained on 100 labels (10 a class)
and the unlabelled rest, with feature matching for G. Reports D's test classification error.

Command:   python -m experiments.run --config=configs/semi_supervised.py --workdir=runs/semi
           (D's test error is in runs/semi/eval_8000.json; every 2,000 steps in eval.jsonl)
           seeds 0-2: python -m experiments.sweep --config=configs/semi_supervised.py \
               --workdir=runs/semi_seeds
Data:      the MNIST test split in ../shared/data/mnist (10,000 images; the only MNIST here),
           divided by a fixed rule: examples [0, 8000) train (labelled: the first 10 of each
           class; all of them unlabelled), [8000, 10000) test. With full MNIST:
           --config.data.name=tfds:mnist --config.data.split=train --config.data.eval_split=test.
Model:     MLPs at 28x28: G 100 -> 500 -> 500 -> 784 (ReLU, Tanh); D 784 -> 4 x 500 (leaky ReLU,
           Gaussian noise 0.3 on every layer's input) -> 10 class logits. Adam 3e-4, beta1 0.5,
           batch 100, 8,000 steps (100 epochs of the 8,000 training images).
Differs from the authors' script (openai/improved-gan, train_mnist_feature_matching.py): 8,000
           instead of 60,000 unlabelled images; 100 instead of 300 epochs; no moving average of
           D's parameters for testing; learning rate 3e-4 instead of 3e-3; D 4 x 500 instead of
           weight-normalised 1000-500-250-250-250 with noise 0.5 on hidden layers; G without
           BatchNorm and softplus; the loss weights; the first labelled examples of each class
           instead of random ones. docs/improved_gan.md lists each.
CPU time:  about 5 minutes on both cores (8,000 steps); the 3-seed sweep 12.5 minutes.
Expected:  D's test error falls through 2,000 / 4,000 / 6,000 / 8,000 steps (seed 0: 534 / 312 /
           258 / 227 errors of 2,000 test images); over seeds 0-2 at 8,000 steps 1,290 +- 136
           errors per 10,000 (12.9%), against the paper's 93 +- 6.5 on full MNIST;
           docs/improved_gan.md says what differs.
"""

import ml_collections

from gan_jax import models
from gan_jax.config import arguments, base_config

parse_args = arguments("semi_supervised.py", smoke=False, seeds=3)


def get_config(arg: str = "") -> ml_collections.ConfigDict:
    args = parse_args(arg)
    c = base_config()
    c.data.update(name="idx:../shared/data/mnist", split="test[:8000]", image_size=0)
    c.model = models.model_config(
        "mlp",
        z_dim=100,
        g=dict(width=500, depth=2, output="tanh"),
        d=dict(width=500, depth=4, activation="leaky_relu", noise_std=0.3),
    )
    c.loss.update(d="semi_supervised", g="feature_matching", num_labelled=100)
    c.optim.g.lr = c.optim.d.lr = 3e-4
    c.train.update(batch_size=100, total_steps=8_000, steps_per_call=100)
    c.log.update(every=500, sample_every=2_000, num_samples=100)
    c.checkpoint.update(every=2_000, keep=2)
    c.data.eval_split = "test[8000:]"
    c.eval.update(every=2_000, metrics="semi_supervised,equilibrium")
    if args.smoke:
        c.data.update(name="digits", split="train[:1400]", eval_split="train[1400:]", image_size=8)
        c.model.update(z_dim=16)
        c.model.g.width = c.model.d.width = 32
        c.loss.num_labelled = 50
        c.train.update(batch_size=50, total_steps=20, steps_per_call=10)
        c.log.update(every=10, sample_every=20, num_samples=16)
        c.checkpoint.update(every=20)
        c.eval.update(every=20)
    c.lock()
    return c


def get_sweep(arg: str = "") -> list[dict]:
    """Three seeds (`seeds=N`: N), for the mean and spread of the test error."""
    return [{"_name": "semi_supervised", "seed": seed} for seed in range(parse_args(arg).seeds)]
