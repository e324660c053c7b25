"""Label efficiency: held-out accuracy against the number of labels, for random, uncertainty and
diversity sampling (`aurora-sw label suggest`'s strategies), on the synthetic sky (issue #16, item 5).

One run: a synthetic archive of ``--nights`` nights (128 px frames; the network sees 64 px, as the
demo trains on the CPU). The last night is the test night (every frame of it, the truth's
``aurora_visible``), the one before it the validation night (``--val`` frames drawn at random and
labelled: the validation check of every training, the same for every strategy), the rest are the
pool the strategies label from. For each seed, every strategy starts from the same random
``--budgets[0]`` labels; then, budget by budget, a classifier is trained from scratch on the labels
so far (`train_classifier`, ``--epochs`` epochs, no restarts; every label set is repeated to
``--epoch-frames`` an epoch, by default the largest budget, so that every training takes the same
number of optimizer steps whatever its labels: 12 x 25 = 300 at 800 frames), evaluated on the test night, and used
to pick the next labels with :func:`aurora_sw.model.active.select_frames` (uncertainty: nearest the
threshold; diversity: k-centre cover of the pooled features seeded by the labelled frames;
random: a uniform draw), each round from ``--candidates`` unlabelled pool frames drawn at random
(as `label suggest --pool`). A training whose epochs all fail the validation check is evaluated from
its last epoch and marked.

    python benchmarks/label_efficiency.py [--seeds 0 1] [--budgets 25 50 100 200 400 800] [--out DIR]

Writes ``label_efficiency.csv`` and ``label_efficiency.png`` (mean and range over the seeds) to
``--out`` (default: a temporary folder) and prints the table.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def _train(labelled: pd.DataFrame, val: pd.DataFrame, out: Path, epochs: int, seed: int, epoch_frames: int):
    from aurora_sw.errors import AuroraSWError
    from aurora_sw.model import load_checkpoint
    from aurora_sw.model.config import TrainConfig
    from aurora_sw.model.train import train_classifier

    # Every labelled set is repeated to ``epoch_frames`` an epoch (whole copies, then a draw of the
    # rest), so every training takes the same optimizer steps: the curve compares labels, not training
    # lengths (25 labels would otherwise be 12 steps in all, 800 labels 300).
    repeat, rest = divmod(epoch_frames, len(labelled))
    train = pd.concat([labelled] * repeat + [labelled.sample(rest, random_state=seed)])
    split = pd.concat([train.assign(split="train"), val.assign(split="val")])
    split["label"] = np.where(split["aurora_visible"], "yes", "no")
    cfg = TrainConfig(input_size=64, epochs_head=0, epochs_full=epochs, lr_full=2e-3, batch_size=32, seed=seed, restarts=0)
    try:
        return train_classifier(split[["path", "label", "split"]], cfg, out, progress=False), True
    except AuroraSWError:
        return load_checkpoint(out / "last.pt"), False


def _accuracy(ckpt, test: pd.DataFrame) -> tuple[float, float]:
    from aurora_sw.index.score import score_frames

    p = score_frames(list(test["path"]), ckpt, progress=False)["p_aurora"].to_numpy()
    y, pred = test["aurora_visible"].to_numpy(bool), p >= ckpt.threshold
    return float((pred == y).mean()), float((pred[y].mean() + (~pred[~y]).mean()) / 2)


def run(strategy: str, seed: int, pool: pd.DataFrame, val: pd.DataFrame, test: pd.DataFrame, budgets: list[int], epochs: int, work: Path,
        candidates: int = 2000, epoch_frames: int | None = None) -> list[dict]:
    from aurora_sw.model.active import embed_frames, select_frames

    rng = np.random.default_rng(seed)
    labelled = pool.iloc[np.sort(rng.choice(len(pool), budgets[0], replace=False))]
    rows = []
    for k, budget in enumerate(budgets):
        t0 = time.perf_counter()
        ckpt, usable = _train(labelled, val, work / f"{strategy}_{seed}_{budget}", epochs, seed, epoch_frames or max(budgets))
        acc, bal = _accuracy(ckpt, test)
        rows.append(dict(strategy=strategy, seed=seed, labels=len(labelled), aurora_labels=int(labelled["aurora_visible"].sum()),
                         accuracy=acc, balanced_accuracy=bal, usable=usable, seconds=round(time.perf_counter() - t0, 1)))
        print(f"{strategy:>11} seed {seed} {len(labelled):4d} labels ({rows[-1]['aurora_labels']:3d} aurora): test accuracy {acc:.3f}, "
              f"balanced {bal:.3f}{'' if usable else ' (no epoch passed the validation check)'} [{rows[-1]['seconds']:.0f} s]", flush=True)
        if k + 1 == len(budgets):
            break
        need = budgets[k + 1] - len(labelled)
        cand = pool[~pool["path"].isin(set(labelled["path"]))]
        if len(cand) > candidates:  # as `label suggest --pool`: a uniform draw of candidates is scored
            cand = cand.sample(candidates, random_state=seed * 1000 + k)
        cand = cand.reset_index(drop=True)
        if strategy == "random":
            picks = select_frames(cand.assign(p_aurora=np.nan), strategy="random", n=need, per_night=need, seed=seed * 1000 + k)
        else:
            p, feats, _ = embed_frames(ckpt, list(cand["path"]))
            known = embed_frames(ckpt, list(labelled["path"]))[1] if strategy == "diversity" else None
            picks = select_frames(cand.assign(p_aurora=p), strategy=strategy, n=need, threshold=ckpt.threshold, embeddings=feats,
                                  labelled_embeddings=known, per_night=need, seed=seed)
        labelled = pd.concat([labelled, pool[pool["path"].isin(set(picks["path"]))]])
    return rows


def plot(table: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), constrained_layout=True)
    colours = {"random": "0.45", "uncertainty": "#d95f02", "diversity": "#1b9e77"}
    for ax, metric in zip(axes, ("accuracy", "balanced_accuracy")):
        for strategy, g in table.groupby("strategy"):
            s = g.groupby("labels")[metric].agg(["mean", "min", "max"])
            ax.plot(s.index, s["mean"], "o-", color=colours.get(strategy), label=strategy)
            ax.fill_between(s.index, s["min"], s["max"], color=colours.get(strategy), alpha=0.2)
        ax.set_xscale("log")
        ticks = sorted(table["labels"].unique())
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.minorticks_off()
        ax.set_xlabel("labelled frames")
        ax.set_ylabel(f"test-night {metric.replace('_', ' ')}")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("Label efficiency on the synthetic sky (mean, and range over seeds)", fontsize=10)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nights", type=int, default=6)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--budgets", type=int, nargs="+", default=[25, 50, 100, 200, 400, 800])
    ap.add_argument("--strategies", nargs="+", default=["random", "uncertainty", "diversity"])
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--val", type=int, default=150, help="labelled validation frames (the validation night)")
    ap.add_argument("--candidates", type=int, default=2000, help="unlabelled pool frames scored each round")
    ap.add_argument("--epoch-frames", type=int, default=None, help="frames an epoch, every labelled set repeated to it (default: the largest budget)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    import torch

    from aurora_sw.synthetic import generate_archive

    work = Path(tempfile.mkdtemp(prefix="label_eff_"))
    out = args.out or work
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    syn = generate_archive(work / "syn", "2024-02-05", n_nights=args.nights, seed=0, size=128, progress=False)
    truth = pd.read_csv(syn.truth_csv)
    truth["path"] = [str(syn.root / p) for p in truth["path"]]
    nights = sorted(truth["night"].unique())
    pool = truth[truth["night"].isin(nights[:-2])].reset_index(drop=True)
    val = truth[truth["night"] == nights[-2]].sample(args.val, random_state=0)
    test = truth[truth["night"] == nights[-1]]
    print(f"{len(truth)} frames of {len(nights)} nights in {time.perf_counter() - t0:.0f} s; pool {len(pool)} frames "
          f"({pool['aurora_visible'].mean():.0%} aurora), validation {len(val)} of night {nights[-2]}, test every frame of night {nights[-1]} "
          f"({len(test)}, {test['aurora_visible'].mean():.0%} aurora); torch threads {torch.get_num_threads()}", flush=True)
    rows = []
    for seed in args.seeds:
        for strategy in args.strategies:
            rows += run(strategy, seed, pool, val, test, args.budgets, args.epochs, work, args.candidates, args.epoch_frames)
            table = pd.DataFrame(rows)
            table.to_csv(out / "label_efficiency.csv", index=False)
    plot(table, out / "label_efficiency.png")
    summary = table.groupby(["strategy", "labels"])[["accuracy", "balanced_accuracy"]].agg(["mean", "min", "max"]).round(3)
    print(summary.to_string())
    ref = table[(table["strategy"] == "random") & (table["labels"] == max(args.budgets))]["accuracy"].mean()
    for strategy in ("uncertainty", "diversity"):
        g = table[table["strategy"] == strategy].groupby("labels")["accuracy"].mean()
        reach = g[g >= ref]
        print(f"{strategy}: random's {max(args.budgets)}-label accuracy ({ref:.3f}) reached with "
              f"{int(reach.index.min()) if len(reach) else 'more than ' + str(max(args.budgets))} labels (mean over seeds)")
    print(f"-> {out / 'label_efficiency.csv'}, {out / 'label_efficiency.png'}; {time.perf_counter() - t0:.0f} s in all")


if __name__ == "__main__":
    main()
