"""The command line round trip and its answers to bad input (exit 2, one line)."""

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.cli import main
from tests.helpers import SIZE

ROOT = Path(__file__).resolve().parent.parent


def run(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_encode_then_synth(tmp_path, capsys, weights_json, toy_files):
    codes = tmp_path / "codes.npz"
    code, out, _ = run(
        capsys, "encode", toy_files["photo"], "--mask", toy_files["mask"], "--out", codes, "--model", weights_json
    )
    assert code == 0 and codes.exists() and "4 regions" in out

    out_png = tmp_path / "out.png"
    code, _, _ = run(
        capsys,
        "synth",
        "--model",
        weights_json,
        "--mask",
        toy_files["target"],
        "--style",
        toy_files["photo"],
        "--style-mask",
        toy_files["mask"],
        "--out",
        out_png,
    )
    assert code == 0
    from_photo = np.asarray(Image.open(out_png))
    assert from_photo.shape == (SIZE, SIZE, 3)

    from_codes = tmp_path / "codes.png"
    code, _, _ = run(
        capsys,
        "synth",
        "--model",
        weights_json,
        "--mask",
        toy_files["target"],
        "--codes",
        codes,
        "--out",
        from_codes,
        "--size",
        64,
    )
    assert code == 0 and Image.open(from_codes).size == (64, 64)
    same_size = tmp_path / "codes32.png"
    run(capsys, "synth", "--model", weights_json, "--mask", toy_files["target"], "--codes", codes, "--out", same_size)
    assert np.array_equal(np.asarray(Image.open(same_size)), from_photo)

    encoder_only = tmp_path / "encoder.npz"
    run(
        capsys,
        "encode",
        toy_files["photo"],
        "--mask",
        toy_files["mask"],
        "--out",
        encoder_only,
        "--model",
        weights_json,
        "--refine",
        0,
    )
    assert not np.array_equal(np.load(encoder_only)["codes"], np.load(codes)["codes"])


def test_style_without_some_regions_is_reported(tmp_path, capsys, weights_json, toy_files):
    no_eyes = np.asarray(Image.open(toy_files["mask"])).copy()
    no_eyes[no_eyes >= 2] = 1
    Image.fromarray(no_eyes).save(tmp_path / "noeyes.png")
    code, _, err = run(
        capsys,
        "synth",
        "--model",
        weights_json,
        "--mask",
        toy_files["target"],
        "--style",
        toy_files["photo"],
        "--style-mask",
        tmp_path / "noeyes.png",
        "--out",
        tmp_path / "o.png",
    )
    assert code == 0 and "no l_eye, r_eye" in err


def bad_inputs(tmp_path: Path, files: dict[str, Path]) -> dict[str, tuple[list, str]]:
    broken = tmp_path / "broken.png"
    broken.write_bytes(files["photo"].read_bytes()[:60])
    high = tmp_path / "high.png"
    Image.fromarray(np.full((SIZE, SIZE), 40, np.uint8)).save(high)
    other_mask = tmp_path / "other.png"
    Image.fromarray(np.zeros((40, 40), np.uint8)).save(other_mask)
    tiny = tmp_path / "tiny.png"
    Image.fromarray(np.zeros((1, 1, 3), np.uint8)).save(tiny)
    huge = huge_png(tmp_path / "huge.png", 12000, 12000)
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    codes = tmp_path / "codes.npz"
    main(
        [
            "encode",
            str(files["photo"]),
            "--mask",
            str(files["mask"]),
            "--out",
            str(codes),
            "--refine",
            "0",
            "--model",
            str(files["weights"]),
        ]
    )
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(codes.read_bytes()[:300])
    text = tmp_path / "text.npz"
    text.write_text("codes = [1, 2, 3]\n")
    synth = ["synth", "--mask", files["target"], "--out", tmp_path / "o.png"]
    parse = ["parse", files["photo"], "--out", tmp_path / "m.png"]
    encode = ["encode", files["photo"], "--mask", files["mask"]]
    return {
        "unreadable image": (synth + ["--style", broken, "--style-mask", files["mask"]], "not a readable image"),
        "label out of range": (["synth", "--mask", high, "--out", tmp_path / "o.png"], "holds label 40"),
        "size mismatch": (synth + ["--style", files["photo"], "--style-mask", other_mask], "same size"),
        "no style mask": (synth + ["--style", files["photo"]], "--style-mask"),
        "missing codes": (synth + ["--codes", tmp_path / "none.npz"], "no such file"),
        "truncated codes": (synth + ["--codes", truncated], "not a style-codes file: damaged, truncated"),
        "text as codes": (synth + ["--codes", text], "not a style-codes file"),
        "bad output type": (["synth", "--mask", files["target"], "--out", tmp_path / "o.gifx"], "unsupported"),
        "negative size": (synth + ["--size", "-3"], "outside the allowed range 32-4096"),
        "size 0": (synth + ["--size", "0"], "outside the allowed range 32-4096"),
        "size 7": (synth + ["--size", "7"], "outside the allowed range 32-4096"),
        "size too big": (synth + ["--size", "99999"], "outside the allowed range 32-4096"),
        "size not a number": (synth + ["--size", "big"], "not a whole number"),
        "bad refine": (synth + ["--refine", "-1"], "between 0 and 10000"),
        "1x1 style photo": (synth + ["--style", tiny, "--style-mask", tiny], "too small (32 px"),
        "1x1 photo to parse": (["parse", tiny, "--out", tmp_path / "m.png"], "too small (32 px"),
        "12000x12000 photo": (synth + ["--style", huge], "120 megapixels at most"),
        "synth to /proc": (["synth", "--mask", files["target"], "--out", "/proc/x.png"], "cannot write"),
        "synth into a file": (["synth", "--mask", files["target"], "--out", a_file / "x.png"], "is a file"),
        "parse to /proc": (parse[:2] + ["--out", "/proc/x.png"], "cannot write"),
        "parse into a file": (parse[:2] + ["--out", a_file / "x.png"], "is a file"),
        "parse --color to /proc": (parse + ["--color", "/proc/c.png"], "cannot write"),
        "parse --color into a file": (parse + ["--color", a_file / "c.png"], "is a file"),
        "encode to /proc": (encode + ["--out", "/proc/c.npz"], "cannot write"),
        "encode into a file": (encode + ["--out", a_file / "c.npz"], "is a file"),
    }


def huge_png(path: Path, width: int, height: int) -> Path:
    """A PNG whose header says width x height (its pixels are never there: the size
    check comes before decoding, as it must for a real one)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )
    return path


BAD_INPUT_CASES = [
    "unreadable image",
    "label out of range",
    "size mismatch",
    "no style mask",
    "missing codes",
    "truncated codes",
    "text as codes",
    "bad output type",
    "negative size",
    "size 0",
    "size 7",
    "size too big",
    "size not a number",
    "bad refine",
    "1x1 style photo",
    "1x1 photo to parse",
    "12000x12000 photo",
    "synth to /proc",
    "synth into a file",
    "parse to /proc",
    "parse into a file",
    "parse --color to /proc",
    "parse --color into a file",
    "encode to /proc",
    "encode into a file",
]


@pytest.mark.parametrize("case", BAD_INPUT_CASES)
def test_bad_input_exits_2_with_one_line(case, tmp_path, capsys, weights_json, toy_files, request):
    parsing = case.startswith("parse") or "to parse" in case
    model = request.getfixturevalue("toy_parser") if parsing else weights_json
    toy_files["weights"] = weights_json
    cases = bad_inputs(tmp_path, toy_files)
    assert set(cases) == set(BAD_INPUT_CASES)
    capsys.readouterr()
    args, reason = cases[case]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no library's warning reaches the user either
        code, out, err = run(capsys, *args, "--model", model)
    assert code == 2, out
    assert reason in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o.png").exists()


def test_unknown_model_exits_2(tmp_path, capsys, toy_files):
    code, _, err = run(
        capsys, "synth", "--model", "no_such_model", "--mask", toy_files["target"], "--out", tmp_path / "o.png"
    )
    assert code == 2 and "unknown model 'no_such_model'" in err


def test_main_py_runs_as_a_program(tmp_path, weights_json, toy_files):
    """The real entry point, in a fresh interpreter: exit codes reach the shell."""
    ok = subprocess.run(
        [
            sys.executable,
            "main.py",
            "synth",
            "--model",
            str(weights_json),
            "--mask",
            str(toy_files["target"]),
            "--out",
            str(tmp_path / "o.png"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run(
        [
            sys.executable,
            "main.py",
            "synth",
            "--model",
            str(weights_json),
            "--mask",
            str(tmp_path / "missing.png"),
            "--out",
            str(tmp_path / "o.png"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and bad.stderr.startswith("error:") and "no such file" in bad.stderr


def test_every_training_option_has_a_flag():
    """Options are declared once (the dataclasses); the command line reaches all of them."""
    from app.cli import build_parser
    from models.training.options import ParserTrainOptions, TrainOptions

    parser = build_parser()
    args = parser.parse_args(
        [
            "train",
            "--data",
            "a,b",
            "--model-name",
            "m",
            "--lr-d",
            "0.001",
            "--beta2",
            "0.99",
            "--seed",
            "7",
            "--lr",
            "0.0002",
            "--context",
            "64",
            "--holdout",
            "3,4",
        ]
    )
    from app.cli.training import options_from

    opts = options_from(args, TrainOptions)
    assert (opts.lr_d, opts.beta2, opts.seed, opts.lr_g, opts.context_hidden) == (0.001, 0.99, 7, 0.0002, 64)
    assert opts.data == ["a", "b"] and opts.holdout == [3, 4] and opts.batch_size == TrainOptions.batch_size
    args = parser.parse_args(["train-parser", "--data", "d", "--teacher-sizes", "512,0", "--rare-boost", "3"])
    parser_opts = options_from(args, ParserTrainOptions)
    assert parser_opts.teacher_sizes == [512, 0] and parser_opts.rare_boost == 3.0
    assert parser_opts.name == "face_parser" and parser_opts.run_dir == Path("runs/face_parser")


def test_a_preset_is_a_recipe_that_given_flags_override():
    import dataclasses

    from app.cli import build_parser
    from app.cli.training import options_from
    from models.training.options import TrainOptions
    from models.training.presets import PRESETS, preset

    fields = {f.name for f in dataclasses.fields(TrainOptions)}
    for name, recipe in PRESETS.items():
        assert set(recipe) <= fields, f"preset {name} sets what TrainOptions lacks"
        TrainOptions(data=["d"], name="n", **preset(name))  # each builds valid options
    parser = build_parser()
    args = parser.parse_args(
        [
            "train",
            "--data",
            "d",
            "--model-name",
            "m",
            "--preset",
            "face-gpu-round",
            "--batch-size",
            "4",
            "--lambda-vgg",
            "10",
        ]
    )
    opts = options_from(args, TrainOptions, preset(args.preset))
    assert opts.batch_size == 4 and opts.lambda_vgg == 10  # given flags win, even at the preset's value
    assert opts.init_from == "face" and opts.lambda_l1 == 10.0  # the rest from the recipe
    assert opts.lr_g == TrainOptions.lr_g  # what the recipe leaves: the default
    args = parser.parse_args(["lab", "gpu-round", "--data", "d", "--model-name", "m", "--out", "o"])
    assert args.preset == "face-gpu-round"
    with pytest.raises(ValueError, match="there are: face-gpu-round"):
        preset("nope")


def test_building_the_command_line_loads_no_networks():
    """`python main.py --help` answers at once: no torch, no OpenCV until a command runs."""
    code = "import sys, app.cli; app.cli.build_parser(); print(sorted({'torch', 'cv2'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr


def test_encode_frames_and_parses_a_photo_given_without_a_mask_and_names_a_mask_of_another_size(
    tmp_path, capsys, weights_json, toy_parser, toy_files
):
    codes = tmp_path / "codes.npz"
    code, out, err = run(capsys, "encode", toy_files["photo"], "--out", codes, "--model", weights_json, "--refine", 0)
    assert code == 0 and codes.exists(), err
    synth = ["synth", "--model", weights_json, "--mask", toy_files["target"], "--out", tmp_path / "o.png"]
    assert run(capsys, *synth, "--codes", codes)[0] == 0  # what encode writes, synth reads
    small = tmp_path / "small_mask.png"
    Image.fromarray(np.asarray(Image.open(toy_files["mask"]))[::2, ::2]).save(small)
    code, _, err = run(capsys, "encode", toy_files["photo"], "--mask", small, "--out", codes, "--model", weights_json)
    assert code == 2 and "--framed" in err and "leave out --mask" in err
