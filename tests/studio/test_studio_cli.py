"""`telcoflow studio` and `telcoflow journey diagram --format svg|html` on the command line,
in this checkout and from an installed wheel in an empty directory."""

from __future__ import annotations

import os
import shutil
import site
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from telcoflow.cli import main

REPO = Path(__file__).resolve().parents[2]


def test_studio_help_and_a_folder_without_journeys(tmp_path: Path) -> None:
    runner = CliRunner()
    shown = runner.invoke(main, ["studio", "--help"])
    assert shown.exit_code == 0
    assert "--port" in shown.output
    assert "127.0.0.1" in shown.output
    empty = runner.invoke(main, ["studio", str(tmp_path)])
    assert empty.exit_code == 1
    assert f"no journey file (*.yaml) under {tmp_path}" in empty.output
    assert "Traceback" not in empty.output


@pytest.mark.parametrize("fmt", ["svg", "html"])
def test_journey_diagram_draws(fmt: str, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["journey", "diagram", str(REPO / "journeys/top_up.yaml"),
                                  "--format", fmt])
    assert result.exit_code == 0, result.output
    assert '<g class="state leaf" data-state="paying">' in result.output
    out = tmp_path / f"top_up.{fmt}"
    written = runner.invoke(main, ["journey", "diagram", str(REPO / "journeys/top_up.yaml"),
                                   "--format", fmt, "-o", str(out)])
    assert written.output == f"wrote {out}\n"
    assert out.read_text(encoding="utf-8") == result.output


@pytest.mark.slow
def test_from_an_installed_wheel_in_an_empty_directory(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(REPO),
                            "-w", str(wheels)], capture_output=True, text=True, timeout=600,
                           check=False)
    assert build.returncode == 0, build.stderr
    wheel = next(wheels.glob("telcoflow-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; "
                              "print(sysconfig.get_path('purelib'))"], capture_output=True,
                             text=True, check=True).stdout.strip()
    # the dependencies come from this environment's site-packages (a path, not a site dir:
    # its editable telcoflow finder is not loaded); telcoflow itself from the wheel
    Path(purelib, "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n",
                                         encoding="utf-8")
    install = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                              "--target", purelib, str(wheel)], capture_output=True,
                             text=True, timeout=300, check=False)
    assert install.returncode == 0, install.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    where = subprocess.run([str(python), "-c", "import telcoflow; print(telcoflow.__file__)"],
                           capture_output=True, text=True, cwd=empty, env=env, check=True)
    assert where.stdout.startswith(purelib)
    # what the `telcoflow` console script runs
    cli = [str(python), "-c", "import sys; from telcoflow.cli import console; "
           "sys.argv[0] = 'telcoflow'; console()"]
    shown = subprocess.run([*cli, "studio", "--help"], capture_output=True, text=True,
                           cwd=empty, env=env, timeout=60, check=False)
    assert shown.returncode == 0, shown.stderr
    assert "Edit, draw, simulate" in shown.stdout
    shutil.copy(REPO / "journeys" / "top_up.yaml", empty / "top_up.yaml")
    svg = subprocess.run([*cli, "journey", "diagram", "top_up.yaml", "--format", "svg"],
                         capture_output=True, text=True, cwd=empty, env=env, timeout=60,
                         check=False)
    assert svg.returncode == 0, svg.stderr
    assert svg.stdout.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<svg ')
    # the studio serves its prebuilt assets from the installed package
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([*cli, "studio", "top_up.yaml", "--port", str(port)], cwd=empty,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        body = b""
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/editor.js",
                                            timeout=2) as r:
                    body = r.read()
                break
            except OSError:
                time.sleep(0.1)
        assert body.startswith(b"var TelcoflowEditor=")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/journey/0", timeout=5) as r:
            assert b"top_up.yaml" in r.read()
    finally:
        server.terminate()
        server.communicate(timeout=10)  # waits, and closes the pipes
