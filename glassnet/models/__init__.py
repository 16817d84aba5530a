"""Ready-made models: the notes' classic architectures (LeNet-5, AlexNet, VGG, GoogLeNet,
ResNet), ``summary`` (layers, parameters, multiply-adds and the memory a training step needs),
transfer learning (``feature_extractor``, ``replace_head``) and a character-level language
model (``char_lstm``, ``sample``)."""
from .architectures import ARCHITECTURES, alexnet, googlenet, lenet5, resnet, vgg

__all__ = ["ARCHITECTURES", "lenet5", "alexnet", "vgg", "googlenet", "resnet"]
from .summary import LayerRow, MemoryEstimate, Summary, optimizer_state_slots, summary  # noqa: E402

__all__ += ["summary", "Summary", "LayerRow", "MemoryEstimate", "optimizer_state_slots"]
from .transfer import body_parameters, feature_extractor, replace_head  # noqa: E402

__all__ += ["feature_extractor", "replace_head", "body_parameters"]
from .language import carrying_state, char_lstm, language_model_metrics, sample  # noqa: E402

__all__ += ["char_lstm", "sample", "language_model_metrics", "carrying_state"]
