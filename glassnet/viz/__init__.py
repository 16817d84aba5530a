"""See what a network learned (the notes' "Visualizing what ConvNets learn"): arrays in, arrays
out, a matplotlib figure helper beside each.

    acts = gn.viz.activations(model, X[:4])               # {layer name: its outputs}
    w = gn.viz.filters(model[0])                           # first-layer filters as images
    rf = gn.viz.receptive_field(model, "3")                # size, stride, offset in input pixels
    top = gn.viz.max_activating(model, X, "3", unit=5)     # the inputs that excite a channel most
    occ = gn.viz.occlusion(model, X[:2], target=y[:2])     # P(target) with a grey square moved over
    sal = gn.viz.saliency(model, X[:2], target=y[:2])      # |d score / d pixel|
    gb = gn.viz.guided_backprop(model, X[:2], target=y[:2])
    cam = gn.viz.grad_cam(model, X[:2], y[:2], layer="3")
    emb = gn.viz.embed(model, X, layer="6")                # t-SNE (or PCA) of a layer's codes

Everything runs in eval mode and leaves the model as it was (its mode, its parameters'
gradients); layers are named by their dotted names (``model.named_modules()``)."""
from .attribution import grad_cam, guided_backprop, occlusion, saliency
from .embedding import Embedding, embed
from .layers import MaxActivating, ReceptiveField, activations, filters, max_activating, receptive_field
from .plots import plot_activations, plot_embedding, plot_filters, plot_max_activating, plot_occlusion

__all__ = ["activations", "filters", "receptive_field", "ReceptiveField", "max_activating", "MaxActivating",
           "saliency", "guided_backprop", "grad_cam", "occlusion", "embed", "Embedding", "plot_activations",
           "plot_filters", "plot_max_activating", "plot_occlusion", "plot_embedding"]
