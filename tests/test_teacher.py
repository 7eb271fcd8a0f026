"""Distilling the BiSeNet teacher: its re-implementation, its scores, and their way into training."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from models.data.datasets import FolderDataset, find_pairs
from models.data.files import InputError
from models.data.labels import LabelScheme
from models.nets.bisenet import BiSeNet
from models.training.losses import distillation_loss
from models.training.teacher import TEACHER_CHANNEL, TEACHER_CLASSES, Teacher, area_scores
from tests.helpers import TOY, make_dataset, toy_photo

FACE = LabelScheme.named("face")


def teacher_weights(path, seed: int = 0):
    """Random weights in the layout of the teacher's checkpoint, auxiliary heads included."""
    torch.manual_seed(seed)
    state = BiSeNet().state_dict()
    state["conv_out16.conv_out.weight"] = torch.zeros(19, 64, 1, 1)  # heads only its training used
    torch.save(state, path)
    return path


def test_teacher_classes_map_onto_ours():
    assert sorted(TEACHER_CHANNEL) == list(range(19))
    assert [TEACHER_CLASSES[c] for c in TEACHER_CHANNEL] == list(FACE.names)


def test_teacher_scores_at_an_eighth_of_its_input(tmp_path):
    teacher = Teacher(teacher_weights(tmp_path / "t.pth"))
    photo = np.random.default_rng(0).integers(0, 255, (50, 70, 3), np.uint8)
    scores = teacher.scores(photo, size=64)
    assert scores.shape == (19, 8, 8) and scores.dtype == np.float16 and np.isfinite(scores).all()
    logits = teacher.net(torch.randn(1, 3, 64, 64))
    assert logits.shape == (1, 19, 8, 8)


@pytest.mark.parametrize("content", ["not a checkpoint", "parser"])
def test_wrong_teacher_weights_are_refused(tmp_path, content):
    path = tmp_path / "t.pth"
    if content == "parser":
        from models.nets.parser import FaceParser, ParserConfig

        torch.save(FaceParser(ParserConfig()).state_dict(), path)
    else:
        path.write_text(content)
    with pytest.raises(InputError):
        Teacher(path)


def test_kept_scores_give_back_the_teachers_label_map():
    torch.manual_seed(0)  # smooth scores, as a network's are
    scores = F.interpolate(torch.randn(1, 19, 4, 4).mul(4), size=(8, 8), mode="bilinear", align_corners=True)[0].numpy()
    labels = (
        F.interpolate(torch.from_numpy(scores)[None], size=(64, 64), mode="bilinear", align_corners=True)[0]
        .argmax(0)
        .numpy()
    )
    kept = area_scores(scores, 64, 64)
    assert kept.shape == (16, 16, 19) and kept.dtype == np.float16
    item = FolderDataset([], FACE, 64).place_scores(kept, (64, 64, 0, 0), None, False)
    assert (item.argmax(-1) == labels).mean() > 0.95
    # Scaling the teacher's 1/8 grid as if it were pixel areas would misplace it by up to half a cell.
    assert (
        F.interpolate(torch.from_numpy(scores)[None], size=(64, 64), mode="bilinear")[0].argmax(0).numpy() == labels
    ).mean() < 0.9


def test_teacher_scores_follow_the_photo_through_crops_turns_and_flips(tmp_path):
    label = np.zeros((48, 48), np.uint8)
    label[8:40, 4:20], label[8:24, 28:44] = 2, 3  # TOY's left and right eye, large, unlike
    (tmp_path / "images").mkdir(), (tmp_path / "labels").mkdir()
    Image.fromarray(toy_photo(label)).save(tmp_path / "images" / "a.png")
    Image.fromarray(label).save(tmp_path / "labels" / "a.png")
    # Scores that are the label map itself, at a quarter of its resolution, as area_scores keeps them.
    one_hot = F.one_hot(torch.from_numpy(label).long(), 4).permute(2, 0, 1)[None].float() * 10
    scores = F.avg_pool2d(one_hot, 4)[0].permute(1, 2, 0).half().numpy()
    data = FolderDataset(find_pairs(tmp_path), TOY, 32, augment=True, rotate=10, scores=[scores])
    flipped = 0
    for seed in range(12):
        torch.manual_seed(seed)
        item = data[0]
        assert item["distil"] and item["scores"].shape == (4, 32, 32)
        # A flip that forgot to swap the left and right scores would disagree on half the photo.
        assert (item["scores"].argmax(0) == item["label"]).float().mean() > 0.9
        flipped += item["label"][24, 8] == 0  # the short eye is on the left now
    assert flipped


def test_items_without_teacher_scores_are_marked(tmp_path):
    root = make_dataset(tmp_path / "d", 2, size=40)
    item = FolderDataset(find_pairs(root), FACE, 32, scores=[None, None])[0]
    assert not item["distil"] and item["scores"].shape == (19, 32, 32)
    assert "scores" not in FolderDataset(find_pairs(root), FACE, 32)[0]


def test_distillation_loss():
    teacher = torch.randn(2, 19, 8, 8)
    both = torch.tensor([True, True])
    assert distillation_loss(teacher, teacher, both) == pytest.approx(0, abs=1e-5)
    student = torch.randn(2, 19, 8, 8)
    loss = distillation_loss(student, teacher, both)
    assert loss > 0
    garbage = teacher.clone()
    garbage[1] = 100 * torch.randn(19, 8, 8)
    first_only = distillation_loss(student, garbage, torch.tensor([True, False]))
    assert first_only == pytest.approx(distillation_loss(student[:1], teacher[:1], both[:1]).item())


def test_parser_training_distils_and_keeps_the_teachers_scores(tmp_path, monkeypatch):
    from models.inference.parser import Parser
    from models.training.export import export_parser
    from models.training.parser_trainer import ParserTrainOptions, train_parser

    root = make_dataset(tmp_path / "d", 6, size=40)
    other = make_dataset(tmp_path / "e", 3, size=40)
    opts = ParserTrainOptions(
        data=[str(root), str(root), str(other)],
        size=32,
        holdout=[2],
        batch_size=2,
        iterations=2,
        runs_dir=str(tmp_path / "runs"),
        device="cpu",
        teacher=str(teacher_weights(tmp_path / "t.pth")),
        teacher_sizes=[64, 64, 0],
    )
    train_parser(opts)
    kept = sorted(p.name for p in (tmp_path / "runs" / "teacher").glob("*/*.npy"))
    assert len(kept) == 4  # root's training photos once; none of other's
    monkeypatch.setattr(Teacher, "scores", lambda *a: pytest.fail("kept scores should be reused"))
    opts.iterations = 3
    train_parser(opts)
    info = export_parser(tmp_path / "runs" / "face_parser", tmp_path / "p", "face")
    assert info.training["sessions"][0]["teacher"] == "t.pth"
    assert info.training["sessions"][0]["teacher_sizes"] == [64, 64, 0]
    Parser.load(tmp_path / "p.json", torch.device("cpu"))
    opts.teacher_sizes = [64, 0]
    with pytest.raises(ValueError, match="--teacher-sizes"):
        train_parser(opts)
