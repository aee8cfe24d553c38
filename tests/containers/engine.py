"""The Docker engine for the container tier: find the CLI, start ``dockerd`` when none runs, build
images cached by their inputs.

No container registry can be reached here, so every image starts from a Debian bookworm base made
with ``debootstrap --variant=minbase`` and ``docker import``. Each image is tagged with a hash of
everything that goes into it (the recipe, the files copied in, the base's tag), so a second run
finds it and skips the build; Docker's layer cache makes a changed input cheap to rebuild.

The engine must start: when it cannot, :func:`ensure_engine` raises and the tier fails, it is
never skipped.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
DOCKERD_LOG = Path(tempfile.gettempdir()) / "tongban-dockerd.log"
BASE_RECIPE = "debootstrap --variant=minbase bookworm (1)"  # bump to rebuild the base
BASE_REPO = "tongban-test/bookworm-minbase"


class EngineError(RuntimeError):
    """The Docker engine or a build failed: the container tier cannot run (a failure, not a skip)."""


def docker_bin() -> str:
    """Debian's CLI (``docker.io``, same release as the engine) before anything else on PATH."""
    for cand in ("/usr/bin/docker", shutil.which("docker")):
        if cand and Path(cand).exists():
            return cand
    raise EngineError("no docker CLI: install Debian's docker.io (./run installs it when root)")


def compose_bin() -> str:
    found = shutil.which("docker-compose")
    if not found:
        raise EngineError("no docker-compose: install Debian's docker-compose (./run installs it when root)")
    return found


def docker(*args: str, check: bool = True, capture: bool = True, timeout: float = 600, **kw: object) -> str:
    """Run the docker CLI; returns stdout. A failure raises with the command's stderr."""
    cmd = [docker_bin(), *args]
    r = subprocess.run(cmd, capture_output=capture, text=True, timeout=timeout, check=False, **kw)  # type: ignore[call-overload]
    if check and r.returncode != 0:
        raise EngineError(f"{' '.join(cmd[:6])} … failed ({r.returncode}):\n{(r.stderr or '')[-4000:]}")
    return str(r.stdout or "")


def _engine_answers() -> bool:
    try:
        r = subprocess.run([docker_bin(), "info"], capture_output=True, timeout=20, check=False)
    except (subprocess.TimeoutExpired, OSError):
        return False
    return r.returncode == 0


@dataclass
class Engine:
    started: subprocess.Popen[bytes] | None = None  # the dockerd this run started, if any

    def stop(self) -> None:
        """Stop the dockerd this run started (containers were removed before); images stay on disk."""
        p = self.started
        if p is None or p.poll() is not None:
            return
        p.terminate()
        try:
            p.wait(60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(10)


def ensure_engine(timeout: float = 90) -> Engine:
    """A running engine: the one already there, or ``dockerd`` started now (root only)."""
    if _engine_answers():
        return Engine()
    dockerd = shutil.which("dockerd") or ("/usr/sbin/dockerd" if Path("/usr/sbin/dockerd").exists() else None)
    if dockerd is None:
        raise EngineError(
            "no Docker engine runs and dockerd is not installed (Debian docker.io; ./run installs it)"
        )
    if os.geteuid() != 0:
        raise EngineError("no Docker engine runs and only root can start dockerd here")
    log = DOCKERD_LOG.open("ab")
    proc = subprocess.Popen([dockerd], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + timeout
    while not _engine_answers():
        if proc.poll() is not None or time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            tail = DOCKERD_LOG.read_text(errors="replace")[-3000:]
            raise EngineError(f"dockerd did not start (exit {proc.poll()}); {DOCKERD_LOG}:\n{tail}")
        time.sleep(1)
    return Engine(started=proc)


def image_exists(tag: str) -> bool:
    r = subprocess.run([docker_bin(), "image", "inspect", tag], capture_output=True, check=False, timeout=60)
    return r.returncode == 0


def digest(parts: Iterable[str | bytes | Path]) -> str:
    """SHA-256 over strings, bytes and files (path and content), in order; 16 hex digits."""
    h = hashlib.sha256()
    for p in parts:
        if isinstance(p, Path):
            h.update(str(p.relative_to(ROOT) if p.is_relative_to(ROOT) else p).encode() + b"\0")
            h.update(p.read_bytes())
        else:
            h.update(p.encode() if isinstance(p, str) else p)
        h.update(b"\0")
    return h.hexdigest()[:16]


def debian_mirror() -> str:
    """The machine's Debian mirror (``/etc/apt/sources.list.d/debian.sources``), else deb.debian.org."""
    src = Path("/etc/apt/sources.list.d/debian.sources")
    if src.exists():
        for line in src.read_text().splitlines():
            if line.startswith("URIs:"):
                return line.split()[1]
    return "http://deb.debian.org/debian"


def base_image() -> str:
    """The Debian bookworm minbase image, made with debootstrap and ``docker import`` once."""
    mirror = debian_mirror()
    tag = f"{BASE_REPO}:{digest([BASE_RECIPE, mirror])}"
    if image_exists(tag):
        return tag
    if not shutil.which("debootstrap"):
        raise EngineError("debootstrap is not installed (Debian debootstrap; ./run installs it)")
    with tempfile.TemporaryDirectory(prefix="tongban-debootstrap-") as tmp:
        root = Path(tmp) / "rootfs"
        r = subprocess.run(
            ["debootstrap", "--variant=minbase", "bookworm", str(root), mirror],
            capture_output=True,
            text=True,
            timeout=1200,
            check=False,
        )
        if r.returncode != 0:
            raise EngineError(f"debootstrap failed ({r.returncode}):\n{(r.stdout + r.stderr)[-4000:]}")
        # the same apt sources as the host (security updates too), no caches in the image
        sources = Path("/etc/apt/sources.list.d/debian.sources")
        if sources.exists():
            (root / "etc/apt/sources.list.d").mkdir(parents=True, exist_ok=True)
            shutil.copy(sources, root / "etc/apt/sources.list.d/debian.sources")
            (root / "etc/apt/sources.list").unlink(missing_ok=True)
        shutil.rmtree(root / "var/cache/apt/archives", ignore_errors=True)
        (root / "var/cache/apt/archives/partial").mkdir(parents=True, exist_ok=True)
        tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        imp = subprocess.run(
            [docker_bin(), "import", "-c", 'CMD ["bash"]', "-", tag],
            stdin=tar.stdout,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        tar.wait()
        if imp.returncode != 0 or tar.returncode != 0:
            raise EngineError(f"docker import failed: {imp.stderr[-2000:]}")
    return tag


@dataclass
class Build:
    """One image: a Dockerfile, its context, the files that go in, build arguments."""

    repo: str
    dockerfile: Path
    context: Path
    inputs: Sequence[Path]
    args: Mapping[str, str] = field(default_factory=dict)

    def tag(self) -> str:
        files = sorted({self.dockerfile, *self.inputs})
        return f"{self.repo}:{digest([*files, *(f'{k}={v}' for k, v in sorted(self.args.items()))])}"


def build(b: Build, *, log: Path | None = None, tag: str | None = None) -> str:
    """Build ``b`` unless an image with its input hash (or ``tag``) exists; returns the tag."""
    tag = tag or b.tag()
    if image_exists(tag):
        return tag
    cmd = [docker_bin(), "build", "--network", "host", "-t", tag, "-f", str(b.dockerfile)]
    for k, v in b.args.items():
        cmd += ["--build-arg", f"{k}={v}"]
    if HOST_CA.exists():  # pip and uv inside the build trust what the host trusts
        cmd += ["--secret", f"id=ca,src={HOST_CA}"]
    cmd.append(str(b.context))
    env = {**os.environ, "DOCKER_BUILDKIT": "1"}
    out = log.open("ab") if log else subprocess.DEVNULL
    try:
        r = subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=1800, check=False)
    finally:
        if log:
            out.close()  # type: ignore[union-attr]
    if r.returncode != 0:
        tail = log.read_text(errors="replace")[-5000:] if log else ""
        raise EngineError(f"docker build of {tag} failed ({r.returncode}):\n{tail}")
    return tag


def tracked_files(*paths: str) -> list[Path]:
    """The git-tracked and untracked-but-not-ignored files under ``paths`` (what a clone builds)."""
    r = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "--cached", "--others", "--exclude-standard", "--", *paths],
        capture_output=True,
        text=True,
        check=True,
    )
    return sorted(ROOT / p for p in r.stdout.splitlines() if p and (ROOT / p).is_file())
