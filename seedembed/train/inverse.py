"""Training, evaluating and storing the inverse generator E of a trained model (thesis slide 13).

Pairs are made on the fly: with the generator G frozen in eval mode, each batch draws latents
z, renders x = G(z) and regresses E(x) onto z (latent MSE). The latents are

* PRF sequences of seeds drawn uniformly from the seed space minus a fixed **held-out set**
  (``holdout`` seeds, drawn from ``seed``), which the evaluation uses, so its seed-recovery
  figures are measured on seeds E never saw;
* for models trained with the ``2steps`` or ``uniform`` schedules, i.i.d. U(-1, 1) latents in
  ``uniform_fraction`` of every batch (default: half). G learnt the space between PRF points
  from them, and images that are no PRF point's (real photos, digits) land there, so E must
  know it too; PRF-only models (``lcg``, ``lcg+noise``) get PRF latents only.

An optional image-space term ``image_weight * ||G(E(x)) - x||^2`` backpropagates through the
frozen G; it roughly doubles the cost of a step and is off by default (see the model card /
report for the measurement that decided it).

Everything random comes from one ``torch.Generator`` seeded with ``seed`` (plus the seeded
initial weights), and its state rides in the checkpoint, so on one CPU a run of N steps and a
run stopped at N/2 and resumed end bit for bit equal.

Files (in the model folder unless told otherwise):

* ``inverse.safetensors`` + ``inverse.json``: the trained E, its architecture, training
  settings, measured metrics, run info and the fingerprint of the generator it inverts;
* ``inverse-checkpoint.safetensors``: E, Adam and RNG state with the JSON state in its metadata
  (one atomic replace); removed when a run completes unless ``keep_checkpoint``.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from seedembed import prf as prf_mod
from seedembed.errors import CheckpointError, ModelError
from seedembed.models.config import checked_dict
from seedembed.models.inverse import InverseConfig, InverseGenerator
from seedembed.prf.base import MAX_TABLE_VALUES
from seedembed.train import checkpoint as ckpt
from seedembed.train.config import check_lr
from seedembed.train.loop import stop_on_signal
from seedembed.train.runinfo import command_line, git_commit, machine, utc_now

INVERSE = "inverse.safetensors"
INVERSE_JSON = "inverse.json"
INVERSE_CHECKPOINT = "inverse-checkpoint.safetensors"
FORMAT = "seedembed-inverse/1"
CHECKPOINT_FORMAT = "seedembed-inverse-checkpoint/1"
#: schedules whose generator also saw U(-1, 1) latents, so E trains on them too
UNIFORM_SCHEDULES = ("2steps", "uniform")
#: config fields a resumed run may change (training longer); anything else is a new run
RESUMABLE_CHANGES = ("steps",)
#: largest PRF table (seeds x symbols) kept in memory to index instead of recomputing
MAX_TABLE = 2**26


@dataclass(frozen=True)
class InverseTrainConfig:
    """What an inverse-generator run does; stored in its checkpoint and ``inverse.json``.

    ``lr`` decays along a cosine to ``lr / 100`` at ``steps`` (so raising ``steps`` on resume
    reshapes the tail of the schedule). ``uniform_fraction`` None means "from the generator's
    schedule": 0.5 for ``2steps``/``uniform`` models, 0 otherwise.

    ``reuse`` > 1 trades freshness for speed where rendering G(z) dominates (a CPU): each step
    renders only ``batch_size / reuse`` new pairs into a ring pool of the last ``pool_size``
    pairs and trains on ``batch_size`` pairs drawn from the pool, so a pair serves ``reuse``
    batches on average. 1 renders every pair fresh.
    """

    steps: int = 10_000
    batch_size: int = 256
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    width: int = 32
    uniform_fraction: float | None = None
    image_weight: float = 0.0
    holdout: int = 2000
    seed: int = 0
    reuse: int = 1
    pool_size: int = 16384

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "width", "reuse", "pool_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ModelError(f"{name} must be an integer >= 1, got {value!r}")
        if not isinstance(self.holdout, int) or self.holdout < 0:
            raise ModelError(f"holdout must be an integer >= 0, got {self.holdout!r}")
        check_lr(self.lr)
        if not (isinstance(self.image_weight, (int, float)) and self.image_weight >= 0):
            raise ModelError(f"image_weight must be >= 0, got {self.image_weight!r}")
        frac = self.uniform_fraction
        if frac is not None and not (isinstance(frac, (int, float)) and 0 <= frac <= 1):
            raise ModelError(f"uniform_fraction must be in [0, 1], got {frac!r}")
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["betas"] = list(self.betas)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InverseTrainConfig:
        return cls(**checked_dict(cls, data, "inverse training config"))

    def resolved(self, schedule: str | None) -> InverseTrainConfig:
        """The config with ``uniform_fraction`` fixed from the generator's schedule."""
        if self.uniform_fraction is not None:
            return self
        return replace(self, uniform_fraction=0.5 if schedule in UNIFORM_SCHEDULES else 0.0)


# -- latents -----------------------------------------------------------------------------------
def holdout_seeds(prf: prf_mod.Prf, count: int, seed: int) -> np.ndarray:
    """The sorted held-out seeds: ``count`` distinct seeds (at most a tenth of the space)."""
    gen = np.random.default_rng(np.random.SeedSequence([seed, 0x1D0]))
    if prf.size is None:  # unbounded: seeds far apart in 2^62 are never drawn twice
        return np.unique(gen.integers(0, 2**62, size=count, dtype=np.int64))
    count = min(count, prf.size // 10)
    return np.sort(gen.choice(prf.size, size=count, replace=False)).astype(np.int64)


class PairSampler:
    """Draws training latents: PRF sequences of non-held-out seeds (+ uniform latents)."""

    def __init__(
        self, prf: prf_mod.Prf, length: int, held_out: np.ndarray, uniform_fraction: float
    ) -> None:
        self.prf, self.length, self.uniform_fraction = prf, length, uniform_fraction
        self.table: torch.Tensor | None = None
        self.allowed: torch.Tensor | None = None
        if prf.size is not None:
            mask = np.ones(prf.size, dtype=bool)
            mask[held_out] = False
            self.allowed = torch.from_numpy(np.flatnonzero(mask))
            if prf.size * length <= MAX_TABLE:
                self.table = prf.table(length)

    def seeds(self, n: int, gen: torch.Generator) -> torch.Tensor:
        if self.allowed is not None:
            return self.allowed[torch.randint(0, len(self.allowed), (n,), generator=gen)]
        # unbounded space: a held-out seed comes up with probability ~ holdout / 2^62 per draw
        return torch.randint(0, 2**62, (n,), generator=gen)

    def __call__(self, n: int, gen: torch.Generator) -> torch.Tensor:
        n_uniform = int(round(n * self.uniform_fraction))
        seeds = self.seeds(n - n_uniform, gen)
        z = self.table[seeds] if self.table is not None else self.prf.sequences(seeds, self.length)
        if n_uniform:
            u = torch.rand((n_uniform, self.length), generator=gen).mul_(2.0).sub_(1.0)
            z = torch.cat([z, u])
        return z


class PairPool:
    """Ring buffer of the last ``size`` rendered (image, latent) pairs (``reuse`` > 1)."""

    def __init__(self, x: torch.Tensor, z: torch.Tensor, ptr: int = 0) -> None:
        self.x, self.z, self.ptr = x, z, ptr

    def put(self, x: torch.Tensor, z: torch.Tensor) -> None:
        idx = (torch.arange(len(x)) + self.ptr) % len(self.x)
        self.x[idx], self.z[idx] = x, z
        self.ptr = int((self.ptr + len(x)) % len(self.x))

    def draw(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.randint(0, len(self.x), (n,), generator=gen)
        return self.x[idx], self.z[idx]


def render(G: torch.nn.Module, z: torch.Tensor, batch: int = 1024) -> torch.Tensor:
    return _batched(G, z, batch)


def learning_rate(config: InverseTrainConfig, step: int) -> float:
    """Cosine decay from ``lr`` to ``lr / 100`` over ``steps``."""
    t = min(1.0, step / config.steps)
    return config.lr * (0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * t)))


def inverse_step(
    E: InverseGenerator,
    G: torch.nn.Module,
    opt: torch.optim.Optimizer,
    x: torch.Tensor,
    z: torch.Tensor,
    image_weight: float,
) -> float:
    """One Adam step on a batch of pairs x = G(z); returns the latent MSE of the batch."""
    est = E.raw(x)
    latent = torch.mean((est - z) ** 2)
    loss = latent
    if image_weight:
        loss = loss + image_weight * torch.mean((G(est.clamp(-1, 1)) - x) ** 2)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return float(latent.detach())


# -- evaluation --------------------------------------------------------------------------------
@torch.no_grad()
def nearest_seeds(
    queries: torch.Tensor, table: torch.Tensor, k: int = 1, chunk: int = 65536
) -> torch.Tensor:
    """Indices (N, k) of the k table rows nearest each query in L2 (exact, chunked)."""
    q = queries.float()
    best_d = torch.full((len(q), k), float("inf"), device=q.device)
    best_i = torch.zeros((len(q), k), dtype=torch.long, device=q.device)
    for start in range(0, len(table), chunk):
        t = table[start : start + chunk].float()
        d = (t * t).sum(1)[None, :] - 2.0 * q @ t.T  # ||q||^2 is the same for every row
        kk = min(k, d.shape[1])
        dv, di = torch.topk(d, kk, dim=1, largest=False)
        cat_d = torch.cat([best_d, dv], 1)
        cat_i = torch.cat([best_i, di + start], 1)
        order = torch.argsort(cat_d, dim=1, stable=True)[:, :k]
        best_d, best_i = torch.gather(cat_d, 1, order), torch.gather(cat_i, 1, order)
    return best_i


@torch.no_grad()
def _batched(fn, x: torch.Tensor, batch: int = 1000) -> torch.Tensor:
    return torch.cat([fn(x[i : i + batch]) for i in range(0, len(x), batch)])


@torch.no_grad()
def evaluate(
    E: InverseGenerator,
    G: torch.nn.Module,
    prf: prf_mod.Prf,
    seeds: np.ndarray,
    *,
    real_images: torch.Tensor | None = None,
    uniform_count: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """The figures that matter downstream, on held-out seeds and (optionally) real images.

    * ``latent_mse_prf``: mean over symbols of (E(G(z_s)) - z_s)^2 for the held-out seeds;
    * ``latent_mse_per_symbol``: that error per symbol position (G does not use every symbol
      equally, so a weighted search may want it);
    * ``latent_mse_uniform``: the same on U(-1, 1) latents;
    * ``seed_recovery``: fraction of held-out seeds s with argmin_s' ||E(G(z_s)) - z_s'||^2 = s
      over all seeds (the ``latent`` exact search), and ``seed_recovery_top10`` (s among the 10
      nearest, what a hybrid re-rank can still fix); None for unbounded seed spaces;
    * ``image_mse_synthetic``: mean (G(E(x)) - x)^2, x = G(z_s), on the [-1, 1] scale;
    * ``image_mse_real``: the same for ``real_images`` (float, [-1, 1]), e.g. MNIST test digits.
    """
    was_training = E.training
    E.eval()
    length = E.config.latent_length
    dev = next(E.parameters()).device
    z = prf.sequences(seeds, length, device=dev)
    x = _batched(G, z)
    est = _batched(E, x)
    err = ((est - z) ** 2).mean(0).cpu()
    out: dict[str, Any] = {
        "heldout_seeds": len(seeds),
        "latent_mse_prf": float(err.mean()),
        "image_mse_synthetic": float(torch.mean((_batched(G, est) - x) ** 2)),
    }
    gen = torch.Generator().manual_seed(seed)
    u = torch.rand((uniform_count, length), generator=gen).mul_(2.0).sub_(1.0).to(dev)
    out["latent_mse_uniform"] = float(torch.mean((_batched(E, _batched(G, u)) - u) ** 2))
    if prf.size is not None and prf.size * length <= MAX_TABLE_VALUES:
        top = nearest_seeds(est, prf.table(length, device=dev), k=10).cpu()
        truth = torch.from_numpy(np.asarray(seeds, dtype=np.int64))
        out["seed_recovery"] = float((top[:, 0] == truth).float().mean())
        out["seed_recovery_top10"] = float((top == truth[:, None]).any(1).float().mean())
    else:
        out["seed_recovery"] = out["seed_recovery_top10"] = None
    if real_images is not None:
        real_images = real_images.to(dev)
        rec = _batched(lambda b: G(E(b)), real_images)
        out["image_mse_real"] = float(torch.mean((rec - real_images) ** 2))
        out["real_images"] = len(real_images)
    E.train(was_training)
    out = {k: round(v, 6) if isinstance(v, float) else v for k, v in out.items()}
    out["latent_mse_per_symbol"] = [round(float(v), 5) for v in err]
    return out


def real_test_images(dataset: str, data_root: str | None, gan_config: Any) -> torch.Tensor | None:
    """The real test images of the generator's data set in [-1, 1], or None if unavailable."""
    from seedembed.data import load_uint8, open_dataset, to_float
    from seedembed.errors import DataError

    try:
        ds = open_dataset(
            dataset,
            data_root,
            train=False,
            size=gan_config.image_size,
            channels=gan_config.channels,
        )
        return to_float(load_uint8(ds))
    except (DataError, OSError) as exc:
        print(f"no real test images for the evaluation: {exc}", file=sys.stderr)
        return None


# -- files -------------------------------------------------------------------------------------
def save_inverse(out_dir: Path, E: InverseGenerator, info: dict[str, Any]) -> None:
    """``inverse.safetensors`` + ``inverse.json`` (architecture + ``info``), both atomic."""
    out_dir = Path(out_dir)
    meta = {"format": FORMAT, "architecture": json.dumps(E.config.to_dict())}
    ckpt.atomic_save_tensors(E.state_dict(), out_dir / INVERSE, meta)
    doc = {"format": FORMAT, "architecture": E.config.to_dict(), **info}
    ckpt.atomic_write_text(json.dumps(doc, indent=2) + "\n", out_dir / INVERSE_JSON)


def read_inverse(folder: Path) -> tuple[InverseGenerator, dict[str, Any]]:
    """The inverse generator of a folder and its ``inverse.json``, or :class:`ModelError`."""
    folder = Path(folder)
    weights, doc_path = folder / INVERSE, folder / INVERSE_JSON
    if not weights.is_file() or not doc_path.is_file():
        raise ModelError(
            f"{str(folder)!r} has no inverse generator (expected {INVERSE} + {INVERSE_JSON}; "
            "make one with `seedembed train-inverse`)"
        )
    try:
        doc = json.loads(doc_path.read_text())
        tensors = load_file(str(weights))
    except (SafetensorError, OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(
            f"cannot read the inverse generator in {str(folder)!r}: {exc}"
        ) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise CheckpointError(f"{str(doc_path)!r} is not a {FORMAT} file")
    E = InverseGenerator(InverseConfig.from_dict(doc.get("architecture")))
    ckpt.load_module(E, tensors, f"the inverse generator in {str(folder)!r}")
    return E.eval(), doc


def _read_run_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    return ckpt.read_tensors_and_state(path, CHECKPOINT_FORMAT, "inverse checkpoint")


def _check_resume(config: InverseTrainConfig, stored: dict, fingerprint: str) -> None:
    if stored.get("generator_fingerprint") != fingerprint:
        raise CheckpointError(
            "the checkpoint was trained against another generator (fingerprint "
            f"{str(stored.get('generator_fingerprint'))[:12]}..., this one {fingerprint[:12]}...)"
        )
    old, new = InverseTrainConfig.from_dict(stored["config"]).to_dict(), config.to_dict()
    diffs = [k for k in new if k not in RESUMABLE_CHANGES and new[k] != old[k]]
    if diffs:
        detail = "; ".join(f"{k}: run has {old[k]!r}, asked {new[k]!r}" for k in diffs)
        raise CheckpointError(f"cannot resume with a different setup ({detail})")


# -- the run -----------------------------------------------------------------------------------
@dataclass
class InverseResult:
    """How a call to :func:`train_inverse` ended."""

    out_dir: Path
    step: int
    interrupted: bool
    images_per_s: float
    final_loss: float | None
    inverse: InverseGenerator
    metrics: dict[str, Any] | None


def train_inverse(
    model: str | os.PathLike,
    config: InverseTrainConfig,
    *,
    out_dir: str | os.PathLike | None = None,
    resume: bool = False,
    overwrite: bool = False,
    device: str = "cpu",
    checkpoint_every: int = 500,
    log_every: int = 100,
    progress: bool = True,
    evaluate_at_end: bool = True,
    data_root: str | None = None,
    keep_checkpoint: bool = False,
    max_steps: int | None = None,
    init: str | os.PathLike | None = None,
) -> InverseResult:
    """Train E for ``model`` (a shipped name or a model folder); writes into ``out_dir``.

    ``out_dir`` defaults to the model folder itself. ``max_steps`` stops early (with a
    checkpoint) without changing the schedule, which is how tests and interruptions split a run.
    ``init`` (a folder holding an inverse generator of the same architecture) warm-starts E:
    after fine-tuning a generator, its old inverse is a far better start than random weights.
    """
    from seedembed.zoo import load_generator

    dev = torch.device(device)
    lg = load_generator(model, device=dev)
    G, prf = lg.generator, lg.prf
    out = Path(out_dir) if out_dir is not None else lg.path
    schedule = lg.config.get("train", {}).get("schedule")
    config = config.resolved(schedule)
    E_cfg = InverseConfig.for_generator(G.config, config.width)
    ckpt_path = out / INVERSE_CHECKPOINT
    stored_tensors: dict[str, torch.Tensor] = {}
    stored: dict[str, Any] = {}
    if resume:
        if not ckpt_path.is_file():
            raise CheckpointError(f"no inverse checkpoint to resume in {str(out)!r}")
        stored_tensors, stored = _read_run_checkpoint(ckpt_path)
        _check_resume(config, stored, lg.fingerprint)
    elif ckpt_path.is_file():
        raise CheckpointError(
            f"{str(out)!r} holds an unfinished inverse run: pass --resume to continue it"
        )
    elif (out / INVERSE).is_file() and not overwrite:
        raise CheckpointError(
            f"{str(out)!r} already has an inverse generator: pass --overwrite to replace it, "
            "or --out DIR"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CheckpointError(f"cannot create {str(out)!r}: {exc}") from None
    torch.set_flush_denormal(True)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        E = InverseGenerator(E_cfg)
    if init is not None and not stored:
        from seedembed.zoo import model_path

        start, _ = read_inverse(model_path(init))
        if start.config != E_cfg:
            raise ModelError(
                f"--init {str(init)!r}: its inverse generator has another architecture "
                f"({start.config.to_dict()}) than this one ({E_cfg.to_dict()})"
            )
        E.load_state_dict(start.state_dict())
    E.to(dev).train()
    opt = torch.optim.Adam(E.parameters(), lr=config.lr, betas=config.betas)
    gen = torch.Generator().manual_seed(config.seed)
    held = holdout_seeds(prf, config.holdout, config.seed)
    sampler = PairSampler(prf, E_cfg.latent_length, held, float(config.uniform_fraction))
    step, wall_before, curve = 0, 0.0, []
    run_info = {
        "command": command_line(),
        "commit": git_commit(),
        "machine": machine(dev, 1),
        "started_utc": utc_now(),
    }
    if init is not None:
        run_info["init_from"] = str(init)
    if stored:
        ckpt.load_module(E, ckpt.module_state(stored_tensors, "E"), "checkpoint E")
        opt.load_state_dict(ckpt.unflatten_optimizer("opt", stored_tensors, stored["optimizer"]))
        gen.set_state(stored_tensors["rng/latent"])
        step, wall_before = int(stored["step"]), float(stored["wall_time_s"])
        curve = list(stored.get("loss_curve", []))
        # the first run's command and start time stay; each resume adds its own command
        resumed = {"command": run_info["command"], "step": step, "utc": run_info["started_utc"]}
        run_info = {**stored["info"], "resumes": [*stored["info"].get("resumes", []), resumed]}
    pool = None
    if config.reuse > 1:
        if stored:
            pool = PairPool(
                stored_tensors["pool/x"].to(dev),
                stored_tensors["pool/z"].to(dev),
                int(stored["pool_ptr"]),
            )
        else:  # the first pool: pool_size fresh pairs
            z0 = sampler(config.pool_size, gen).to(dev)
            pool = PairPool(render(G, z0), z0)

    def next_batch() -> tuple[torch.Tensor, torch.Tensor]:
        if pool is None:
            z = sampler(config.batch_size, gen).to(dev)
            return render(G, z), z
        z = sampler(max(1, config.batch_size // config.reuse), gen).to(dev)
        pool.put(render(G, z), z)
        return pool.draw(config.batch_size, gen)

    stop_at = config.steps if max_steps is None else min(config.steps, max_steps)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=config.steps, initial=step, unit="step", dynamic_ncols=True)
    print(E.describe(), file=sys.stderr if bar is None else sys.stdout, flush=True)
    t_start, t_mark, step_mark = time.perf_counter(), time.perf_counter(), step
    images_per_s, loss_sum, loss_n, last_loss = 0.0, 0.0, 0, None

    def save() -> None:
        tensors = {f"E/{k}": v for k, v in E.state_dict().items()}
        flat, opt_meta = ckpt.flatten_optimizer("opt", opt.state_dict())
        tensors.update(flat)
        tensors["rng/latent"] = gen.get_state()
        if pool is not None:
            tensors["pool/x"], tensors["pool/z"] = pool.x, pool.z
        state = {
            "pool_ptr": pool.ptr if pool is not None else None,
            "format": CHECKPOINT_FORMAT,
            "config": config.to_dict(),
            "step": step,
            "wall_time_s": wall_before + time.perf_counter() - t_start,
            "generator_fingerprint": lg.fingerprint,
            "optimizer": opt_meta,
            "loss_curve": curve,
            "info": run_info,
        }
        ckpt.atomic_save_tensors(tensors, ckpt_path, {"seedembed": json.dumps(state)})

    flag = {"stop": False}
    interrupted = False
    with stop_on_signal(flag):
        while step < stop_at:
            for group in opt.param_groups:
                group["lr"] = learning_rate(config, step)
            x, z = next_batch()
            last_loss = inverse_step(E, G, opt, x, z, config.image_weight)
            loss_sum, loss_n = loss_sum + last_loss, loss_n + 1
            step += 1
            if step % log_every == 0 or step == stop_at:
                now = time.perf_counter()
                images_per_s = (step - step_mark) * config.batch_size / max(now - t_mark, 1e-9)
                t_mark, step_mark = now, step
                curve.append([step, round(loss_sum / loss_n, 6)])
                if bar is not None:
                    bar.set_postfix(loss=f"{loss_sum / loss_n:.4f}", img_s=f"{images_per_s:.0f}")
                loss_sum, loss_n = 0.0, 0
            if bar is not None:
                bar.update(1)
            if flag["stop"]:
                interrupted = step < stop_at
                break
            if checkpoint_every and step % checkpoint_every == 0:
                save()
    if bar is not None:
        bar.close()
    save()
    wall = wall_before + time.perf_counter() - t_start
    metrics = None
    done = step >= config.steps
    if done and evaluate_at_end:
        real = real_test_images(lg.config["train"].get("dataset", ""), data_root, G.config)
        metrics = evaluate(E, G, prf, held, real_images=real, seed=config.seed)
    E.eval()
    if done:
        info = {
            "generator_fingerprint": lg.fingerprint,
            "prf": prf.spec,
            "generator_schedule": schedule,
            "parameters": E.parameter_count(),
            "train": config.to_dict(),
            "progress": {
                "step": step,
                "images_seen": step * config.batch_size,
                "wall_time_s": round(wall, 1),
                "images_per_s": round(images_per_s, 1),
            },
            "metrics": metrics,
            "loss_curve": curve,
            **run_info,
            "finished_utc": utc_now(),
        }
        save_inverse(out, E.cpu(), info)
        if not keep_checkpoint:
            ckpt_path.unlink(missing_ok=True)
    return InverseResult(out, step, interrupted, images_per_s, last_loss, E, metrics)
