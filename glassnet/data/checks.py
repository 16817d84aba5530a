"""Data checks the notes recommend before training: class balance, input range and scale
(features differing by orders of magnitude), NaN/inf, and label types. Each result is a
:class:`glassnet.doctor.findings.Finding`, available to the training doctor.

    report = check_data(X, y)
    print(report)              # plain-language findings
    report.findings            # [Finding(severity, what, evidence, remedy, code)]
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..doctor.findings import Finding

__all__ = ["DataReport", "check_data", "class_balance", "leakage_finding"]


@dataclass
class DataReport:
    n_examples: int
    n_features: int
    class_counts: dict = field(default_factory=dict)
    feature_mean: np.ndarray | None = None
    feature_std: np.ndarray | None = None
    findings: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    def __str__(self):
        head = f"data check: {self.n_examples} examples, {self.n_features} features"
        if self.class_counts:
            head += f", {len(self.class_counts)} classes"
        if not self.findings:
            return head + "\n  no problems found"
        return head + "\n" + "\n".join(str(f) for f in self.findings)


def class_balance(y) -> dict:
    """{class: count} for integer labels."""
    values, counts = np.unique(np.asarray(y), return_counts=True)
    return {int(v): int(c) for v, c in zip(values, counts)}


def _labels(y, n_classes, findings):
    y = np.asarray(y)
    if y.ndim != 1:
        return None
    if y.dtype.kind == "f":
        if np.all(np.isfinite(y)) and np.all(y == np.round(y)):
            findings.append(Finding("warning", "class labels are stored as floats", f"dtype {y.dtype}",
                                    "convert them with y.astype(np.int64); class losses refuse float labels",
                                    "data.float_labels"))
            y = y.astype(np.int64)
        else:
            findings.append(Finding("info", "targets are real numbers: treating this as regression",
                                    f"dtype {y.dtype}", "", "data.regression_targets"))
            return None
    if y.dtype.kind not in "iu":
        findings.append(Finding("error", "labels are not numbers", f"dtype {y.dtype}",
                                "map class names to integers 0..C-1", "data.label_type"))
        return None
    if y.size and y.min() < 0:
        findings.append(Finding("error", "negative class labels", f"smallest label {int(y.min())}",
                                "labels must be 0..C-1", "data.negative_labels"))
    counts = class_balance(y)
    if n_classes is not None:
        missing = sorted(set(range(n_classes)) - set(counts))
        if missing:
            findings.append(Finding("warning", f"{len(missing)} of {n_classes} classes have no examples",
                                    f"missing classes {missing[:10]}", "check the split; stratify it",
                                    "data.missing_classes"))
        if y.size and y.max() >= n_classes:
            findings.append(Finding("error", "labels exceed the number of classes",
                                    f"largest label {int(y.max())} for {n_classes} classes",
                                    "fix the labels or the model's output size", "data.label_range"))
    if len(counts) > 1:
        ratio = max(counts.values()) / min(counts.values())
        if ratio >= 3:
            findings.append(Finding(
                "warning", "classes are imbalanced",
                f"largest/smallest class = {ratio:.1f} ({max(counts.values())} vs {min(counts.values())} examples)",
                "accuracy will flatter the majority class: look at per-class accuracy, resample or weight classes",
                "data.class_imbalance", {"ratio": ratio}))
    return counts


def check_data(X, y=None, n_classes=None) -> DataReport:
    """Run the notes' data checks on (X, y); returns a DataReport with findings."""
    X = np.asarray(X)
    findings = []
    X2 = X.reshape(len(X), -1) if X.ndim >= 2 else X.reshape(-1, 1)
    report = DataReport(len(X), X2.shape[1] if X2.ndim == 2 else 1)
    if X.dtype.kind not in "fiub":
        findings.append(Finding("error", "inputs are not numeric", f"dtype {X.dtype}", "convert the features to numbers",
                                "data.input_type"))
        report.findings = findings
        return report
    Xf = X2.astype(np.float64)
    bad = ~np.isfinite(Xf)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        findings.append(Finding("error", "inputs contain NaN or inf",
                                f"{int(bad.sum())} values in {len(rows)} examples (first rows {rows[:5].tolist()})",
                                "impute or drop them before training", "data.nonfinite", {"rows": rows[:100].tolist()}))
        Xf = np.where(bad, np.nan, Xf)
    mean = np.nanmean(Xf, axis=0)
    std = np.nanstd(Xf, axis=0)
    report.feature_mean, report.feature_std = mean, std
    live = std[std > 0]
    if live.size >= 2 and live.max() / live.min() >= 100:
        findings.append(Finding(
            "warning", "features differ in scale by orders of magnitude",
            f"feature standard deviations range from {live.min():.3g} to {live.max():.3g} "
            f"({live.max() / live.min():.0f}x)",
            "standardize the inputs (glassnet.data.Standardize fitted on the training split); gradient descent "
            "zig-zags on badly scaled features", "data.unscaled_features", {"ratio": float(live.max() / live.min())}))
    scale = np.nanmax(np.abs(Xf)) if Xf.size else 0.0
    if np.isfinite(scale) and scale > 0 and np.nanmax(np.abs(mean)) > 3 * max(np.nanmax(std), 1e-12):
        findings.append(Finding("info", "inputs are far from zero-centred",
                                f"largest feature mean {np.nanmax(np.abs(mean)):.3g} vs largest std {np.nanmax(std):.3g}",
                                "subtract the training mean (MeanCenter or Standardize)", "data.not_centred"))
    constant = int((std == 0).sum())
    if constant:
        findings.append(Finding("info", f"{constant} features are constant", "standard deviation 0",
                                "they carry no information; you may drop them", "data.constant_features"))
    if y is not None:
        y = np.asarray(y)
        if len(y) != len(X):
            findings.append(Finding("error", "X and y have different lengths", f"{len(X)} vs {len(y)}",
                                    "pair every example with its label", "data.length_mismatch"))
        else:
            report.class_counts = _labels(y, n_classes, findings) or {}
    report.findings = findings
    return report


def leakage_finding(X_train, X_val, min_share=0.0):
    """A ``data.leakage`` warning when validation examples are also training examples (more than
    ``min_share`` of them, at least one), else None."""
    from .splits import find_duplicates

    X_val = np.asarray(X_val)
    shared = len({j for _, j in find_duplicates(np.asarray(X_train), X_val)})
    if not shared or shared < min_share * len(X_val):
        return None
    return Finding("warning", "Examples appear in both the training and the validation data: validation scores are "
                   "optimistic and cannot select a model.",
                   f"{shared} of {len(X_val)} validation examples ({100 * shared / len(X_val):.0f}%) are also training "
                   f"examples", "Remove the duplicates, then split (glassnet.data.leakage_report shows them).",
                   "data.leakage", {"shared": shared})
