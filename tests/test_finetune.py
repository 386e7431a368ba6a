"""Codebook fine-tuning (k-means through the generator) and the warm-started inverse."""

from __future__ import annotations

import json

import pytest
import torch

from seedembed.cli import main
from seedembed.errors import CheckpointError, ModelError
from seedembed.train.codebook import (
    HISTORY,
    STATE,
    FinetuneConfig,
    balanced_seeds,
    finetune_codebook,
)
from seedembed.zoo import load_generator

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _mnist_or_skip():
    from seedembed.data.mnist import Mnist

    try:
        Mnist(None, train=False)
    except Exception as exc:  # noqa: BLE001 - any reason the data is absent
        pytest.skip(f"MNIST not available: {exc}")


CFG = FinetuneConfig(rounds=2, limit=256, eval_images=64, d_warmup_steps=5, lr=5e-4)


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    """Two rounds on 256 digits of mnist-5101 (its 5,101-image codebook builds in a second)."""
    _mnist_or_skip()
    out = tmp_path_factory.mktemp("ft")
    finetune_codebook("mnist-5101", out, CFG, progress=False, log=lambda _: None)
    return out


def test_fine_tuning_lowers_the_training_error_and_writes_a_model(tuned):
    record = json.loads((tuned / HISTORY).read_text())
    hist = record["history"]
    assert [h["round"] for h in hist] == [0, 1, 2]
    assert hist[-1]["train_mse"] < hist[0]["train_mse"]  # the k-means step works
    assert all(0 < h["distinct_seeds"] <= 256 for h in hist)
    assert hist[0]["test_mse"] is not None and 0 < hist[0]["test_ssim"] < 1
    src, new = load_generator("mnist-5101"), load_generator(tuned)
    assert new.fingerprint != src.fingerprint
    assert new.config["finetune"]["source"]["fingerprint"] == src.fingerprint
    assert new.config["finetune"]["commit"] and new.config["finetune"]["command"]
    assert not (tuned / STATE).exists()  # a finished run keeps no checkpoint
    assert not (tuned / "codebook-cache").exists()  # nor its 1.8 GB codebooks


def test_a_finished_folder_is_not_overwritten(tuned):
    with pytest.raises(CheckpointError, match="already holds a run"):
        finetune_codebook("mnist-5101", tuned, FinetuneConfig(rounds=1), progress=False)


def test_an_interrupted_run_resumes_to_the_same_model(tuned, tmp_path):
    out = tmp_path / "run"
    finetune_codebook("mnist-5101", out, CFG, progress=False, log=lambda _: None, max_rounds=1)
    assert (out / STATE).is_file() and not (out / "generator.safetensors").exists()
    finetune_codebook("mnist-5101", out, CFG, resume=True, progress=False, log=lambda _: None)
    a, b = load_generator(tuned), load_generator(out)
    assert a.fingerprint == b.fingerprint  # bit for bit what the uninterrupted run made
    assert len(json.loads((out / HISTORY).read_text())["resumes"]) == 1


def test_resume_refuses_other_settings(tmp_path):
    _mnist_or_skip()
    out = tmp_path / "run"
    finetune_codebook("mnist-5101", out, CFG, progress=False, log=lambda _: None, max_rounds=0)
    other = FinetuneConfig(**{**CFG.__dict__, "lr": 1e-3})
    with pytest.raises(CheckpointError, match="other settings"):
        finetune_codebook("mnist-5101", out, other, resume=True, progress=False)
    with pytest.raises(CheckpointError, match="fine-tunes model 'mnist-5101'"):
        finetune_codebook("mnist-524287-gan", out, CFG, resume=True, progress=False)


def test_bad_settings_are_refused():
    with pytest.raises(ModelError, match="rounds"):
        FinetuneConfig(rounds=0)
    with pytest.raises(ModelError, match="adv_weight"):
        FinetuneConfig(adv_weight=-1)
    with pytest.raises(ModelError, match="needs perceptual_net"):
        FinetuneConfig(perceptual_weight=0.1)
    with pytest.raises(ModelError, match="class_weight needs perceptual_net"):
        FinetuneConfig(class_weight=0.1)
    with pytest.raises(ModelError, match="class_weight"):
        FinetuneConfig(class_weight=-0.1, perceptual_net="x")
    with pytest.raises(ModelError, match="confidence_weight needs perceptual_net"):
        FinetuneConfig(confidence_weight=0.1)
    with pytest.raises(ModelError, match="augment"):
        FinetuneConfig(augment=-1)
    with pytest.raises(ModelError, match="search must be one of image, hybrid"):
        FinetuneConfig(search="latent")
    with pytest.raises(ModelError, match="balanced assignment needs the exact image search"):
        FinetuneConfig(balanced=True, search="hybrid")
    with pytest.raises(ModelError, match="balanced must be true or false"):
        FinetuneConfig(balanced=1)
    for bad in (-0.1, float("nan"), float("inf")):
        with pytest.raises(ModelError, match="ssim_weight must be"):
            FinetuneConfig(ssim_weight=bad)
        with pytest.raises(ModelError, match="precision_weight must be"):
            FinetuneConfig(precision_weight=bad)
        with pytest.raises(ModelError, match="margin_weight must be"):
            FinetuneConfig(margin_weight=bad, perceptual_net="x")
    with pytest.raises(ModelError, match="margin_weight needs perceptual_net"):
        FinetuneConfig(margin_weight=0.5)
    with pytest.raises(ModelError, match="margin_probe must be one of copies, training"):
        FinetuneConfig(margin_probe="test")
    with pytest.raises(ModelError, match="it needs margin_weight"):
        FinetuneConfig(margin_probe="training")
    with pytest.raises(ModelError, match="margin term searches the exact codebook"):
        FinetuneConfig(margin_weight=1.0, perceptual_net="x", search="hybrid")
    with pytest.raises(ModelError, match="topk must be an integer >= 1"):
        FinetuneConfig(topk=0, search="hybrid")
    with pytest.raises(ModelError, match="topk must be <= 4096"):
        FinetuneConfig(topk=10**6, search="hybrid")
    with pytest.raises(ModelError, match="needs search='hybrid'"):
        FinetuneConfig(topk=16)  # the exact search has no shortlist
    newer = ("balanced", "ssim_weight", "topk", "precision_weight", "margin_weight", "margin_probe")
    old = {k: v for k, v in CFG.__dict__.items() if k not in newer}  # a run from before them
    assert FinetuneConfig.from_dict(old) == CFG


def test_the_perceptual_term_uses_the_given_network_and_is_recorded(tmp_path):
    """A feature distance in a digit CNN joins the loss; the run records which network."""
    _mnist_or_skip()
    from seedembed.zoo import CLASSIFIER, ZOO_DIR

    net = ZOO_DIR / CLASSIFIER  # any digit classifier folder; runs name their own
    cfg = FinetuneConfig(rounds=1, limit=128, eval_images=0, d_warmup_steps=2, lr=5e-4,
                         perceptual_weight=0.5, perceptual_net=str(net))  # fmt: skip
    out = finetune_codebook("mnist-5101", tmp_path / "p", cfg, progress=False, log=lambda _: None)
    record = json.loads((out / HISTORY).read_text())
    assert record["config"]["perceptual_net"] == str(net)
    assert record["history"][-1]["train_mse"] < record["history"][0]["train_mse"]


def test_the_class_term_makes_the_assigned_images_read_as_their_labels(tmp_path):
    """With the label-consistency term, the seeds assigned to the training digits render images
    the CNN labels far better (lower cross-entropy) than after the same run without it."""
    _mnist_or_skip()
    from seedembed.codec import load
    from seedembed.data.mnist import Mnist
    from seedembed.train.classifier import load_classifier
    from seedembed.zoo import CLASSIFIER, ZOO_DIR

    net = str(ZOO_DIR / CLASSIFIER)
    base = dict(rounds=1, epochs_per_round=4, batch_size=32, limit=128, eval_images=0,
                d_warmup_steps=2, lr=5e-4, perceptual_net=net)  # fmt: skip
    ds = Mnist(None, train=True)
    x, y = ds.as_uint8(128).float().div_(255), ds.targets[:128]
    seeds = load("mnist-5101").encode(x, "image", cache_dir=tmp_path / "cache").seeds
    judge = load_classifier(net).eval()
    ce = {}
    for w in (0.0, 1.0):
        cfg = FinetuneConfig(**base, class_weight=w)
        out = finetune_codebook("mnist-5101", tmp_path / f"c{w}", cfg, progress=False)
        with torch.no_grad():
            logits = judge(load(out).decode(seeds))
        ce[w] = float(torch.nn.functional.cross_entropy(logits, y))
    assert ce[1.0] < 0.25 * ce[0.0], ce
    record = json.loads((tmp_path / "c1.0" / HISTORY).read_text())
    assert record["config"]["class_weight"] == 1.0


def test_the_confidence_term_leaves_fewer_entries_between_classes(tmp_path):
    """The entropy term makes the CNN surer of what the images of random seeds show."""
    _mnist_or_skip()
    from seedembed.codec import load
    from seedembed.train.classifier import load_classifier
    from seedembed.zoo import CLASSIFIER, ZOO_DIR

    net = str(ZOO_DIR / CLASSIFIER)
    base = dict(rounds=1, epochs_per_round=10, batch_size=32, limit=128, eval_images=0,
                d_warmup_steps=2, lr=5e-4, perceptual_net=net)  # fmt: skip
    judge = load_classifier(net).eval()
    seeds = torch.arange(0, 5101, 10).view(-1, 1)
    entropy = {}
    for w in (0.0, 1.0):
        cfg = FinetuneConfig(**base, confidence_weight=w)
        out = finetune_codebook("mnist-5101", tmp_path / f"e{w}", cfg, progress=False)
        with torch.no_grad():
            logp = torch.log_softmax(judge(load(out).decode(seeds)), 1)
        entropy[w] = float(-(logp.exp() * logp).sum(1).mean())
    assert entropy[1.0] < 0.8 * entropy[0.0], entropy


def test_the_precision_term_pulls_every_entry_towards_the_training_images(tmp_path):
    """Random seeds' images, whether a training image is assigned to them or not, end nearer
    their nearest training image than after the same run without the term."""
    _mnist_or_skip()
    from seedembed.codec import load
    from seedembed.data.mnist import Mnist

    base = dict(rounds=1, epochs_per_round=8, batch_size=32, limit=128, eval_images=0,
                d_warmup_steps=2, lr=5e-4)  # fmt: skip
    train = Mnist(None, train=True).as_uint8(128).float().div_(127.5).sub_(1).flatten(1)
    seeds = torch.arange(1, 5101, 10).view(-1, 1)
    dist = {}
    for w in (0.0, 1.0):
        cfg = FinetuneConfig(**base, precision_weight=w)
        out = finetune_codebook("mnist-5101", tmp_path / f"p{w}", cfg, progress=False)
        assert json.loads((out / HISTORY).read_text())["config"]["precision_weight"] == w
        with torch.no_grad():
            images = load(out).decode(seeds).flatten(1) * 2 - 1
        dist[w] = float(torch.cdist(images, train).pow(2).amin(1).mean() / train.shape[1])
    assert dist[1.0] < 0.8 * dist[0.0], dist  # measured 0.163 against 0.240


def test_the_ssim_term_gives_the_test_reconstructions_more_structure(tmp_path):
    """With 1 - SSIM in the loss, held-out digits find codebook entries of higher SSIM than after
    the same run on MSE alone (1,024 digits share 5,101 entries, so entries stand for several
    digits and MSE alone pulls them to a blurred mean)."""
    _mnist_or_skip()
    base = dict(rounds=1, epochs_per_round=2, batch_size=32, limit=1024, eval_images=256,
                d_warmup_steps=2, lr=5e-4)  # fmt: skip
    score = {}
    for w in (0.0, 1.0):
        cfg = FinetuneConfig(**base, ssim_weight=w)
        out = finetune_codebook("mnist-5101", tmp_path / f"s{w}", cfg, progress=False)
        record = json.loads((out / HISTORY).read_text())
        assert record["config"]["ssim_weight"] == w
        score[w] = record["history"][-1]["test_ssim"]
    assert score[1.0] > score[0.0] + 0.005, score  # measured 0.741 against 0.728


def test_cli_finetune_bad_input_exits_2(tmp_path, capsys):
    code = main(["finetune-codebook", "--model", "nope", "--out", str(tmp_path / "x")])
    assert code == 2
    assert "unknown model" in capsys.readouterr().err


def test_inverse_warm_start_from_the_source_model(tuned, tmp_path, capsys):
    code = main(
        [
            "train-inverse",
            "--model",
            str(tuned),
            "--init",
            "mnist-5101",
            "--steps",
            "3",
            "--batch-size",
            "16",
            "--holdout",
            "20",
            "--out",
            str(tmp_path),
            "--no-progress",
        ]
    )
    assert code == 0, capsys.readouterr().err
    doc = json.loads((tmp_path / "inverse.json").read_text())
    assert doc["init_from"] == "mnist-5101"
    assert doc["generator_fingerprint"] == load_generator(tuned).fingerprint
    code = main(
        ["train-inverse", "--model", str(tuned), "--init", "mnist-5101", "--steps", "2",
         "--width", "8", "--out", str(tmp_path / "w"), "--no-progress"]
    )  # fmt: skip
    assert code == 2
    assert "another architecture" in capsys.readouterr().err


def test_training_in_inference_mode_keeps_batch_norm_statistics(tuned):
    src, new = load_generator("mnist-5101"), load_generator(tuned)
    for name, buf in src.generator.named_buffers():
        if "running" in name:
            assert torch.equal(buf, dict(new.generator.named_buffers())[name])


def test_warp_keeps_shape_range_and_is_reproducible():
    from seedembed.train.codebook import warp

    x = torch.rand(6, 1, 28, 28) * 2 - 1
    a = warp(x, torch.Generator().manual_seed(3))
    b = warp(x, torch.Generator().manual_seed(3))
    assert a.shape == x.shape and torch.equal(a, b)
    assert a.min() >= -1 - 1e-6 and a.max() <= 1 + 1e-6
    assert (a - x).abs().mean() > 0.01  # it moved the pixels
    black = -torch.ones(2, 1, 28, 28)
    assert torch.allclose(warp(black, torch.Generator().manual_seed(0)), black, atol=1e-6)
    faces = torch.rand(200, 3, 16, 16) * 2 - 1
    flat = faces[:, :, :, :1].expand_as(faces).contiguous()  # constant along each row
    # a flip of a row-constant image changes nothing, so only rotation/scale/shift move it;
    # on a left-right ramp about half of the copies come out mirrored
    ramp = torch.linspace(-1, 1, 16).expand(200, 3, 16, 16).contiguous()
    out = warp(ramp, torch.Generator().manual_seed(1))
    mirrored = (out[:, 0, 8, 12] < out[:, 0, 8, 3]).float().mean()
    assert 0.3 < mirrored < 0.7
    assert warp(flat, torch.Generator().manual_seed(1)).shape == flat.shape


def test_augmented_rounds_use_more_seeds_and_keep_the_original_count(tmp_path):
    _mnist_or_skip()
    cfg = FinetuneConfig(**{**CFG.__dict__, "rounds": 1, "augment": 3, "eval_images": 0})
    out = finetune_codebook("mnist-5101", tmp_path / "aug", cfg, progress=False, log=print)
    hist = json.loads((out / HISTORY).read_text())["history"]
    first, final = hist[0], hist[-1]
    assert first["targets"] == 4 * 256
    assert 0 < first["distinct_seeds"] <= 256  # the 256 originals' seeds
    assert first["distinct_seeds"] < first["distinct_seeds_all"] <= 4 * 256
    assert "targets" not in final  # the final assignment scores the originals alone
    assert final["train_mse"] < first["train_mse"] * 1.5


def test_hybrid_assignment_uses_the_inverse_generator(tmp_path):
    _mnist_or_skip()
    cfg = FinetuneConfig(**{**CFG.__dict__, "rounds": 1, "search": "hybrid", "eval_images": 32})
    out = finetune_codebook("mnist-5101", tmp_path / "hyb", cfg, progress=False, log=print)
    hist = json.loads((out / HISTORY).read_text())["history"]
    assert [h["round"] for h in hist] == [0, 1]
    assert hist[-1]["train_mse"] < hist[0]["train_mse"]
    assert not (out / "codebook-cache").exists()  # no codebook was built
    exact = FinetuneConfig(**{**CFG.__dict__, "rounds": 1, "eval_images": 32})
    ref = finetune_codebook("mnist-5101", tmp_path / "img", exact, progress=False, log=print)
    ref_hist = json.loads((ref / HISTORY).read_text())["history"]
    # the exact search is the optimum; the shortlist can only match or trail it
    assert ref_hist[0]["train_mse"] <= hist[0]["train_mse"] + 1e-6
    assert hist[0]["train_mse"] < ref_hist[0]["train_mse"] * 1.3
    short = FinetuneConfig(**{**cfg.__dict__, "topk": 1, "eval_images": 0})
    one = finetune_codebook("mnist-5101", tmp_path / "k1", short, progress=False, log=print)
    one_hist = json.loads((one / HISTORY).read_text())
    assert one_hist["config"]["topk"] == 1
    # a shortlist of one is the inverse's own seed: worse than its best of 64 (an ignored topk
    # would give the same figure)
    assert one_hist["history"][0]["train_mse"] > hist[0]["train_mse"] * 1.01


def test_a_time_budget_stops_between_rounds_and_resume_adds_the_rest(tuned, tmp_path):
    """``max_seconds`` 0: the first round always runs, none after it; the model is written
    after that round, the checkpoint kept, and resuming ends where the full run ends."""
    out = tmp_path / "run"
    finetune_codebook("mnist-5101", out, CFG, progress=False, log=lambda _: None, max_seconds=0)
    record = json.loads((out / HISTORY).read_text())
    assert [h["round"] for h in record["history"]] == [0, 1]
    assert record["history"][-1]["final"] and record["stopped"]["after_rounds"] == 1
    assert record["stopped"]["of_rounds"] == 2 and (out / STATE).exists()
    stopped = load_generator(out)
    assert stopped.config["finetune"]["stopped"]["after_rounds"] == 1
    finetune_codebook("mnist-5101", out, CFG, resume=True, progress=False, log=lambda _: None)
    a, b = load_generator(out).generator, load_generator(tuned).generator
    assert stopped.fingerprint != load_generator(out).fingerprint
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(va, vb), k
    assert not (out / STATE).exists()


def test_balanced_seeds_respect_capacity_and_prefer_the_nearest():
    g = torch.Generator().manual_seed(0)
    book = torch.randn(40, 12, generator=g)
    # 60 targets, most crowded around 3 entries: capacity ceil(60 / 40) = 2 per seed
    x = book[torch.tensor([0, 1, 2] * 18 + [5, 6, 7, 8, 9, 10])] + 0.3 * torch.randn(
        60, 12, generator=g
    )
    seeds, sq = balanced_seeds(x, book, book.pow(2).sum(1), k=40)
    assert torch.bincount(seeds, minlength=40).max() <= 2
    assert torch.allclose(sq, (x - book[seeds]).pow(2).sum(1), atol=1e-4)
    # a short candidate list runs out for the crowded rows: they move on to seeds with room
    few, _ = balanced_seeds(x, book, book.pow(2).sum(1), k=2)
    assert torch.bincount(few, minlength=40).max() <= 2
    assert (few == seeds).float().mean() > 0.5
    d = torch.cdist(x, book).pow(2)
    nearest = d.argmin(1)
    # a crowded seed keeps its two nearest proposers among the rows whose first choice it is
    for e in (0, 1, 2):
        rows = (nearest == e).nonzero().squeeze(1)
        best = rows[d[rows, e].argsort()[:2]]
        assert (seeds[best] == e).all()
    # rows alone at their nearest entry keep it
    alone = [i for i in range(60) if (nearest == nearest[i]).sum() == 1]
    assert alone and (seeds[alone] == nearest[alone]).all()
    # rows whose nearest entries differ get exactly those
    y = book[:20] + 0.05 * torch.randn(20, 12, generator=g)
    seeds2, _ = balanced_seeds(y, book, book.pow(2).sum(1), k=4)
    assert torch.equal(seeds2, torch.arange(20))


def test_balanced_rounds_spread_the_targets_over_more_seeds(tmp_path):
    _mnist_or_skip()
    base = {**CFG.__dict__, "rounds": 1, "eval_images": 0}
    cfg = FinetuneConfig(**{**base, "balanced": True})
    out = finetune_codebook("mnist-5101", tmp_path / "bal", cfg, progress=False, log=print)
    record = json.loads((out / HISTORY).read_text())
    assert record["config"]["balanced"] is True
    hist = record["history"]
    assert hist[0]["distinct_seeds"] == 256  # 256 digits, 5,101 seeds: one seed each
    plain = finetune_codebook(
        "mnist-5101", tmp_path / "plain", FinetuneConfig(**base), progress=False, log=print
    )
    plain_hist = json.loads((plain / HISTORY).read_text())["history"]
    assert plain_hist[0]["distinct_seeds"] < 256  # the nearest entries collide
    # the balanced round pays for its spread with a larger but bounded training error
    assert plain_hist[0]["train_mse"] < hist[0]["train_mse"] < plain_hist[0]["train_mse"] * 1.5


def test_misread_pairs_finds_the_nearest_entry_of_the_right_class():
    """Rows whose nearest entry reads as another class get that entry and their first
    candidate of their own class; rows read right, or with no right candidate, are left out."""
    from seedembed.search import codebook as cb
    from seedembed.train.classifier import load_classifier
    from seedembed.train.codebook import misread_pairs
    from seedembed.zoo import CLASSIFIER, ZOO_DIR

    lg = load_generator("mnist-5101")
    net = load_classifier(ZOO_DIR / CLASSIFIER).eval()
    cand = torch.arange(0, 5101, 7)[: 6 * 8].view(6, 8)
    with torch.no_grad():
        read = net(
            (cb.render(lg.generator, lg.prf, cand.flatten(), "cpu") + 1).view(-1, 1, 28, 28) / 2
        )
    read = read.argmax(1).view(cand.shape)
    labels = read[:, 0].clone()  # every row read right ...
    j = int((read[1] != read[1, 0]).float().argmax())  # ... but row 1 takes candidate j's class
    assert read[1, j] != read[1, 0]
    labels[1] = read[1, j]
    absent = [c for c in range(10) if c not in read[4].tolist()][0]
    labels[4] = absent  # row 4: no candidate of its class
    cpu = torch.device("cpu")
    none = misread_pairs(lg.generator, lg.prf, net, cand, read[:, 0], cpu)
    assert none[0] == 0 and [len(t) for t in none[1:]] == [0, 0, 0]  # every row read right
    n, rows, plus, minus = misread_pairs(lg.generator, lg.prf, net, cand, labels, cpu)
    assert n == 2 and rows.tolist() == [1]
    assert plus.tolist() == [int(cand[1, j])] and minus.tolist() == [int(cand[1, 0])]


def test_without_own_drops_each_rows_own_seed_and_keeps_the_order():
    from seedembed.train.codebook import without_own

    cand = torch.tensor([[7, 3, 9, 1], [4, 5, 6, 8], [2, 0, 3, 1]])
    own = torch.tensor([7, 6, 5])  # first, third, absent
    assert without_own(cand, own).tolist() == [[3, 9, 1], [4, 5, 8], [2, 0, 3]]


def test_the_margin_term_sets_misread_stand_ins_right(tmp_path):
    """LVQ on the codebook: a round with the margin term records how many stand-ins for unseen
    digits (warped copies, or the training digits without their own entry) had a nearest entry
    the CNN reads as another digit, trains the pairs it found, and ends with most of them set
    right (the entry of their own digit the nearer)."""
    _mnist_or_skip()
    from seedembed.zoo import CLASSIFIER, ZOO_DIR

    base = dict(rounds=1, epochs_per_round=4, batch_size=64, limit=1024, eval_images=0,
                d_warmup_steps=2, lr=5e-4, perceptual_net=str(ZOO_DIR / CLASSIFIER))  # fmt: skip
    runs = {
        "none": {},
        "copies": {"margin_weight": 1.0},
        "training": {"margin_weight": 1.0, "margin_probe": "training"},
    }
    hist = {}
    for name, extra in runs.items():
        cfg = FinetuneConfig(**base, **extra)
        finetune_codebook("mnist-5101", tmp_path / name, cfg, progress=False)
        hist[name] = json.loads((tmp_path / name / HISTORY).read_text())["history"]
    assert "margin_pairs" not in hist["none"][0]
    for name in ("copies", "training"):
        first = hist[name][0]
        assert 0.05 < first["probes_misread"] < 0.5, first  # mnist-5101: a quarter, a tenth
        assert 0 < first["margin_pairs"] <= first["probes_misread"] * 1024
        assert first["margin_fixed"] > 0.5, first
    # a training digit searched without its own entry is another stand-in than its copy
    assert hist["training"][0]["probes_misread"] != hist["copies"][0]["probes_misread"]
