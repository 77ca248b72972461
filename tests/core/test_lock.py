"""The dependency lock: what CI tests is what a fresh clone, the Docker image and next month's
clone install. The lock pins every package with hashes and names no index or download address;
the running environment holds exactly the locked versions."""

from __future__ import annotations

import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.lock"
REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s\\;]+)")
# installed by the interpreter's own venv, not by us: the installer and what it brings
NOT_LOCKED = {"pip", "setuptools", "beidou-mobility"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _entries() -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes), from the lock's requirement blocks (lines joined by ``\\``)."""
    text = LOCK.read_text().replace("\\\n", " ")
    entries: dict[str, tuple[str, list[str]]] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = REQUIREMENT.match(line)
        assert match, f"not a pinned requirement: {line[:80]}"
        hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})", line)
        entries[_norm(match.group(1))] = (match.group(3), hashes)
    return entries


def test_every_locked_package_is_pinned_with_hashes_and_no_address() -> None:
    entries = _entries()
    assert len(entries) > 50
    for name, (version, hashes) in entries.items():
        assert hashes, f"{name}=={version} has no hash"
    text = LOCK.read_text()
    for forbidden in ("http://", "https://", "file:", "--index-url", "--extra-index-url", "--find-links"):
        assert forbidden not in text, f"the lock records an address: {forbidden}"


def _dependency_names(specs: list[str]) -> set[str]:
    return {_norm(re.split(r"[\[<>=!~; ]", spec, maxsplit=1)[0]) for spec in specs}


def test_the_lock_covers_every_declared_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = _dependency_names(project["dependencies"]) | _dependency_names(
        project["optional-dependencies"]["dev"]
    )
    missing = declared - set(_entries())
    assert not missing, f"declared but not locked (run `make lock`): {sorted(missing)}"


def test_the_environment_is_exactly_the_lock() -> None:
    """Every distribution this suite runs with is the locked version; none is unlocked."""
    entries = _entries()
    installed = {_norm(d.metadata["Name"]): d.version for d in metadata.distributions()}
    unlocked = {n: v for n, v in installed.items() if n not in entries and n not in NOT_LOCKED}
    assert not unlocked, f"installed but not in the lock: {unlocked}"
    wrong = {n: (v, entries[n][0]) for n, v in installed.items() if n in entries and v != entries[n][0]}
    assert not wrong, f"installed version differs from the lock (installed, locked): {wrong}"
    not_installed = set(entries) - set(installed)
    assert not not_installed, f"locked but not installed: {sorted(not_installed)}"


def test_the_python_version_is_pinned_and_used() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.11,<3.12"
    assert (ROOT / ".python-version").read_text().strip() == "3.11"
    assert sys.version_info[:2] == (3, 11)
    assert "--python-version 3.11" in (ROOT / "Makefile").read_text()


def test_installs_use_the_lock_with_hashes_required() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "uv pip sync -q --python $(BIN)/python --require-hashes $(LOCK)" in makefile
    assert "--require-hashes --no-deps -r $(VENV)/uv-from-lock.txt" in makefile  # uv itself, locked
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install --no-cache-dir --require-hashes --no-deps -r requirements.lock" in dockerfile
    # the project itself goes in without resolving anything
    assert "--no-deps --no-build-isolation" in dockerfile
