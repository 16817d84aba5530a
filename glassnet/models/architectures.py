"""The notes' classic architectures, built from glassnet's layers as named Sequentials.

Every builder takes ``num_classes``, ``in_channels`` and ``input_size`` (an int or (H, W))
whose defaults are the original paper's; at those settings the parameter counts equal the
published ones. At small inputs (28x28, 32x32) the same layers are kept, the fully connected
layers take whatever the convolutions leave, and a pooling layer whose window no longer fits
the map is left out (said in the builder's docstring). The children carry names
(``features``, ``classifier``, ``layer1``, ``fc``) so ``feature_extractor(model, upto=...)``
and ``replace_head`` can cut a model where the notes' transfer learning does.
"""
from __future__ import annotations

import numpy as np

from .._checks import as_generator, check_bool, check_choice, check_int_pair, check_number, positive_int
from ..errors import ConfigError
from ..functional.conv import out_size
from ..nn import (AvgPool2d, BasicBlock, BatchNorm2d, Bottleneck, Conv2d, Dropout, Flatten, GlobalAvgPool,
                  Inception, Linear, LocalResponseNorm, MaxPool2d, ReLU, Sequential, Sigmoid, Tanh)
from ..nn.blocks import conv_unit


class _Size:
    """The spatial size of the map as layers are added (to size the classifier and to leave out
    pools that no longer fit)."""

    def __init__(self, input_size, who):
        self.who = who
        self.h, self.w = check_int_pair(input_size, "input_size", who, lo=1)

    def conv(self, k, s=1, p=0):
        self.h = out_size(self.h, k, s, p, 1, self.who, "H")
        self.w = out_size(self.w, k, s, p, 1, self.who, "W")

    def fits(self, k, p=0):
        return self.h + 2 * p >= k and self.w + 2 * p >= k

    @property
    def area(self):
        return self.h * self.w


def _common(who, num_classes, in_channels, rng):
    return positive_int(num_classes, who, "num_classes"), positive_int(in_channels, who, "in_channels"), \
        as_generator(rng)


def lenet5(num_classes=10, in_channels=1, input_size=32, activation="sigmoid", rng=None, dtype=np.float32):
    """LeNet-5 as the notes describe it: conv - subsampling - conv - subsampling - FC - FC
    (and the output layer), sigmoid (or ``"tanh"``, LeCun's own) activations, average pooling
    as the subsampling, no dropout. 6 then 16 filters of 5x5, 120 and 84 hidden units; 61,706
    parameters at the defaults. Inputs smaller than 32 pixels are zero-padded to 32 by the first
    convolution (as LeCun placed the 28x28 digits in a 32x32 field)."""
    who = "lenet5"
    num_classes, in_channels, rng = _common(who, num_classes, in_channels, rng)
    act = {"sigmoid": Sigmoid, "tanh": Tanh}[check_choice(activation, "activation", who, ("sigmoid", "tanh"))]
    size = _Size(input_size, who)
    pad = max(0, (32 - min(size.h, size.w) + 1) // 2)
    size.conv(5, 1, pad)
    size.conv(2, 2)
    size.conv(5)
    size.conv(2, 2)
    kw = dict(init="xavier", rng=rng, dtype=dtype)
    return Sequential({
        "conv1": Conv2d(in_channels, 6, 5, padding=pad, **kw), "act1": act(), "pool1": AvgPool2d(2),
        "conv2": Conv2d(6, 16, 5, **kw), "act2": act(), "pool2": AvgPool2d(2),
        "flatten": Flatten(),
        "fc1": Linear(16 * size.area, 120, **kw), "act3": act(),
        "fc2": Linear(120, 84, **kw), "act4": act(),
        "fc3": Linear(84, num_classes, **kw)})


def alexnet(num_classes=1000, in_channels=3, input_size=224, channels=(96, 256, 384, 384, 256), lrn=True,
            dropout=0.5, rng=None, dtype=np.float32):
    """AlexNet in the notes' order: CONV1-MAXPOOL1-NORM1-CONV2-MAXPOOL2-NORM2-CONV3-CONV4-CONV5-
    MAXPOOL3-FC6-FC7-FC8, ReLU, overlapping 3x3 max pooling with stride 2, local response
    normalization (size 5, alpha 1e-4, beta 0.75, k 2) and dropout before FC6 and FC7.
    ``channels`` are the five convolutions' filter counts: the paper's (96, 256, 384, 384, 256)
    by default (62,378,344 parameters, one tower); torchvision's AlexNet is
    ``channels=(64, 192, 384, 256, 256), lrn=False`` (61,100,840). A max pooling whose window
    no longer fits the map (inputs under 63 pixels) is left out."""
    who = "alexnet"
    num_classes, in_channels, rng = _common(who, num_classes, in_channels, rng)
    channels = tuple(channels)
    if len(channels) != 5:
        raise ConfigError(f"{who}: channels must list the five convolutions' filter counts, got {channels!r}")
    c = [positive_int(v, who, "channels") for v in channels]
    check_bool(lrn, "lrn", who)
    dropout = check_number(dropout, "dropout", who, lo=0.0, hi=1.0, hi_open=True)
    size = _Size(input_size, who)
    kw = dict(rng=rng, dtype=dtype)
    f = Sequential()
    f.append(Conv2d(in_channels, c[0], 11, stride=4, padding=2, **kw), "conv1")
    size.conv(11, 4, 2)
    f.append(ReLU(), "relu1")
    _pool(f, size, "pool1", 3, 2, 0)
    if lrn:
        f.append(LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0), "norm1")
    f.append(Conv2d(c[0], c[1], 5, padding=2, **kw), "conv2")
    f.append(ReLU(), "relu2")
    _pool(f, size, "pool2", 3, 2, 0)
    if lrn:
        f.append(LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0), "norm2")
    f.append(Conv2d(c[1], c[2], 3, padding=1, **kw), "conv3")
    f.append(ReLU(), "relu3")
    f.append(Conv2d(c[2], c[3], 3, padding=1, **kw), "conv4")
    f.append(ReLU(), "relu4")
    f.append(Conv2d(c[3], c[4], 3, padding=1, **kw), "conv5")
    f.append(ReLU(), "relu5")
    _pool(f, size, "pool5", 3, 2, 0)
    classifier = Sequential({
        "drop6": Dropout(dropout, rng=rng), "fc6": Linear(c[4] * size.area, 4096, **kw), "relu6": ReLU(),
        "drop7": Dropout(dropout, rng=rng), "fc7": Linear(4096, 4096, **kw), "relu7": ReLU(),
        "fc8": Linear(4096, num_classes, **kw)})
    return Sequential({"features": f, "flatten": Flatten(), "classifier": classifier})


#: VGG's configurations (Simonyan and Zisserman, table 1): filter counts, "M" a 2x2 max pooling
VGG_CONFIGS = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg13": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


def vgg(name="vgg16", num_classes=1000, in_channels=3, input_size=224, batch_norm=False, dropout=0.5, rng=None,
        dtype=np.float32):
    """VGG (the notes' "smaller filter and deeper networks"): stacks of 3x3 convolutions
    (padding 1, ReLU, He initialization) separated by 2x2 max pooling, then FC-4096, FC-4096
    and the output layer with dropout. ``name`` is "vgg11", "vgg13", "vgg16" or "vgg19";
    ``batch_norm`` adds batch norm after every convolution (torchvision's ``vgg16_bn``, whose
    convolutions keep their biases).
    VGG-16 has 138,357,544 parameters at the defaults. A pooling that would take a 1-pixel map
    below one pixel (inputs under 32 pixels) is left out."""
    who = "vgg"
    name = check_choice(name, "name", who, tuple(VGG_CONFIGS))
    num_classes, in_channels, rng = _common(who, num_classes, in_channels, rng)
    check_bool(batch_norm, "batch_norm", who)
    dropout = check_number(dropout, "dropout", who, lo=0.0, hi=1.0, hi_open=True)
    size = _Size(input_size, who)
    f = Sequential()
    c_in = in_channels
    block, index = 1, 1
    for v in VGG_CONFIGS[name]:
        if v == "M":
            _pool(f, size, f"pool{block}", 2, 2, 0)
            block, index = block + 1, 1
            continue
        f.append(conv_unit(c_in, v, 3, padding=1, batch_norm=batch_norm, bias=True, rng=rng,
                                   dtype=dtype), f"conv{block}_{index}")
        c_in, index = v, index + 1
    kw = dict(rng=rng, dtype=dtype)
    classifier = Sequential({
        "fc6": Linear(c_in * size.area, 4096, **kw), "relu6": ReLU(), "drop6": Dropout(dropout, rng=rng),
        "fc7": Linear(4096, 4096, **kw), "relu7": ReLU(), "drop7": Dropout(dropout, rng=rng),
        "fc8": Linear(4096, num_classes, **kw)})
    return Sequential({"features": f, "flatten": Flatten(), "classifier": classifier})


#: GoogLeNet's Inception modules (Szegedy et al., table 1): in, 1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj
GOOGLENET_INCEPTIONS = {
    "inception3a": (192, 64, 96, 128, 16, 32, 32), "inception3b": (256, 128, 128, 192, 32, 96, 64),
    "inception4a": (480, 192, 96, 208, 16, 48, 64), "inception4b": (512, 160, 112, 224, 24, 64, 64),
    "inception4c": (512, 128, 128, 256, 24, 64, 64), "inception4d": (512, 112, 144, 288, 32, 64, 64),
    "inception4e": (528, 256, 160, 320, 32, 128, 128),
    "inception5a": (832, 256, 160, 320, 32, 128, 128), "inception5b": (832, 384, 192, 384, 48, 128, 128),
}


def googlenet(num_classes=1000, in_channels=3, input_size=224, kernel_5x5=5, batch_norm=True, dropout=0.2,
              rng=None, dtype=np.float32):
    """GoogLeNet (Inception v1) without its two auxiliary classifiers, as torchvision builds
    it: a 7x7/2 convolution, 3x3/2 max pooling, 1x1 and 3x3 convolutions, nine Inception
    modules with max pooling between stages, global average pooling, dropout and one linear
    layer. Convolutions are followed by batch norm (``batch_norm=True``, torchvision's choice,
    which lets it train without the auxiliary heads). The pooling layers pad by 1 where
    torchvision rounds up (``ceil_mode``): the same sizes. ``kernel_5x5`` is the kernel of the
    Inception's third branch: 5 as in the paper; torchvision uses 3 there, and
    ``googlenet(kernel_5x5=3)`` has its 6,624,904 parameters."""
    who = "googlenet"
    num_classes, in_channels, rng = _common(who, num_classes, in_channels, rng)
    check_bool(batch_norm, "batch_norm", who)
    dropout = check_number(dropout, "dropout", who, lo=0.0, hi=1.0, hi_open=True)
    size = _Size(input_size, who)
    unit = lambda i, o, k, s=1, p=0: conv_unit(i, o, k, stride=s, padding=p, batch_norm=batch_norm,  # noqa: E731
                                               rng=rng, dtype=dtype)
    m = Sequential()
    m.append(unit(in_channels, 64, 7, 2, 3), "conv1")
    size.conv(7, 2, 3)
    _pool(m, size, "maxpool1", 3, 2, 1)
    m.append(unit(64, 64, 1), "conv2")
    m.append(unit(64, 192, 3, 1, 1), "conv3")
    _pool(m, size, "maxpool2", 3, 2, 1)
    for stage, pool in (("3", ("maxpool3", 3, 2, 1)), ("4", ("maxpool4", 2, 2, 0)), ("5", None)):
        for name, widths in GOOGLENET_INCEPTIONS.items():
            if name.startswith(f"inception{stage}"):
                m.append(Inception(*widths, kernel_5x5=kernel_5x5, batch_norm=batch_norm, rng=rng, dtype=dtype), name)
        if pool:
            _pool(m, size, *pool)
    m.append(GlobalAvgPool(), "avgpool")
    m.append(Dropout(dropout, rng=rng), "dropout")
    m.append(Linear(1024, num_classes, rng=rng, dtype=dtype), "fc")
    return m


def _pool(model, size, name, k, s, p):
    """Append a MaxPool2d(k, s, p) named ``name`` when its window fits the map."""
    if size.fits(k, p):
        model.append(MaxPool2d(k, s, padding=p), name)
        size.conv(k, s, p)


#: ResNet depth -> (block, blocks per stage)
RESNET_CONFIGS = {18: ("basic", (2, 2, 2, 2)), 34: ("basic", (3, 4, 6, 3)), 50: ("bottleneck", (3, 4, 6, 3)),
                  101: ("bottleneck", (3, 4, 23, 3)), 152: ("bottleneck", (3, 8, 36, 3))}


def resnet(depth=18, num_classes=1000, in_channels=3, input_size=224, rng=None, dtype=np.float32):
    """ResNet (He et al.): a 7x7/2 convolution with batch norm and ReLU, 3x3/2 max pooling, four
    stages of residual blocks (64, 128, 256, 512 channels; the first block of stages 2-4 halves
    the map), global average pooling and one linear layer. Depth 18 and 34 use BasicBlock,
    50, 101 and 152 use Bottleneck (4x wider outputs). ResNet-18 has 11,689,512 parameters and
    ResNet-50 25,557,032 at the defaults. Works from 16x16 inputs up."""
    who = "resnet"
    if depth not in RESNET_CONFIGS:
        raise ConfigError(f"{who}: depth must be one of {', '.join(map(str, RESNET_CONFIGS))}, got {depth!r}")
    num_classes, in_channels, rng = _common(who, num_classes, in_channels, rng)
    kind, counts = RESNET_CONFIGS[depth]
    size = _Size(input_size, who)
    kw = dict(rng=rng, dtype=dtype)
    m = Sequential()
    m.append(Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False, **kw), "conv1")
    size.conv(7, 2, 3)
    m.append(BatchNorm2d(64, dtype=dtype), "bn1")
    m.append(ReLU(), "relu")
    _pool(m, size, "maxpool", 3, 2, 1)
    expansion = 1 if kind == "basic" else 4
    c_in = 64
    for stage, (count, width) in enumerate(zip(counts, (64, 128, 256, 512)), start=1):
        blocks = Sequential()
        for i in range(count):
            stride = 2 if stage > 1 and i == 0 else 1
            c_out = width * expansion
            block = BasicBlock(c_in, c_out, stride=stride, **kw) if kind == "basic" else \
                Bottleneck(c_in, c_out, stride=stride, **kw)
            blocks.append(block)
            c_in = c_out
            if stride == 2:
                size.conv(3, 2, 1)
        m.append(blocks, f"layer{stage}")
    m.append(GlobalAvgPool(), "avgpool")
    m.append(Linear(c_in, num_classes, **kw), "fc")
    return m


def _char_lstm(vocab_size, embedding=64, hidden=256, stateful=True, rng=None, dtype=np.float32):
    from .language import char_lstm
    return char_lstm(vocab_size, embedding, hidden, stateful, rng, dtype)


_char_lstm.__doc__ = "See ``glassnet.models.char_lstm``."

#: builder by the name a config's ``arch`` gives
ARCHITECTURES = {"lenet5": lenet5, "alexnet": alexnet, "vgg": vgg, "googlenet": googlenet, "resnet": resnet,
                 "char_lstm": _char_lstm}

__all__ = ["lenet5", "alexnet", "vgg", "googlenet", "resnet", "ARCHITECTURES", "VGG_CONFIGS", "RESNET_CONFIGS",
           "GOOGLENET_INCEPTIONS"]
