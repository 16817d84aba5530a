"""The edges a user meets first: empty inputs, data errors in the user's coordinates, the Python API
a PyTorch/Keras/scikit-learn user expects (issue 23)."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.errors import DataError, GlassnetError
from glassnet.gradcheck import builtin_layers


# -- empty inputs: a well-defined empty result or a clear error, never a crash inside NumPy -----------------
@pytest.mark.parametrize("name,factory,shape", builtin_layers(0), ids=[c[0] for c in builtin_layers(0)])
def test_every_layer_maps_an_empty_batch_to_an_empty_output(name, factory, shape):
    layer = factory().to(np.float64).eval()
    x = np.random.default_rng(0).standard_normal(shape)
    full = layer.forward(x)
    layer.backward(np.ones_like(full))
    grads = {n: p.grad.copy() for n, p in layer.named_parameters()}
    out = layer.forward(x[:0])
    assert out.shape == (0,) + full.shape[1:] and out.dtype == full.dtype
    dx = layer.backward(np.zeros_like(out))
    assert dx.shape == (0,) + x.shape[1:]
    for n, p in layer.named_parameters():  # an empty batch adds nothing to the gradients
        np.testing.assert_array_equal(p.grad, grads[n])


def test_batchnorm_in_training_refuses_an_empty_batch_clearly():
    with pytest.raises(DataError, match="BatchNorm1d\\(3\\): training mode needs more than one value"):
        gn.nn.BatchNorm1d(3).forward(np.zeros((0, 3), np.float32))


@pytest.mark.parametrize("loss,target", [(gn.nn.SoftmaxCrossEntropy, np.zeros(0, np.int64)),
                                         (gn.nn.MulticlassHinge, np.zeros(0, np.int64)),
                                         (gn.nn.MSE, np.zeros((0, 3), np.float32)),
                                         (gn.nn.BCEWithLogits, np.zeros((0, 3), np.float32))])
def test_losses_refuse_an_empty_batch(loss, target):
    with pytest.raises(DataError, match="no examples"):
        loss().forward(np.zeros((0, 3), np.float32), target)


def test_predict_on_zero_rows_gives_zero_rows():
    X, y = _blobs()
    tr = _trainer(preprocessing=gn.data.Standardize())
    tr.fit(X, y, epochs=1, batch_size=32)
    assert tr.predict(X[:0]).shape == (0,)
    assert tr.predict_proba(X[:0]).shape == (0, 3)
    assert gn.nn.eval_scores(tr.model, X[:0]).shape == (0, 3)


def test_standardize_fit_of_zero_rows_is_a_clear_error():
    with pytest.raises(DataError, match="needs at least 2 examples"):
        gn.data.Standardize().fit(np.zeros((0, 4)))
    prep = gn.data.Standardize().fit(np.random.default_rng(0).standard_normal((10, 4)))
    assert prep.transform(np.zeros((0, 4))).shape == (0, 4)


# -- data checked at the entry, in the user's coordinates -----------------------------------------------------
def _blobs(n=120, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    X = (rng.standard_normal((n, 4)) + 3 * y[:, None]).astype(np.float32)
    return X, y


def _trainer(**kw):
    net = gn.nn.Sequential(gn.nn.Linear(4, 16, rng=0), gn.nn.ReLU(), gn.nn.Linear(16, 3, rng=1))
    return gn.Trainer(net, gn.nn.SoftmaxCrossEntropy(), gn.optim.Adam(net, lr=1e-2), verbose=0, **kw)


BAD_DATA = [
    ("negative label", lambda X, y: (X, np.where(np.arange(len(y)) == 17, -1, y)), r"y: row 17 has label -1"),
    ("label too large", lambda X, y: (X, np.where(np.arange(len(y)) == 5, 3, y)),
     r"y: row 5 has label 3, but the model outputs 3 class scores \(labels 0..2\)"),
    ("NaN", lambda X, y: (np.where((np.arange(X.size) == 41).reshape(X.shape), np.nan, X), y),
     r"X: row 10, column 1 is nan"),
    ("lengths", lambda X, y: (X, y[:-1]), r"X has 120 rows but y has 119"),
    ("zero rows", lambda X, y: (X[:0], y[:0]), r"X has no rows"),
    ("1-D input", lambda X, y: (X[:, 0], y), r"one row per example.*reshape\(-1, 1\)"),
    ("float labels", lambda X, y: (X, y.astype(float)), r"integer class labels.*astype\(np.int64\)"),
    ("features", lambda X, y: (X[:, :3], y), r"examples of shape \(3,\) do not fit the model.*expected 4 input"),
    ("strings", lambda X, y: (X.astype(str), y), r"X must hold real numbers"),
]


@pytest.mark.parametrize("case,make,pattern", BAD_DATA, ids=[c[0] for c in BAD_DATA])
def test_bad_training_data_is_refused_before_the_first_epoch_in_the_users_coordinates(case, make, pattern):
    X, y = make(*_blobs())
    tr = _trainer()
    w0 = tr.model.state_dict()
    with pytest.raises(DataError, match=pattern):
        tr.fit(X, y, epochs=2, batch_size=16, seed=0)
    assert tr.iteration == 0  # nothing trained
    for k, v in tr.model.state_dict().items():
        np.testing.assert_array_equal(v, w0[k])


def test_nan_is_reported_at_the_same_row_whatever_the_seed():
    X, y = _blobs()
    X[10, 1] = np.nan
    for seed in (0, 1, 2):
        with pytest.raises(DataError, match=r"fit\(train\): X: row 10, column 1 is nan"):
            _trainer().fit(X, y, epochs=1, seed=seed)


def test_a_validation_set_of_another_width_is_refused_before_training():
    X, y = _blobs()
    with pytest.raises(DataError, match=r"fit\(val\): X: examples of shape \(5,\) do not fit the model"):
        _trainer().fit(X, y, val=(np.zeros((10, 5), np.float32), y[:10]), epochs=1)
    with pytest.raises(DataError, match=r"fit\(val\): X: .*fitted on 4 features"):
        _trainer(preprocessing=gn.data.Standardize()).fit(X, y, val=(np.zeros((10, 5), np.float32), y[:10]))


def test_a_last_batch_of_one_example_with_batchnorm_names_drop_last():
    X, y = _blobs(121)
    net = gn.nn.Sequential(gn.nn.Linear(4, 8), gn.nn.BatchNorm1d(8), gn.nn.ReLU(), gn.nn.Linear(8, 3))
    tr = gn.Trainer(net, gn.nn.SoftmaxCrossEntropy(), gn.optim.SGD(net, lr=0.1), verbose=0)
    with pytest.raises(DataError, match=r"last batch .* 1 example \(121 rows, batch_size 8\).*BatchNorm1d '1'.*"
                                        r"drop_last=True"):
        tr.fit(X, y, epochs=1, batch_size=8)
    assert tr.iteration == 0
    tr.fit(X, y, epochs=1, batch_size=8, drop_last=True)  # and with drop_last it trains
    assert tr.iteration == 15


# -- the Python API a PyTorch/Keras/scikit-learn user expects -----------------------------------------------
def test_fit_takes_x_and_y_as_well_as_a_pair():
    X, y = _blobs()
    a, b = _trainer(), _trainer()
    a.fit(X, y, epochs=2, batch_size=16, seed=3)
    b.fit((X, y), epochs=2, batch_size=16, seed=3)
    for k, v in a.model.state_dict().items():
        np.testing.assert_array_equal(b.model.state_dict()[k], v)
    assert a.evaluate(X, y)["loss"] == b.evaluate((X, y))["loss"]
    with pytest.raises(TypeError, match=r"fit\(X, y\) or fit\(\(X, y\)\), not both"):
        a.fit((X, y), y)


def test_trainer_preprocessing_is_fitted_applied_saved_and_restored(tmp_path):
    X, y = _blobs()
    X = X * 100 + 50  # far from standardized
    tr = _trainer(preprocessing=gn.data.Standardize())
    tr.fit(X, y, val=(X[:30], y[:30]), epochs=20, batch_size=16, seed=0)
    prep = tr.preprocessing
    np.testing.assert_allclose(prep.mean_, X.mean(0), rtol=1e-5)  # fitted on the training inputs
    assert tr.evaluate(X, y)["accuracy"] > 0.9  # applied to raw inputs
    manual = gn.nn.eval_scores(tr.model, prep.transform(X))
    np.testing.assert_allclose(tr.predict_scores(X), manual, rtol=1e-6)
    gn.save(tr.model, tmp_path / "m.npz", preprocessing=tr.preprocessing)
    model, prep2 = gn.load(tmp_path / "m.npz", with_preprocessing=True)
    np.testing.assert_allclose(gn.nn.eval_scores(model, prep2.transform(X)), manual, rtol=1e-6)
    # resuming a checkpoint restores the fitted preprocessing
    path = tr.save_checkpoint(tmp_path / "c.npz")
    again = _trainer(preprocessing=gn.data.Standardize())
    again.load_checkpoint(path)
    np.testing.assert_array_equal(again.preprocessing.mean_, prep.mean_)


def test_trainer_refuses_a_preprocessing_that_is_not_a_transformer():
    with pytest.raises(TypeError, match="preprocessing must be a glassnet.data Transformer"):
        _trainer(preprocessing="standardize")


def test_save_refuses_a_non_module(tmp_path):
    with pytest.raises(TypeError, match="glassnet.save: expected a glassnet Module"):
        gn.save("not a model", tmp_path / "x.npz")
    assert not (tmp_path / "x.npz").exists()


def test_every_user_error_is_a_glassnet_error_and_the_builtin_type():
    for cls, base in [(gn.errors.ConfigError, ValueError), (gn.errors.DataError, ValueError),
                      (gn.ShapeError, ValueError), (gn.NonFiniteError, ValueError),
                      (gn.CheckpointError, ValueError), (gn.errors.SearchError, ValueError),
                      (gn.errors.DataNotFoundError, FileNotFoundError), (gn.NotFittedError, AttributeError)]:
        assert issubclass(cls, GlassnetError) and issubclass(cls, base)


def test_load_says_when_it_leaves_the_stored_preprocessing_behind(tmp_path):
    import warnings
    X, y = _blobs()
    tr = _trainer(preprocessing=gn.data.Standardize())
    tr.fit(X, y, epochs=1)
    gn.save(tr.model, tmp_path / "m.npz", preprocessing=tr.preprocessing)
    with pytest.warns(UserWarning, match=r"stores fitted preprocessing \(Pipeline|Standardize.*with_preprocessing=True"):
        gn.load(tmp_path / "m.npz")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gn.load(tmp_path / "m.npz", with_preprocessing=False)
        model, prep = gn.load(tmp_path / "m.npz", with_preprocessing=True)
        gn.save(model, tmp_path / "plain.npz")
        gn.load(tmp_path / "plain.npz")  # nothing stored, nothing to say
    np.testing.assert_allclose(gn.nn.eval_scores(model, prep.transform(X)), tr.predict_scores(X), rtol=1e-6)
