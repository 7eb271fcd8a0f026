"""The README's commands are the ones CI runs."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_command(start: str) -> str:
    lines = [line.strip() for line in (ROOT / "README.md").read_text().splitlines()]
    return next(line for line in lines if line.startswith(start))


def test_ci_runs_the_readme_test_command_in_a_fresh_virtualenv():
    ci = (ROOT / ".ci" / "run").read_text()
    assert readme_command("pip install -q -r requirements.txt") in ci.splitlines()
    assert "python3 -m venv" in ci


def test_every_dependency_has_a_tested_range():
    for name in ("requirements.txt", "requirements-test.txt"):
        for line in (ROOT / name).read_text().splitlines():
            spec = line.split("#")[0].strip()
            if spec:
                assert "==" in spec or ("<" in spec and ">=" in spec), f"{name}: {spec} has no upper bound"


def test_readme_lists_the_system_packages_the_editor_needs():
    from app.editor.display_check import APT_PACKAGES

    assert readme_command("apt-get install") == f"apt-get install {APT_PACKAGES}"  # no sudo: a root shell lacks it
