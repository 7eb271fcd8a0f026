"""The command line round trip and its answers to bad input (exit 2, one line)."""
import subprocess
import sys
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
    code, out, _ = run(capsys, "encode", toy_files["photo"], "--mask", toy_files["mask"],
                       "--out", codes, "--model", weights_json)
    assert code == 0 and codes.exists() and "4 regions" in out

    out_png = tmp_path / "out.png"
    code, _, _ = run(capsys, "synth", "--model", weights_json, "--mask", toy_files["target"],
                     "--style", toy_files["photo"], "--style-mask", toy_files["mask"], "--out", out_png)
    assert code == 0
    from_photo = np.asarray(Image.open(out_png))
    assert from_photo.shape == (SIZE, SIZE, 3)

    from_codes = tmp_path / "codes.png"
    code, _, _ = run(capsys, "synth", "--model", weights_json, "--mask", toy_files["target"],
                     "--codes", codes, "--out", from_codes, "--size", 64)
    assert code == 0 and Image.open(from_codes).size == (64, 64)
    same_size = tmp_path / "codes32.png"
    run(capsys, "synth", "--model", weights_json, "--mask", toy_files["target"], "--codes", codes,
        "--out", same_size)
    assert np.array_equal(np.asarray(Image.open(same_size)), from_photo)

    encoder_only = tmp_path / "encoder.npz"
    run(capsys, "encode", toy_files["photo"], "--mask", toy_files["mask"], "--out", encoder_only,
        "--model", weights_json, "--refine", 0)
    assert not np.array_equal(np.load(encoder_only)["codes"], np.load(codes)["codes"])


def test_style_without_some_regions_is_reported(tmp_path, capsys, weights_json, toy_files):
    no_eyes = np.asarray(Image.open(toy_files["mask"])).copy()
    no_eyes[no_eyes >= 2] = 1
    Image.fromarray(no_eyes).save(tmp_path / "noeyes.png")
    code, _, err = run(capsys, "synth", "--model", weights_json, "--mask", toy_files["target"],
                       "--style", toy_files["photo"], "--style-mask", tmp_path / "noeyes.png",
                       "--out", tmp_path / "o.png")
    assert code == 0 and "no l_eye, r_eye" in err


def bad_inputs(tmp_path: Path, files: dict[str, Path]) -> dict[str, tuple[list, str]]:
    broken = tmp_path / "broken.png"
    broken.write_bytes(files["photo"].read_bytes()[:60])
    high = tmp_path / "high.png"
    Image.fromarray(np.full((SIZE, SIZE), 40, np.uint8)).save(high)
    small_mask = tmp_path / "small.png"
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(small_mask)
    synth = ["synth", "--mask", files["target"], "--out", tmp_path / "o.png"]
    return {
        "unreadable image": (synth + ["--style", broken, "--style-mask", files["mask"]], "not a readable image"),
        "label out of range": (["synth", "--mask", high, "--out", tmp_path / "o.png"], "holds label 40"),
        "size mismatch": (synth + ["--style", files["photo"], "--style-mask", small_mask], "same size"),
        "no style mask": (synth + ["--style", files["photo"]], "--style-mask"),
        "missing file": (synth + ["--codes", tmp_path / "none.npz"], "not a style-codes file"),
        "bad output type": (["synth", "--mask", files["target"], "--out", tmp_path / "o.gifx"], "unsupported"),
        "bad size": (synth + ["--size", "-3"], "between 1 and 4096"),
        "bad refine": (synth + ["--refine", "-1"], "between 0 and 10000"),
    }


@pytest.mark.parametrize("case", ["unreadable image", "label out of range", "size mismatch",
                                  "no style mask", "missing file", "bad output type", "bad size",
                                  "bad refine"])
def test_bad_input_exits_2_with_one_line(case, tmp_path, capsys, weights_json, toy_files):
    args, reason = bad_inputs(tmp_path, toy_files)[case]
    code, _, err = run(capsys, *args, "--model", weights_json)
    assert code == 2
    assert reason in err and len(err.strip().splitlines()) == 1


def test_unknown_model_exits_2(tmp_path, capsys, toy_files):
    code, _, err = run(capsys, "synth", "--model", "no_such_model", "--mask", toy_files["target"],
                       "--out", tmp_path / "o.png")
    assert code == 2 and "unknown model 'no_such_model'" in err


def test_main_py_runs_as_a_program(tmp_path, weights_json, toy_files):
    """The real entry point, in a fresh interpreter: exit codes reach the shell."""
    ok = subprocess.run([sys.executable, "main.py", "synth", "--model", str(weights_json), "--mask",
                         str(toy_files["target"]), "--out", str(tmp_path / "o.png")],
                        cwd=ROOT, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run([sys.executable, "main.py", "synth", "--model", str(weights_json), "--mask",
                          str(tmp_path / "missing.png"), "--out", str(tmp_path / "o.png")],
                         cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.startswith("error:") and "no such file" in bad.stderr
