"""Photo in: framing, the parser, the parse / label / parser-training commands."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

import models.data.framing as framing
from app.cli import main
from models.data.files import InputError
from models.data.framing import Framing, frame_face
from models.data.labels import LabelScheme
from models.evaluation.metrics import ConfusionMatrix
from models.inference.engine import Engine
from models.inference.parser import Parser, ParserInfo, save_parser
from models.nets.parser import FaceParser, ParserConfig
from models.nets.sean import SEAN
from models.training.losses import parser_loss
from tests.helpers import SIZE, make_dataset, toy_mask, toy_photo


def test_framing_crop_geometry():
    photo = np.zeros((100, 200, 3), np.uint8)
    photo[20:60, 120:160] = 255  # a white square
    crop = Framing(110, 10, 60, True).crop(photo, 60)  # 60 px square from (110, 10)
    assert crop.shape == (60, 60, 3)
    assert (crop[12:48, 12:48] == 255).all() and (crop[:8, :8] == 0).all()
    edge = Framing(-20, -20, 60, True).crop(photo, 30)  # past the edges: mirrored, never black holes
    assert edge.shape == (30, 30, 3)


def test_no_face_falls_back_to_the_centre_square():
    f = frame_face(np.full((90, 160, 3), 128, np.uint8))
    assert not f.found_face and (f.x, f.y, f.side) == (35, 0, 90)


def test_framing_follows_the_detected_face(monkeypatch):
    monkeypatch.setattr(framing, "detect_faces", lambda photo: [(100, 50, 64, 64)])
    f = frame_face(np.zeros((300, 300, 3), np.uint8))
    assert f.found_face
    assert f.side == pytest.approx(64 / framing.FACE_WIDTH)
    assert f.x + f.side / 2 == pytest.approx(132)  # face centred horizontally
    assert f.y + f.side / 2 == pytest.approx(82 - framing.FACE_DROP * f.side)


@pytest.mark.parametrize("shape", [(SIZE, SIZE, 3), (70, 100, 3)])
def test_parser_output_shape_and_range(toy_parser, shape):
    parser = Parser.load(toy_parser, torch.device("cpu"))
    mask = parser.parse(np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8))
    assert mask.shape == shape[:2] and mask.dtype == np.uint8 and mask.max() < 4


def test_parser_learns_a_toy_labelling():
    torch.manual_seed(0)
    net = FaceParser(ParserConfig(num_classes=4, widths=(8, 8, 16, 16, 16), input_size=SIZE))
    mask = torch.from_numpy(toy_mask()).long()[None].repeat(4, 1, 1)
    image = torch.from_numpy(toy_photo(toy_mask())).permute(2, 0, 1).float()[None].repeat(4, 1, 1, 1) / 127.5 - 1
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(60):
        loss = parser_loss(net(image), mask)
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    cm = ConfusionMatrix(4)
    cm.add(mask[0].numpy(), net(image[:1]).argmax(1)[0].numpy())
    assert cm.pixel_accuracy() > 0.9


FACE = LabelScheme.named("face")
SMALL = (4, 8, 8, 8, 8)


def face_parser(cfg: ParserConfig, seed: int = 0) -> Parser:
    torch.manual_seed(seed)
    return Parser(FaceParser(cfg), ParserInfo("p", "face", FACE, cfg), torch.device("cpu"))


def test_flip_averaged_parse_mirrors_with_the_photo():
    parser = face_parser(ParserConfig(widths=SMALL, input_size=SIZE, flip_average=True))
    torch.nn.init.normal_(parser.net.head.weight, std=3.0)  # untrained scores, but varied across the image
    parser.net.head.bias.data[4:10] = 2.0  # ... and favouring the left/right classes
    photo = np.random.default_rng(0).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    mask = parser.parse(photo)
    assert np.isin(mask, [4, 5, 6, 7, 8, 9]).mean() > 0.05  # left/right classes show, so the swap is tested
    mirrored = parser.parse(np.ascontiguousarray(photo[:, ::-1]))
    assert (mirrored == FACE.flip_lut()[mask[:, ::-1]]).mean() > 0.999


def test_training_from_a_parser_without_residual_blocks_starts_where_it_left_off(tmp_path):
    from models.training.export import export_parser
    from models.training.parser_trainer import ParserTrainOptions, train_parser

    old_cfg = ParserConfig(
        widths=SMALL, input_size=SIZE, encoder_blocks=(0,) * 5, decoder_blocks=(0,) * 4, flip_average=False
    )
    old = face_parser(old_cfg, seed=1)
    old.net.down[2][0][1].running_mean.normal_()  # trained-looking norms, not the identity at init
    old.info.training = {"iterations": 7, "sessions": [{"start_step": 0, "end_step": 7}]}
    save_parser(tmp_path / "old", old.net, old.info)
    root = make_dataset(tmp_path / "d", 4, size=40)
    train_parser(
        ParserTrainOptions(
            data=[str(root)],
            size=32,
            iterations=7,
            init_from=str(tmp_path / "old.json"),
            runs_dir=str(tmp_path / "runs"),
            device="cpu",
        )
    )
    info = export_parser(tmp_path / "runs" / "face_parser", tmp_path / "grown", "face")
    assert info.training["iterations"] == 7  # the count goes on from the weights it started from
    assert [(s["start_step"], s["end_step"]) for s in info.training["sessions"]] == [(0, 7), (7, 7)]
    assert info.training["sessions"][1]["init_from"] == "old.json"
    grown = Parser.load(tmp_path / "grown.json", torch.device("cpu"))
    assert grown.info.config.encoder_blocks == ParserConfig.encoder_blocks and grown.info.config.flip_average
    assert grown.info.config.input_size == 32  # it works at the size it trained at
    assert sum(p.numel() for p in grown.net.parameters()) > sum(p.numel() for p in old.net.parameters())
    x = torch.rand(2, 3, SIZE, SIZE) * 2 - 1
    with torch.inference_mode():
        torch.testing.assert_close(grown.net(x), Parser.load(tmp_path / "old.json", torch.device("cpu")).net(x))


def test_parser_weights_that_do_not_fit_their_json_are_refused(tmp_path):
    parser = face_parser(ParserConfig(widths=SMALL, input_size=SIZE, encoder_blocks=(0,) * 5))
    save_parser(tmp_path / "p", parser.net, parser.info)
    described = json.loads((tmp_path / "p.json").read_text())
    described["config"]["encoder_blocks"] = [0, 0, 0, 1, 1]  # says there are blocks the file lacks
    (tmp_path / "p.json").write_text(json.dumps(described))
    with pytest.raises(InputError, match="do not match"):
        Parser.load(tmp_path / "p.json", torch.device("cpu"))


def test_confusion_matrix():
    cm = ConfusionMatrix(3)
    cm.add(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]))
    assert cm.pixel_accuracy() == 0.75
    assert np.allclose(cm.iou()[:2], [0.5, 2 / 3]) and np.isnan(cm.iou()[2])
    assert cm.mean_iou() == pytest.approx((0.5 + 2 / 3) / 2)


def odd_photos(tmp_path):
    base = toy_photo(np.kron(toy_mask(), np.ones((2, 2), np.uint8)))
    files = {}
    files["grey"] = tmp_path / "grey.jpg"
    Image.fromarray(base[..., 0]).save(files["grey"])
    files["rgba"] = tmp_path / "rgba.png"
    Image.fromarray(np.dstack([base, np.full(base.shape[:2], 200, np.uint8)])).save(files["rgba"])
    files["16bit"] = tmp_path / "deep.png"
    Image.fromarray(base[..., 1].astype(np.uint16) * 257).save(files["16bit"])
    files["truncated"] = tmp_path / "cut.jpg"
    Image.fromarray(base).save(files["truncated"])
    files["truncated"].write_bytes(files["truncated"].read_bytes()[:100])
    files["tiny"] = tmp_path / "tiny.png"
    Image.fromarray(base[:8, :8]).save(files["tiny"])
    return files


@pytest.mark.parametrize("kind", ["grey", "rgba", "16bit"])
def test_parse_command_takes_odd_photos(tmp_path, capsys, toy_parser, kind):
    photo = odd_photos(tmp_path)[kind]
    code = main(
        [
            "parse",
            str(photo),
            "--out",
            str(tmp_path / "m.png"),
            "--color",
            str(tmp_path / "c.png"),
            "--model",
            str(toy_parser),
            "--size",
            "32",
        ]
    )
    err = capsys.readouterr().err
    assert code == 0 and "no face found" in err  # generated pictures hold no face
    assert np.asarray(Image.open(tmp_path / "m.png")).shape == (32, 32)
    assert Image.open(tmp_path / "c.png").mode == "RGB"


def test_parse_no_frame_keeps_the_input_size(tmp_path, toy_parser):
    photo = tmp_path / "p.png"
    Image.fromarray(toy_photo(toy_mask(64))[:, :48]).save(photo)
    assert main(["parse", str(photo), "--no-frame", "--out", str(tmp_path / "m.png"), "--model", str(toy_parser)]) == 0
    assert np.asarray(Image.open(tmp_path / "m.png")).shape == (64, 48)


@pytest.mark.parametrize("kind, reason", [("truncated", "not a readable image"), ("tiny", "too small")])
def test_parse_command_refuses_bad_photos(tmp_path, capsys, toy_parser, kind, reason):
    code = main(
        ["parse", str(odd_photos(tmp_path)[kind]), "--out", str(tmp_path / "m.png"), "--model", str(toy_parser)]
    )
    assert code == 2 and reason in capsys.readouterr().err


def test_parse_without_a_parser(tmp_path, capsys, toy_files):
    code = main(["parse", str(toy_files["photo"]), "--out", str(tmp_path / "m.png"), "--model", "nomodel"])
    assert code == 2 and "no parser" in capsys.readouterr().err


def test_label_command_reports_skipped_files(tmp_path, capsys, toy_parser, monkeypatch):
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(toy_photo(toy_mask())).save(photos / "face.png")
    Image.fromarray(toy_photo(toy_mask(), seed=3)).save(photos / "blank.png")
    (photos / "broken.jpg").write_bytes(b"\xff\xd8 nope")
    monkeypatch.setattr(
        framing,
        "detect_faces",
        lambda photo: [(8, 8, 16, 16)] if photo[0, 0].sum() == toy_photo(toy_mask())[0, 0].sum() else [],
    )
    code = main(["label", str(photos), "--out", str(tmp_path / "set"), "--size", "32", "--model", str(toy_parser)])
    out = capsys.readouterr().out
    assert code == 0 and "labelled 1 of 3" in out
    assert "broken.jpg" in out and "blank.png: no face found" in out
    assert (tmp_path / "set" / "images" / "face.jpg").exists() and (tmp_path / "set" / "labels" / "face.png").exists()


def test_synth_parses_the_style_photo_when_no_mask_is_given(tmp_path, capsys, weights_json, toy_parser, toy_files):
    code = main(
        [
            "synth",
            "--model",
            str(weights_json),
            "--mask",
            str(toy_files["target"]),
            "--style",
            str(toy_files["photo"]),
            "--out",
            str(tmp_path / "o.png"),
        ]
    )
    assert code == 0 and "no face found" in capsys.readouterr().err
    assert Engine.load(str(weights_json), "cpu").has_parser


def test_weights_kept_elsewhere_parse_with_the_bundled_parser_of_their_labels(tmp_path, weights_json, toy_parser):
    from models.inference.weights import WEIGHTS_DIR
    from tests.conftest import save_toy_weights
    from tests.helpers import tiny_config

    run = tmp_path / "run"
    run.mkdir()
    # a model called "face" from a training run, with no parser beside it: the bundled one
    face = save_toy_weights(run, "face", LabelScheme.named("face"), SEAN(tiny_config(19)).eval())
    assert Engine.load(str(face), "cpu").parser_path == WEIGHTS_DIR / "face_parser.json"
    # a parser of other labels is refused, not used to make a wrong mask
    toy_parser.rename(run / "face_parser.json")
    toy_parser.with_suffix(".safetensors").rename(run / "face_parser.safetensors")
    with pytest.raises(InputError, match="other labels"):
        Engine.load(str(face), "cpu").frame_and_parse(toy_photo(toy_mask()))


def test_train_export_and_evaluate_parser(tmp_path, capsys):
    from models.evaluation.parser_eval import evaluate_parser
    from models.training.export import export_parser
    from models.training.parser_trainer import ParserTrainOptions, train_parser

    root = make_dataset(tmp_path / "d", 6, size=40)
    opts = ParserTrainOptions(
        data=[str(root)],
        size=32,
        holdout=[2],
        batch_size=2,
        iterations=3,
        runs_dir=str(tmp_path / "runs"),
        device="cpu",
    )
    train_parser(opts)
    opts.data, opts.holdout, opts.iterations, opts.decay_iterations = [str(root)] * 2, [2, 2], 5, 2
    opts.rare_boost = 3
    train_parser(opts)  # resumes, with its data weighed differently, rare classes drawn more, a decaying rate
    info = export_parser(tmp_path / "runs" / "face_parser", tmp_path / "face_parser", "face")
    assert info.training["iterations"] == 5
    sessions = info.training["sessions"]
    assert [(s["start_step"], s["end_step"], len(s["data"])) for s in sessions] == [(0, 3, 1), (3, 5, 2)]
    assert sessions[1]["decay_until"] == 5 and sessions[1]["rare_boost"] == 3
    parser = Parser.load(tmp_path / "face_parser.json", torch.device("cpu"))
    from models.data.datasets import find_pairs

    result = evaluate_parser(parser, find_pairs(root)[:2], fasseg_labels=root / "labels", progress=False)
    assert 0 <= result["miou"] <= 1 and set(result["fasseg"]) == {"pixel_accuracy", "miou", "iou_per_class"}
    assert (
        main(
            [
                "lab",
                "eval-parser",
                "--model",
                str(tmp_path / "face_parser.json"),
                "--images",
                str(root / "images"),
                "--labels",
                str(root / "labels"),
                "--size",
                "32",
                "--json",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["images"] == 6


def test_photos_with_rare_classes_are_drawn_more_often(tmp_path):
    from models.data.datasets import classes_present, find_pairs, rare_class_weights

    root = make_dataset(tmp_path / "d", 12, size=40)
    hat = np.array(Image.open(root / "labels" / "img003.png"))
    hat[:4] = 14  # one photo of twelve shows a hat
    Image.fromarray(hat).save(root / "labels" / "img003.png")
    present = classes_present(find_pairs(root), LabelScheme.named("face"))
    assert present.shape == (12, 19) and present[:, :4].all() and present[3, 14] and present[:, 14].sum() == 1
    weights, rare = rare_class_weights(present, boost=4, rare_below=0.1)
    assert rare.tolist() == [14] and weights[3] == 4 and (np.delete(weights, 3) == 1).all()
    _, rare = rare_class_weights(present, boost=4, rare_below=0.05)  # 1/12 is not under 5%
    assert rare.tolist() == []
