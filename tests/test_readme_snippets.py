"""The README's API snippets run as a new user runs them.

The fast test runs them in this environment; the slow one in a fresh virtual environment
with ``pip install .`` only (no extras: no TensorFlow, no matplotlib), from a folder
outside the repo, which is what "a plain install runs every README example" means.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
API_HEADING = "## API"


def api_snippets(text: str | None = None) -> list[str]:
    """The ```python blocks of the README's API section, in order."""
    text = README.read_text() if text is None else text
    start = text.index(API_HEADING + "\n")
    end = text.find("\n## ", start + len(API_HEADING))
    section = text[start : end if end >= 0 else len(text)]
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


def snippet_script(snippets: list[str]) -> str:
    """One script: the snippets in order (each builds on the names of the ones before)."""
    parts = [f"# --- README API snippet {i} ---\n{s}" for i, s in enumerate(snippets)]
    return "\n".join(parts) + '\nprint("README snippets: all ran")\n'


def test_the_api_section_has_snippets_and_they_compile():
    snippets = api_snippets()
    assert len(snippets) >= 5, "the README's API section lost its examples"
    for i, s in enumerate(snippets):
        compile(s, f"README API snippet {i}", "exec")


def test_snippet_extraction_stops_at_the_next_section():
    text = "# t\n## API\n```python\na = 1\n```\n## Next\n```python\nb = 2\n```\n"
    assert api_snippets(text) == ["a = 1\n"]


def _run(python: str, workdir: Path, script: str, timeout: int) -> subprocess.CompletedProcess:
    path = workdir / "readme_snippets.py"
    path.write_text(script)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.setdefault("SOFTJAX_DATA_DIR", str(REPO.parent / "shared" / "data"))
    env.pop("SOFTJAX_RESULTS_DIR", None)  # the snippets' own out_dir / defaults are tested
    env["SOFTJAX_COMPILATION_CACHE"] = str(workdir / "jax_cache")
    return subprocess.run(
        [python, str(path)],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.slow
def test_readme_snippets_run_in_a_plain_install_outside_the_repo(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = str(venv / "bin" / "python")
    install = subprocess.run(
        [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", str(REPO)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    # Only the core dependencies: the extras' packages are absent.
    probe = textwrap.dedent(
        """
        import importlib.util as u
        print([m for m in ("tensorflow", "tensorflow_datasets", "matplotlib", "flax")
               if u.find_spec(m) is not None])
        """
    )
    absent = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True)
    assert absent.stdout.strip() == "[]", absent.stdout
    work = tmp_path / "user_project"
    work.mkdir()
    done = _run(python, work, snippet_script(api_snippets()), timeout=1500)
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-4000:])
    assert "README snippets: all ran" in done.stdout
    # Nothing was written into the install (site-packages) or the repo: results and
    # checkpoints land under the user's folder.
    site = subprocess.run(
        [python, "-c", "import softjax, pathlib; print(pathlib.Path(softjax.__file__).parent)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=work,
    ).stdout.strip()
    assert not (Path(site).parent / "results").exists()
    assert str(REPO) not in site
