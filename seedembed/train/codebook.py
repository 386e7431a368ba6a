"""Codebook fine-tuning: train a GAN's generator for what the codec needs (issue 9).

With one seed per image the codec is exactly as good as its codebook G(PRF(0..m-1)). A GAN
trained only against a discriminator spreads those m images over realistic samples, not over
where real images lie. This module runs k-means through the generator, as Implicit Maximum
Likelihood Estimation (Li & Malik, 2018) does with fresh samples, here with the model's own
fixed seed space:

1. assignment: every training image gets its best seed by the codec's exact image search;
2. update: G lowers ``||G(PRF(seed)) - x||^2`` of each image from its assigned seed, plus
   ``adv_weight`` times the non-saturating GAN loss against a discriminator that keeps training
   beside it (from scratch: the shipped models carry no discriminator), so outputs stay sharp,
   plus, optionally, ``perceptual_weight`` times a perceptual loss: the squared distance of the
   two images' features in a separately trained digit CNN (``perceptual_net``; MSE alone lets a
   blurred 4 drift towards a 9, which a feature distance punishes, as LPIPS does for photos),
   and ``class_weight`` times a label-consistency loss: the cross-entropy of that CNN's logits
   on the assigned seed's image against the training image's label, so that the codebook
   entry a 4 is pulled to reads as a 4 and not as the pixel average of a 4 and a 9 (labelled
   data sets only; the CNN is never the classifier that judges the reconstructions), and
   ``confidence_weight`` times the entropy of that CNN's prediction on the images of random
   seeds: a codebook entry halfway between a 4 and a 9 is the pixel-nearest entry for both and
   reads as neither, so every entry is pushed to read as one definite digit.
   ``precision_weight`` times the MSE between the images of random seeds and their nearest
   training images pulls every entry, used or not, towards real data: the assignment makes
   each training image near some entry (recall), this term makes each entry near some training
   image (precision, the other half of a chamfer distance), so that the entries between two
   classes, which no training image claims, become one or the other.
   ``margin_weight`` trains the codebook as the nearest-prototype classifier it is for a
   judge (learning vector quantisation, LVQ2 with the relative distance of generalised LVQ):
   each round a fresh warped copy of every training digit stands in for an unseen digit; the
   copies whose pixel-nearest entry the digit CNN reads as another class than theirs are the
   codec's misreadings in the making, and for each the term pulls the nearest entry of the
   right class (among the ``MARGIN_K`` nearest) closer than the wrong one, by
   ``max(0, (d+ - d-) / (d+ + d-) + MARGIN_DELTA)`` on their squared pixel distances (the
   wrong entry is left where it is: it is the right one for digits of its own class).
   ``margin_probe="training"`` takes the training digits themselves as the stand-ins, each
   searched without the entry it is assigned (leave-one-out), instead of warped copies.
   Any data set can add ``ssim_weight`` times ``1 - SSIM`` (the metric's own 11x11 Gaussian
   window): MSE alone pulls an entry to the blurred mean of the faces it stands for, which
   keeps the MSE low and the structure (SSIM) poor; learned codecs train on (MS-)SSIM for the
   same reason.

Two options widen what the codebook is fitted to. ``augment`` K adds K randomly warped copies of
every training image each round (a small affine warp: rotation, scale, shift; plus a
horizontal flip for RGB faces), drawn afresh every round: 60,000 digits claim only about 48,000
of 524,287 seeds, and a test digit's nearest entry is usually one no training digit is assigned
to, so the plain k-means step cannot move it; the warped copies claim and train many more
entries around where real images lie. ``search="hybrid"`` assigns by the model's inverse
generator (top-k seeds by latent distance, re-ranked by their images) instead of the exact image
search: a 64x64 codebook is 24 GiB and is too slow to rebuild every round; the inverse is
the source model's and goes stale as G moves, so the assignment is approximate (retrain the
inverse on the result).

Each round rebuilds the codebook of the updated generator and re-assigns. The generator is
trained in inference mode (batch norm on its running statistics), so what is trained is
exactly what the codec renders. A run folder holds ``finetune.json`` (history) and, after each
round, a resumable checkpoint; the result is a model folder any command accepts.
"""

from __future__ import annotations

import copy
import json
import math
import shutil
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from seedembed import prf as prf_mod
from seedembed.data import load_uint8, open_dataset, to_float
from seedembed.errors import CheckpointError, ModelError
from seedembed.metrics import ssim
from seedembed.models import Discriminator, GanConfig
from seedembed.models.config import checked_dict
from seedembed.search import codebook as cb
from seedembed.search.kernels import smallest_k, sqdist_rows
from seedembed.search.strategies import _fingerprint, find_seeds
from seedembed.train import checkpoint as ckpt
from seedembed.train.config import check_lr
from seedembed.train.runinfo import command_line, git_commit, machine, utc_now

STATE = "finetune-checkpoint.safetensors"
HISTORY = "finetune.json"
FORMAT = "seedembed-finetune/1"
#: how a round assigns seeds: the exact image search, or the inverse generator's shortlist
ASSIGN_SEARCHES = ("image", "hybrid")
#: the hybrid assignment's shortlist unless told otherwise
DEFAULT_TOPK = 64
#: the longest hybrid shortlist: 20,673 faces x 4096 is already 85 M renders a round
MAX_TOPK = 4096
#: the margin term looks for an entry of the right class among this many nearest entries
MARGIN_K = 16
#: ... and pulls it until it is nearer than the wrong one by this relative margin
MARGIN_DELTA = 0.05
#: the margin term's stand-ins for unseen digits: warped copies, or the training digits
#: themselves without the entry each is assigned
MARGIN_PROBES = ("copies", "training")


@dataclass(frozen=True)
class FinetuneConfig:
    """Settings of a fine-tuning run (stored in the run and in the model's config.json)."""

    rounds: int = 6
    epochs_per_round: int = 1
    batch_size: int = 128
    lr: float = 1e-4
    adv_weight: float = 0.02
    d_warmup_steps: int = 300
    d_width: int | None = None
    limit: int | None = None
    eval_images: int = 2000
    seed: int = 0
    perceptual_weight: float = 0.0
    perceptual_net: str | None = None
    class_weight: float = 0.0
    confidence_weight: float = 0.0
    precision_weight: float = 0.0
    margin_weight: float = 0.0
    margin_probe: str = "copies"
    augment: int = 0
    search: str = "image"
    balanced: bool = False
    ssim_weight: float = 0.0
    topk: int = DEFAULT_TOPK

    def __post_init__(self) -> None:
        for name in ("rounds", "epochs_per_round", "batch_size", "topk"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ModelError(f"{name} must be an integer >= 1, got {value!r}")
        for name in ("d_warmup_steps", "eval_images", "augment"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ModelError(f"{name} must be an integer >= 0, got {value!r}")
        check_lr(self.lr)
        weights = (
            "adv_weight",
            "perceptual_weight",
            "class_weight",
            "confidence_weight",
            "ssim_weight",
            "precision_weight",
            "margin_weight",
        )
        for name in weights:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise ModelError(f"{name} must be >= 0, got {value!r}")
            if math.isinf(value):
                raise ModelError(f"{name} must be finite, got {value!r}")
        for name in ("perceptual_weight", "class_weight", "confidence_weight", "margin_weight"):
            if getattr(self, name) and not self.perceptual_net:
                raise ModelError(f"{name} needs perceptual_net (a digit classifier folder)")
        if self.limit is not None and (not isinstance(self.limit, int) or self.limit < 1):
            raise ModelError(f"limit must be an integer >= 1, got {self.limit!r}")
        if self.margin_probe not in MARGIN_PROBES:
            raise ModelError(
                f"margin_probe must be one of {', '.join(MARGIN_PROBES)}, got {self.margin_probe!r}"
            )
        if self.margin_probe != "copies" and not self.margin_weight:
            raise ModelError(
                "margin_probe chooses the margin term's stand-ins: it needs margin_weight"
            )
        if self.margin_weight and self.search != "image":
            raise ModelError(
                "the margin term searches the exact codebook every round: it needs search='image'"
            )
        if self.search not in ASSIGN_SEARCHES:
            raise ModelError(
                f"search must be one of {', '.join(ASSIGN_SEARCHES)}, got {self.search!r}"
            )
        if not isinstance(self.balanced, bool):
            raise ModelError(f"balanced must be true or false, got {self.balanced!r}")
        if self.topk > MAX_TOPK:
            raise ModelError(
                f"topk must be <= {MAX_TOPK} (the re-ranking renders topk images per target), "
                f"got {self.topk}"
            )
        if self.topk != DEFAULT_TOPK and self.search != "hybrid":
            raise ModelError("topk is the hybrid assignment's shortlist: it needs search='hybrid'")
        if self.balanced and self.search != "image":
            raise ModelError("balanced assignment needs the exact image search (search='image')")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FinetuneConfig:
        return cls(**checked_dict(cls, data, "fine-tuning config"))


@dataclass
class Assignment:
    """One assignment pass: the seed of every training image and how well it fits."""

    seeds: torch.Tensor
    train_mse: float
    distinct: int
    test_mse: float | None
    test_ssim: float | None
    seconds: float
    test_accuracy: float | None = None
    probe_seeds: torch.Tensor | None = None  # (N, MARGIN_K) nearest seeds of assign's probe


def assign(
    G: torch.nn.Module,
    prf: prf_mod.Prf,
    train_x: torch.Tensor,
    test_x: torch.Tensor | None,
    cache_dir: Path,
    device: torch.device,
    progress: bool,
    judge: tuple[torch.nn.Module, torch.Tensor] | None = None,
    inverse: torch.nn.Module | None = None,
    balanced: bool = False,
    topk: int = DEFAULT_TOPK,
    probe: torch.Tensor | None = None,
) -> Assignment:
    """Exact image search of the training (and evaluation) images in G's fresh codebook, or,
    given ``inverse``, the hybrid search (its ``topk`` seeds re-ranked by their images; the
    re-ranking renders N x topk images, the assignment's cost on a CPU).

    ``judge`` (a digit classifier and the evaluation images' labels) adds the classifier
    accuracy of the evaluation reconstructions: MSE alone hides a blurred 4 that reads as a 9.
    ``balanced`` gives the training images seeds by :func:`balanced_seeds` instead of each its
    nearest (the evaluation images keep the exact search: that is what the codec does).
    ``probe`` (images) adds the seeds of each one's ``MARGIN_K`` nearest entries, nearest
    first (the margin term's candidates).

    The codebook is built in ``cache_dir`` and deleted afterwards: it is stale after the next
    update, and it is 1.8 GiB for m = 524287 digits.
    """
    t0 = time.perf_counter()
    fingerprint = _fingerprint(G, prf)
    kw = dict(generator=G, prf=prf, strategy="image", fingerprint=fingerprint)
    kw.update(cache_dir=cache_dir, device=device, progress=progress)

    def search(x: torch.Tensor):
        if inverse is None:
            return find_seeds(x, **kw)
        with torch.no_grad():
            z = torch.cat([inverse(b.to(device)).float().cpu() for b in x.split(1024)])
        return find_seeds(x, **{**kw, "strategy": "hybrid", "latents": z, "topk": topk})

    probe_seeds = None
    try:
        if balanced or probe is not None:
            book = cb.load_codebook(
                G, prf, fingerprint, cache_dir, device=device, progress=progress
            )
        if probe is not None:
            q = probe.flatten(1).to(device, torch.float32)
            with cb.exact_fp32():
                probe_seeds = smallest_k(q, book.images, book.image_sqnorms, MARGIN_K)[1].cpu()
        if balanced:  # a full pass over the codebook per block of targets, not the shortlist
            seeds, sq = balanced_seeds(train_x.flatten(1), book.images, book.image_sqnorms)
            train_mse = float(sq.mean()) / train_x[0].numel()
        else:
            res = search(train_x)
            seeds, train_mse = res.seeds, float(res.image_mse.mean())
        test_mse = test_ssim = test_accuracy = None
        if test_x is not None and len(test_x):
            tres = search(test_x)
            recon = cb.render(G, prf, tres.seeds, device).reshape(test_x.shape).cpu()
            test_mse = float(tres.image_mse.mean())
            test_ssim = float(ssim((recon + 1) / 2, (test_x + 1) / 2).mean())
            if judge is not None:
                from seedembed.train.classifier import evaluate

                test_accuracy = evaluate(judge[0], (recon + 1) / 2, judge[1])["accuracy"]
    finally:
        cb.forget(fingerprint, cache_dir)
    return Assignment(
        seeds,
        train_mse,
        int(seeds.unique().numel()),
        test_mse,
        test_ssim,
        time.perf_counter() - t0,
        test_accuracy,
        probe_seeds,
    )


@torch.no_grad()
def misread_pairs(
    G: torch.nn.Module,
    prf: prf_mod.Prf,
    net: torch.nn.Module,
    seeds: torch.Tensor,
    labels: torch.Tensor,
    device: torch.device,
    chunk: int = 4096,
) -> tuple[int, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The margin term's pairs: for probe rows with candidate ``seeds`` (N, K, nearest first)
    and ``labels`` (N,), the rows whose nearest entry ``net`` reads as another class, with that
    entry's seed and the nearest candidate it reads as the row's own class (rows with none in
    their K are left out). Returns (number misread, rows, right seeds, wrong seeds) and reads
    only what it must: every nearest entry, then the other candidates of the misread rows.
    """
    c, size = G.config.channels, G.config.image_size

    def read(s: torch.Tensor) -> torch.Tensor:
        if not len(s):  # no row misread: nothing to render (split() would give one empty part)
            return torch.empty(0, dtype=torch.long)
        out = [
            net((cb.render(G, prf, part, device).view(-1, c, size, size) + 1) / 2).argmax(1).cpu()
            for part in s.split(chunk)
        ]
        return torch.cat(out)

    misread = (read(seeds[:, 0]) != labels).nonzero().squeeze(1)
    rest = seeds[misread, 1:]
    right = read(rest.flatten()).view(rest.shape) == labels[misread, None]
    found = right.any(1)
    first = right.float().argmax(1)
    rows = misread[found]
    return len(misread), rows, rest[found, first[found]], seeds[rows, 0]


def balanced_seeds(
    x: torch.Tensor, images: torch.Tensor, sqnorms: torch.Tensor, k: int = 16
) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeds for the rows of ``x`` (N, D) from a codebook (m, D), each seed taking at most
    ceil(N / m) rows: the targets one seed must reproduce are not averaged into a blur.

    Each row proposes its k nearest entries in order; a seed accepts its nearest proposers up to
    its capacity, the others propose their next candidate (vectorised rounds). Rows whose k
    candidates all filled up start again with the k nearest entries that still have room, until
    every row has a seed. Candidates come from the search's blocked GEMM kernel; the returned
    squared distances of the chosen entries are the direct ones, as the image search scores them.
    """
    m, dev = len(images), images.device
    cap = -(-len(x) // m)
    seeds = torch.full((len(x),), -1, dtype=torch.long)
    load = torch.zeros(m, dtype=torch.long)
    with cb.exact_fp32():
        while (rows := (seeds < 0).nonzero().squeeze(1)).numel():
            open_ = (load < cap).nonzero().squeeze(1)
            book, book_sq = images, sqnorms
            if len(open_) < m:  # leave the full seeds out of the search
                book, book_sq = images[open_.to(dev)], sqnorms[open_.to(dev)]
            dist, idx = smallest_k(x[rows].to(dev, torch.float32), book, book_sq, k)
            cand, dist = open_[idx.cpu()], dist.cpu()
            got = torch.full((len(rows),), -1, dtype=torch.long)
            ptr = torch.zeros(len(rows), dtype=torch.long)
            for _ in range(cand.shape[1]):
                todo = ((got < 0) & (ptr < cand.shape[1])).nonzero().squeeze(1)
                if not len(todo):
                    break
                s, d = cand[todo, ptr[todo]], dist[todo, ptr[todo]]
                order = torch.argsort(d, stable=True)
                order = order[torch.argsort(s[order], stable=True)]  # by seed, then distance
                s_sorted = s[order]
                rank = torch.arange(len(order)) - torch.searchsorted(s_sorted, s_sorted)
                ok = rank < (cap - load[s_sorted])
                got[todo[order[ok]]] = s_sorted[ok]
                load += torch.bincount(s_sorted[ok], minlength=m)
                ptr[todo[order[~ok]]] += 1
            seeds[rows] = got
        chosen = torch.cat(
            [
                sqdist_rows(q.to(dev, torch.float32), images[s.to(dev)].unsqueeze(1))
                .squeeze(1)
                .cpu()
                for q, s in zip(x.split(65536), seeds.split(65536), strict=True)
            ]
        )
    return seeds, chosen


def warp(x: torch.Tensor, gen: torch.Generator, chunk: int = 8192) -> torch.Tensor:
    """A randomly warped copy of each image (N, C, H, W) in [-1, 1], drawn from ``gen``.

    Rotation up to 8 degrees, scale within 8%, shift up to 6% of the side, and for RGB a
    horizontal flip half of the time (faces are near-symmetric; digits are not). Digits are
    padded black, faces by their border pixels.
    """
    n, channels = len(x), x.shape[1]

    def uniform() -> torch.Tensor:
        return torch.rand(n, generator=gen, dtype=torch.float64) * 2 - 1

    angle, scale = uniform() * math.radians(8.0), 1 + uniform() * 0.08
    tx, ty = uniform() * 0.12, uniform() * 0.12  # affine_grid's [-1, 1] spans the side
    flip = torch.ones(n, dtype=torch.float64)
    if channels == 3:
        flip[torch.rand(n, generator=gen) < 0.5] = -1
    cos, sin = angle.cos() / scale, angle.sin() / scale
    theta = torch.stack(
        [torch.stack([cos * flip, -sin, tx], 1), torch.stack([sin * flip, cos, ty], 1)], 1
    ).to(x.dtype)
    out = torch.empty_like(x)
    for lo in range(0, n, chunk):
        xb, tb = x[lo : lo + chunk], theta[lo : lo + chunk]
        grid = F.affine_grid(tb, list(xb.shape), align_corners=False)
        if channels == 3:
            out[lo : lo + chunk] = F.grid_sample(
                xb, grid, padding_mode="border", align_corners=False
            )
        else:  # zeros padding on [0, 1] is black
            pic = F.grid_sample((xb + 1) / 2, grid, padding_mode="zeros", align_corners=False)
            out[lo : lo + chunk] = pic * 2 - 1
    return out


def _augment_counts(a: Assignment, n_train: int, n_targets: int) -> dict[str, Any]:
    """With warped copies: the seeds the original images use (``distinct_seeds``, comparable
    with a run without copies) and those all targets use; ``train_mse`` covers all targets."""
    if n_targets == n_train:
        return {}
    return {
        "targets": n_targets,
        "distinct_seeds": int(a.seeds[:n_train].unique().numel()),
        "distinct_seeds_all": a.distinct,
    }


def without_own(cand: torch.Tensor, own: torch.Tensor) -> torch.Tensor:
    """Candidate seeds (N, K) without each row's own seed ``own`` (N,): (N, K - 1), in order.
    A training digit's nearest entry is the one fitted to it; the nearest of the others is
    what it would find were it unseen, as a test digit is."""
    order = torch.argsort((cand == own[:, None]).to(torch.int8), dim=1, stable=True)
    return cand.gather(1, order)[:, :-1]


def _sqdist(G: torch.nn.Module, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Per row, the mean squared distance between G's image of latent ``z`` and image ``x``."""
    return (G(z).flatten(1) - x.flatten(1)).pow(2).mean(1)


@torch.no_grad()
def _fixed_share(
    G: torch.nn.Module,
    x: torch.Tensor,
    z: tuple[torch.Tensor, torch.Tensor],
    device: torch.device,
    chunk: int = 4096,
) -> float | None:
    """The share of margin pairs (copies ``x``, latents of their right and wrong entries)
    whose right entry is now the nearer of the two."""
    if not len(x):
        return None
    nearer = 0
    for lo in range(0, len(x), chunk):
        xb = x[lo : lo + chunk].to(device)
        d = [_sqdist(G, zz[lo : lo + chunk].to(device), xb) for zz in z]
        nearer += int((d[0] < d[1]).sum())
    return nearer / len(x)


def _step_d(D, opt_d, real: torch.Tensor, fake: torch.Tensor) -> float:
    logits = D(torch.cat([real, fake.detach()]), split=len(real))
    n = len(real)
    loss = F.softplus(-logits[:n]).mean() + F.softplus(logits[n:]).mean()
    opt_d.zero_grad(set_to_none=True)
    loss.backward()
    opt_d.step()
    return float(loss.detach())


def finetune_codebook(
    model: str,
    out_dir: str | Path,
    config: FinetuneConfig,
    *,
    data_root: str | None = None,
    device: str = "cpu",
    resume: bool = False,
    progress: bool = True,
    log=print,
    max_rounds: int | None = None,
    max_seconds: float | None = None,
) -> Path:
    """Fine-tune ``model``'s generator as a codebook of its training set; returns ``out_dir``.

    ``out_dir`` ends up a model folder (``generator.safetensors`` + ``config.json`` with a
    ``finetune`` record: settings, per-round history, the source fingerprint, command, commit,
    machine and times), so ``train-inverse``, ``encode`` and the zoo export take it as it is.
    ``max_rounds`` stops after that many rounds of this call, leaving a checkpoint that
    ``resume=True`` continues exactly (the random state and both optimisers are saved).
    ``max_seconds`` is a wall-time budget for this call: a round starts only if it and the
    final assignment fit, judged by the slowest round and assignment so far; the model is then
    written after the rounds done (its record says so), and its checkpoint is kept, so that
    ``resume=True`` with the same settings adds the remaining rounds.
    """
    from seedembed.zoo import load_generator

    dev = torch.device(device)
    out = Path(out_dir)
    src = load_generator(model, device=dev)
    train_cfg = src.config["train"]
    geometry = (src.model_config.channels, src.model_config.image_size)
    if config.perceptual_net and geometry != (1, 28):
        raise ModelError(
            f"the perceptual, class, confidence and margin terms use a digit CNN (1x28x28 images); "
            f"model {str(model)!r} makes {geometry[0]}x{geometry[1]}x{geometry[1]} images"
        )
    if resume:
        tensors, state = ckpt.read_tensors_and_state(out / STATE, FORMAT, "fine-tuning checkpoint")
        stored = FinetuneConfig.from_dict(state["config"])
        source = state["record"]["source"]
        if source["fingerprint"] != src.fingerprint:
            raise CheckpointError(
                f"{str(out)!r} fine-tunes model {source['model']!r} "
                f"({source['fingerprint'][:12]}...), not {model!r} ({src.fingerprint[:12]}...)"
            )
        if replace(stored, rounds=config.rounds) != config:
            raise CheckpointError(
                f"{str(out)!r} was fine-tuned with other settings (only --rounds may change on "
                "resume): start a new --out instead"
            )
    elif (out / STATE).exists() or (out / ckpt.GENERATOR).exists():
        raise CheckpointError(f"{str(out)!r} already holds a run: pass --resume or a new --out")
    out.mkdir(parents=True, exist_ok=True)
    G = copy.deepcopy(src.generator).to(dev).eval().requires_grad_(True)
    d_cfg = GanConfig.from_dict(
        {**G.config.to_dict(), "d_width": config.d_width or G.config.d_width}
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        D = Discriminator(d_cfg).to(dev)
    opt_g = torch.optim.Adam(G.parameters(), lr=config.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=config.lr * 2, betas=(0.5, 0.999))
    gen = torch.Generator().manual_seed(config.seed)
    record: dict[str, Any] = {
        "config": asdict(config),
        "source": {"model": str(model), "fingerprint": src.fingerprint},
        "command": command_line(),
        "commit": git_commit(),
        "machine": machine(dev, 1),
        "started_utc": utc_now(),
        "history": [],
    }
    round0, wall_before = 0, 0.0
    if resume:
        ckpt.load_module(G, ckpt.module_state(tensors, "G"), "checkpoint G")
        ckpt.load_module(D, ckpt.module_state(tensors, "D"), "checkpoint D")
        opt_g.load_state_dict(ckpt.unflatten_optimizer("opt_g", tensors, state["opt_g"]))
        opt_d.load_state_dict(ckpt.unflatten_optimizer("opt_d", tensors, state["opt_d"]))
        gen.set_state(tensors["rng"])
        round0, record = int(state["round"]), state["record"]
        record["config"] = asdict(config)
        wall_before = float(record.get("wall_time_s", 0.0))
        record.setdefault("resumes", []).append({"command": command_line(), "utc": utc_now()})

    ds = open_dataset(train_cfg["dataset"], data_root, train=True)
    train_x = to_float(load_uint8(ds, config.limit))
    test_x = judge = None
    if config.eval_images:
        test_ds = open_dataset(train_cfg["dataset"], data_root, train=False)
        test_x = to_float(load_uint8(test_ds, config.eval_images))
        if train_cfg["dataset"] == "mnist":
            from seedembed.zoo import load_classifier

            judge = (load_classifier(), test_ds.targets[: len(test_x)])
    net = features = train_y = None
    if (
        config.perceptual_weight
        or config.class_weight
        or config.confidence_weight
        or config.margin_weight
    ):
        from seedembed.train.classifier import load_classifier

        net = load_classifier(config.perceptual_net).to(dev).eval().requires_grad_(False)
        features = net.body[:-1]  # the 128-d penultimate layer
    if config.class_weight or config.margin_weight:
        train_y = getattr(ds, "targets", None)
        if train_y is None:
            raise ModelError(
                f"class_weight and margin_weight need labelled training data; "
                f"{train_cfg['dataset']!r} has none"
            )
        train_y = torch.as_tensor(train_y[: len(train_x)], dtype=torch.long)
    if config.precision_weight:  # the training images the entries are pulled towards
        train_rows = train_x.flatten(1).to(dev)
        train_sq = train_rows.pow(2).sum(1)

    prf, L = src.prf, G.config.latent_length
    size = prf.size
    cache = out / "codebook-cache"
    inverse = None
    if config.search == "hybrid":
        from seedembed.zoo import load_inverse

        inverse = load_inverse(model, dev, fingerprint=src.fingerprint)

    def save_state(next_round: int) -> None:
        tensors = {f"G/{k}": v for k, v in G.state_dict().items()}
        tensors.update({f"D/{k}": v for k, v in D.state_dict().items()})
        tg, mg = ckpt.flatten_optimizer("opt_g", opt_g.state_dict())
        td, md = ckpt.flatten_optimizer("opt_d", opt_d.state_dict())
        tensors.update(tg | td)
        tensors["rng"] = gen.get_state()
        record["wall_time_s"] = round(wall_before + time.perf_counter() - t_start, 1)
        meta = {"format": FORMAT, "config": asdict(config), "round": next_round}
        meta.update(opt_g=mg, opt_d=md, record=record)
        ckpt.atomic_save_tensors(tensors, out / STATE, {"seedembed": json.dumps(meta)})

    def random_latents(n: int) -> torch.Tensor:
        seeds = torch.randint(0, size, (n,), generator=gen)
        return prf.sequences(seeds, L, device=dev)

    def report(r: int, a: Assignment, extra: dict) -> None:
        entry = {
            "round": r,
            "train_mse": a.train_mse,
            "distinct_seeds": a.distinct,
            "test_mse": a.test_mse,
            "test_ssim": a.test_ssim,
            "test_accuracy": a.test_accuracy,
            "assign_s": round(a.seconds, 1),
            **extra,
        }
        record["history"].append(entry)
        (out / HISTORY).write_text(json.dumps(record, indent=2) + "\n")
        log(json.dumps(entry))

    t_start = time.perf_counter()
    slowest_round = slowest_assign = 0.0
    stopped_at = None
    for r in range(round0, config.rounds):
        if max_rounds is not None and r - round0 >= max_rounds:
            save_state(r)
            return out
        elapsed = time.perf_counter() - t_start
        budget = max_seconds is not None and r > round0  # a call runs at least one round
        if budget and elapsed + slowest_round + slowest_assign > max_seconds:
            stopped_at = r
            break
        t_round = time.perf_counter()
        G.eval()
        targets, target_y = train_x, train_y
        if config.augment:
            reps = (config.augment, 1, 1, 1)
            targets = torch.cat([train_x, warp(train_x.repeat(reps), gen)])
            if train_y is not None:
                target_y = train_y.repeat(config.augment + 1)
        probe = None
        if config.margin_weight:
            probe = warp(train_x, gen) if config.margin_probe == "copies" else train_x
        a = assign(
            G, prf, targets, test_x, cache, dev, progress,
            judge=judge, inverse=inverse, balanced=config.balanced, topk=config.topk,
            probe=probe,
        )  # fmt: skip
        margin_info: dict[str, Any] = {}
        if probe is not None:
            cand = a.probe_seeds
            if config.margin_probe == "training":  # each digit as if unseen: without its entry
                cand = without_own(cand, a.seeds[: len(train_x)])
            n_misread, rows, plus, minus = misread_pairs(G, prf, net, cand, train_y, dev)
            margin_x, margin_z = probe[rows], (prf.sequences(plus, L), prf.sequences(minus, L))
            margin_info = {"probes_misread": n_misread / len(probe), "margin_pairs": len(rows)}
        if r == 0 and config.d_warmup_steps:
            for _ in range(config.d_warmup_steps):
                idx = torch.randint(0, len(train_x), (config.batch_size,), generator=gen)
                with torch.no_grad():
                    fake = G(random_latents(config.batch_size))
                _step_d(D, opt_d, train_x[idx].to(dev), fake)
        z_all = prf.sequences(a.seeds, L)
        t0, losses = time.perf_counter(), torch.zeros(4)
        steps = 0
        margin_order = torch.empty(0, dtype=torch.long)
        for _ in range(config.epochs_per_round):
            order = torch.randperm(len(targets), generator=gen)
            for i in range(0, len(order) - config.batch_size + 1, config.batch_size):
                idx = order[i : i + config.batch_size]
                x, z = targets[idx].to(dev), z_all[idx].to(dev)
                recon = G(z)
                fake = G(random_latents(config.batch_size))
                d_loss = _step_d(D, opt_d, x, torch.cat([recon, fake]))
                rec_loss = F.mse_loss(recon, x)
                loss = rec_loss
                if config.perceptual_weight:
                    fr, fx = features((recon + 1) / 2), features((x + 1) / 2)
                    loss = loss + config.perceptual_weight * F.mse_loss(fr, fx)
                if config.class_weight:
                    ce = F.cross_entropy(net((recon + 1) / 2), target_y[idx].to(dev))
                    loss = loss + config.class_weight * ce
                if config.confidence_weight:
                    logp = F.log_softmax(net((fake + 1) / 2), dim=1)
                    entropy = -(logp.exp() * logp).sum(1).mean()
                    loss = loss + config.confidence_weight * entropy
                if config.precision_weight:
                    with torch.no_grad():
                        near = smallest_k(fake.detach().flatten(1), train_rows, train_sq, 1)[1]
                    pull = F.mse_loss(fake.flatten(1), train_rows[near[:, 0]])
                    loss = loss + config.precision_weight * pull
                margin = torch.zeros(())
                if probe is not None and len(margin_x):
                    if len(margin_order) < config.batch_size:  # the pairs, cycled in new orders
                        more = torch.randperm(len(margin_x), generator=gen)
                        margin_order = torch.cat([margin_order, more])
                    pick, margin_order = (
                        margin_order[: config.batch_size],
                        margin_order[config.batch_size :],
                    )
                    xm = margin_x[pick].to(dev)
                    d_plus = _sqdist(G, margin_z[0][pick].to(dev), xm)
                    with torch.no_grad():  # the wrong entry stays: it is right for its own
                        d_minus = _sqdist(G, margin_z[1][pick].to(dev), xm)
                    mu = (d_plus - d_minus) / (d_plus + d_minus).clamp_min(1e-12)
                    margin = F.relu(mu + MARGIN_DELTA).mean()
                    loss = loss + config.margin_weight * margin
                if config.ssim_weight:
                    s = ssim((recon + 1) / 2, (x + 1) / 2)
                    loss = loss + config.ssim_weight * (1 - s).mean()
                if config.adv_weight:
                    D.requires_grad_(False)
                    adv = F.softplus(-D(torch.cat([recon, fake]))).mean()
                    D.requires_grad_(True)
                    loss = loss + config.adv_weight * adv
                opt_g.zero_grad(set_to_none=True)
                loss.backward()
                opt_g.step()
                losses += torch.tensor(
                    [rec_loss.detach().item(), d_loss, loss.detach().item(), margin.item()]
                )
                steps += 1
        mean = (losses / max(steps, 1)).tolist()
        if probe is not None:  # how many pairs the round set right: the term's own measure
            margin_info["margin_fixed"] = _fixed_share(G, margin_x, margin_z, dev)
        report(
            r,
            a,
            {
                **_augment_counts(a, len(train_x), len(targets)),
                "update_s": round(time.perf_counter() - t0, 1),
                "steps": steps,
                "rec_mse": mean[0],
                "d_loss": mean[1],
                **({"margin_loss": mean[3], **margin_info} if probe is not None else {}),
            },
        )
        save_state(r + 1)
        slowest_round = max(slowest_round, time.perf_counter() - t_round)
        slowest_assign = max(slowest_assign, a.seconds)
    G.eval()
    final = assign(
        G, prf, train_x, test_x, cache, dev, progress,
        judge=judge, inverse=inverse, topk=config.topk,
    )  # fmt: skip
    done = config.rounds if stopped_at is None else stopped_at
    report(done, final, {"final": True})
    shutil.rmtree(cache, ignore_errors=True)
    if stopped_at is not None:
        record["stopped"] = {
            "after_rounds": stopped_at,
            "of_rounds": config.rounds,
            "max_seconds": max_seconds,
            "utc": utc_now(),
        }
    record["finished_utc"] = utc_now()
    record["wall_time_s"] = round(wall_before + time.perf_counter() - t_start, 1)
    config_doc = {k: v for k, v in src.config.items() if k not in ("format", "fingerprint")}
    if "finetune" in config_doc:  # a fine-tuned source: keep its record, in order
        config_doc["finetune_history"] = [
            *config_doc.get("finetune_history", []),
            config_doc.pop("finetune"),
        ]
    config_doc["finetune"] = record
    ckpt.save_model(out, G.requires_grad_(False), config_doc)
    (out / HISTORY).write_text(json.dumps(record, indent=2) + "\n")
    if stopped_at is None:
        (out / STATE).unlink(missing_ok=True)
    return out
