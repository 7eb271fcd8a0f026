"""Before Qt opens a window on Linux: is there a display, and can Qt's xcb plugin load?

Without a library the xcb platform plugin links against, Qt prints several lines that name
the wrong package (it always suggests xcb-cursor0) and aborts the process (exit 134).
`ldd` on the plugin names exactly what is missing, so the editor can say it in one line.
No Qt here: importing PyQt6's widgets is what this check guards.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

# The one line the README gives; it installs everything the xcb plugin links against that a
# minimal Debian 12 / Ubuntu 22.04+ lacks.
APT_PACKAGES = (
    "libegl1 libgl1 libfontconfig1 libdbus-1-3 libxkbcommon0 libxkbcommon-x11-0 "
    "libx11-xcb1 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 "
    "libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1"
)
NOT_FOUND = re.compile(r"^\s*(\S+) => not found", re.MULTILINE)
PACKAGE_EXCEPTIONS = {"libglib-2.0.so.0": "libglib2.0-0", "libgthread-2.0.so.0": "libglib2.0-0"}


def debian_package(soname: str) -> str:
    """The Debian package that ships a library, by Debian's naming rule:
    libxcb-icccm.so.4 -> libxcb-icccm4, libxkbcommon-x11.so.0 -> libxkbcommon-x11-0."""
    if soname in PACKAGE_EXCEPTIONS:
        return PACKAGE_EXCEPTIONS[soname]
    stem, _, version = soname.partition(".so")
    major = version.strip(".").split(".")[0]
    joiner = "-" if stem[-1:].isdigit() else ""
    return f"{stem.lower()}{joiner}{major}"


def missing_libraries(plugin: Path, qt_lib_dir: Path) -> list[str]:
    """Libraries `plugin` (or the Qt library it loads) needs that the system lacks."""
    if not shutil.which("ldd"):
        return []
    missing: list[str] = []
    for binary in (plugin, qt_lib_dir / "libQt6XcbQpa.so.6"):
        if not binary.exists():
            continue
        env = {**os.environ, "LD_LIBRARY_PATH": f"{qt_lib_dir}:{os.environ.get('LD_LIBRARY_PATH', '')}"}
        try:
            out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, env=env, timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            return []
        missing += NOT_FOUND.findall(out)
    return list(dict.fromkeys(missing))


def uses_xcb() -> bool:
    """Whether Qt will pick its xcb plugin (Linux with X11, no other platform asked for)."""
    if not sys.platform.startswith("linux"):
        return False
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform:
        return platform.split(";")[0].split(":")[0] == "xcb"
    return not os.environ.get("WAYLAND_DISPLAY")


def display_problem() -> str | None:
    """One line saying why the editor cannot open a window here, or None when it can."""
    if not uses_xcb():
        return None
    if not os.environ.get("DISPLAY"):
        return (
            "no display to open the editor on (DISPLAY is not set): run it in a desktop session, "
            "or under a virtual screen with `xvfb-run python main.py`"
        )
    spec = importlib.util.find_spec("PyQt6")  # found, not imported: no Qt library is loaded
    if spec is None or not spec.submodule_search_locations:
        return "PyQt6 is not installed: pip install -r requirements.txt"
    qt = Path(list(spec.submodule_search_locations)[0]) / "Qt6"
    missing = missing_libraries(qt / "plugins" / "platforms" / "libqxcb.so", qt / "lib")
    if not missing:
        return None
    packages = sorted({debian_package(name) for name in missing})
    return (
        f"Qt's window system plugin (xcb) cannot load: {', '.join(missing)} "
        f"{'is' if len(missing) == 1 else 'are'} missing; on Debian or Ubuntu: "
        f"sudo apt-get install {' '.join(packages)} (the README lists all the editor needs)"
    )
