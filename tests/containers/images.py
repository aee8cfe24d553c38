"""The images of the container tier: the tongban image from the repository's ``Dockerfile`` on a
stand-in for the official Airflow image, and stand-ins for postgres, redis and MinIO
(``docker/test/``), all on the debootstrap base. Each is tagged by the hash of its inputs.

    python -m tests.containers.images      # build (or find) them all, print the tags and times
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.containers.engine import ROOT, Build, base_image, build, tracked_files

STANDINS = ROOT / "docker" / "test"
PRODUCT = (
    "contracts",
    "core",
    "quality",
    "connectors",
    "licenses",
    "pipeline",
    "gateway",
    "dags",
    "tongban",
    "sandbox",
    "migrations",
    "bench",
)
TOP = ("Dockerfile", ".dockerignore", "pyproject.toml", "README.md", "requirements.lock")


@dataclass(frozen=True)
class Images:
    tongban: str
    postgres: str
    redis: str
    minio: str

    def env(self) -> dict[str, str]:
        """The variables ``docker/test/compose.test.yml`` reads."""
        return {
            "TONGBAN_TEST_IMAGE": self.tongban,
            "TONGBAN_TEST_POSTGRES_IMAGE": self.postgres,
            "TONGBAN_TEST_REDIS_IMAGE": self.redis,
            "TONGBAN_TEST_MINIO_IMAGE": self.minio,
        }


def _standin(name: str, base: str, log: Path, extra: tuple[Path, ...] = ()) -> str:
    folder = STANDINS / name
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    b = Build(f"tongban-test/{name}", folder / "Dockerfile", folder, [*files, *extra], {"BASE": base})
    if not extra:
        return build(b, log=log)
    # the build context: the stand-in's folder plus the extra files (e.g. the lock for moto)
    with tempfile.TemporaryDirectory(prefix=f"tongban-ctx-{name}-") as tmp:
        ctx = Path(tmp) / name
        shutil.copytree(folder, ctx)
        for p in extra:
            shutil.copy(p, ctx / p.name)
        return build(Build(b.repo, ctx / "Dockerfile", ctx, [], b.args), log=log, tag=b.tag())


def tongban_inputs() -> list[Path]:
    files = [ROOT / p for p in TOP if (ROOT / p).exists()]
    files += tracked_files(*PRODUCT)
    files += sorted(p for p in (ROOT / "docker").glob("*") if p.is_file())
    files += sorted((ROOT / "docker" / "postgres-initdb").glob("*"))
    return [p for p in files if "__pycache__" not in p.parts]


def build_all(log: Path, timings: dict[str, float] | None = None) -> Images:
    """Every image of the tier (cached by inputs); ``timings`` gets the seconds of each step."""
    t = timings if timings is not None else {}

    def step(name: str, fn: object) -> str:
        t0 = time.monotonic()
        out = fn()  # type: ignore[operator]
        t[name] = round(time.monotonic() - t0, 1)
        return str(out)

    base = step("base (debootstrap)", base_image)
    airflow_base = step("airflow stand-in", lambda: _standin("airflow-base", base, log))
    tongban = step(
        "tongban image",
        lambda: build(
            Build(
                "tongban-test/tongban",
                ROOT / "Dockerfile",
                ROOT,
                tongban_inputs(),
                {"AIRFLOW_IMAGE": airflow_base},
            ),
            log=log,
        ),
    )
    postgres = step("postgres stand-in", lambda: _standin("postgres", base, log))
    redis = step("redis stand-in", lambda: _standin("redis", base, log))
    minio = step("minio stand-in (moto)", lambda: _standin("minio", base, log, (ROOT / "requirements.lock",)))
    return Images(tongban, postgres, redis, minio)


if __name__ == "__main__":
    times: dict[str, float] = {}
    imgs = build_all(Path(tempfile.gettempdir()) / "tongban-image-build.log", times)
    sys.stdout.write(f"{imgs}\n{times}\n")
