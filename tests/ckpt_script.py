"""Helper run in a separate process by test_checkpoint.py."""
import sys

import numpy as np

import glassnet as gn


def build():
    net = gn.nn.Sequential(gn.nn.Linear(2, 32, rng=0), gn.nn.BatchNorm1d(32), gn.nn.ReLU(), gn.nn.Dropout(0.3),
                           gn.nn.Linear(32, 3, rng=1))
    d = gn.data.make_spiral(n_per_class=40, seed=0)
    callbacks = [gn.callbacks.EarlyStopping(monitor="val_loss", patience=50),
                 gn.callbacks.ReduceLROnPlateau(monitor="val_loss", patience=1, factor=0.5),
                 gn.callbacks.PolyakAveraging(decay=0.9, apply_at_end=False)]
    tr = gn.Trainer(net, gn.nn.SoftmaxCrossEntropy(), gn.optim.Adam(net, lr=1e-2), penalty=gn.optim.L2(1e-3),
                    schedule=gn.optim.schedules.StepDecay(every=2, factor=0.5), callbacks=callbacks, verbose=0)
    return tr, (d.X, d.y)


def main():
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "first-half":
        tr, data = build()
        tr.fit(data, val=data, epochs=3, batch_size=16, seed=3)
        tr.save_checkpoint(path)
    elif mode == "write-forever":
        tr, data = build()
        big = gn.nn.Sequential(gn.nn.Linear(1000, 2000, rng=0))  # ~8 MB per write
        tr2 = gn.Trainer(big, gn.nn.MSE(), gn.optim.Adam(big), verbose=0)
        tr2.rng = np.random.default_rng(0)
        print("ready", flush=True)
        i = 0
        while True:
            big[0].W.data[0, 0] = i
            tr2.save_checkpoint(path)
            i += 1


if __name__ == "__main__":
    main()
