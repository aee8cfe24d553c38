"""Validity in full (issue 17, item 2): the end of validity (有效期截止日期) is judged at the moment of
verification — or at another moment with ``--at`` — whatever the registry status; 长期 never expires;
a license whose end date has passed is not issued."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from licenses import LicenseRegistry, ValidityEnded, judgement_moment, validity_problem
from licenses.models import LicenseRecord
from licenses.validity import CN_TZ, status_at
from licenses.views import StatusEntry
from tests.licenses.conftest import DAYI_SAMR, LicEnv, business_request, make_env
from tongban.cli import app

THEN = datetime(2023, 6, 1, 2, 0, tzinfo=UTC)  # when the expired sample was issued


def test_the_end_day_is_still_valid_and_long_term_never_expires() -> None:
    end_of = judgement_moment("2024-01-01")
    assert end_of.tzinfo is not None and end_of.astimezone(CN_TZ).date() == date(2024, 1, 1)
    assert validity_problem("2023-06-01", "2024-01-01", end_of) is None
    reason, note = validity_problem("2023-06-01", "2024-01-01", judgement_moment("2024-01-02")) or ("", "")
    assert reason == "license_expired" and "有效期截止日期 2024-01-01" in note
    # 23:30 UTC on 2024-01-01 is already 2024-01-02 in Asia/Shanghai
    assert validity_problem(None, "2024-01-01", datetime(2024, 1, 1, 23, 30, tzinfo=UTC)) is not None
    assert validity_problem("2023-06-01", None, judgement_moment("2999-12-31")) is None  # 长期
    assert validity_problem("2023-06-01", "长期", judgement_moment("2999-12-31")) is None
    early = validity_problem("2023-06-01", None, judgement_moment("2023-05-31"))
    assert early is not None and early[0] == "not_yet_valid"
    signed = validity_problem(
        "2023-06-01", None, judgement_moment("2023-06-01"), signed_at=datetime(2023, 6, 2, tzinfo=UTC)
    )
    assert signed is not None and signed[0] == "not_yet_valid" and "尚未签发" in signed[1]


def test_status_at_a_moment_follows_the_history() -> None:
    h = [
        StatusEntry("01", "新发", None, "01", "", "x", "2026-01-05T02:00:00+00:00"),
        StatusEntry("03", "暂扣", "01", "02", "", "x", "2026-03-01T02:00:00+00:00"),
    ]
    assert status_at(h, judgement_moment("2026-01-04")) is None
    assert status_at(h, judgement_moment("2026-02-01")) == "01"
    assert status_at(h, judgement_moment("2026-03-01")) == "02"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LicEnv]:
    e = make_env(tmp_path_factory.mktemp("validity") / "var")
    yield e
    e.db.dispose()


@pytest.fixture
def cli(env: LicEnv, monkeypatch: pytest.MonkeyPatch) -> LicEnv:
    monkeypatch.setenv("TONGBAN_DATA_DIR", str(env.settings.data_dir))
    monkeypatch.setenv("TONGBAN_KEYS__PASSPHRASE", env.settings.keys.passphrase.get_secret_value())  # type: ignore[union-attr]
    return env


def _verify(pdf: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(app, ["license", "verify", str(pdf), "--json", *extra])
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.output)


def issued_in_2023(env: LicEnv, until: date) -> str:
    """A license issued (by a registry whose clock says 2023-06-01) with an end of validity."""
    old = LicenseRegistry(env.db, env.registry.store, env.registry.seals, clock=lambda: THEN)
    return old.issue(replace(business_request(), valid_until=until)).license_id


def test_issuing_a_license_whose_end_date_has_passed_is_refused(env: LicEnv) -> None:
    req = replace(business_request(key="P20240001:business_license"), valid_until=date(2024, 1, 1))
    with pytest.raises(ValidityEnded) as exc:
        env.registry.issue(req)
    err = exc.value
    assert err.code == "LICENSE_VALIDITY_ENDED"
    assert "P20240001:business_license" in str(err) and "ZZYXQJZRQ" in str(err) and "2024-01-01" in str(err)
    assert err.as_dict()["field"] == "ZZYXQJZRQ" and err.as_dict()["case"] == "P20240001:business_license"
    # the end date today is still accepted (valid through that day)
    today = datetime.now(UTC).astimezone(CN_TZ).date()
    ok = env.registry.issue(replace(business_request(), valid_until=today))
    assert env.registry.get(ok.license_id).valid_until == today.isoformat()
    # and a renewal may not set an end date that has passed either
    with pytest.raises(ValidityEnded):
        env.registry.renew(ok.license_id, valid_until=date(2024, 1, 1))


def test_cli_issue_with_a_past_end_date_exits_2_naming_the_field(cli: LicEnv) -> None:
    req = business_request()
    h = req.holders[0]
    args = [
        "license",
        "issue",
        "--type",
        "business_license",
        "--holder-name",
        h.name,
        "--holder-code",
        h.code,
    ]
    args += ["--holder-code-type", h.code_type, "--issuer", DAYI_SAMR, "--key", "CLI-PAST:biz"]
    args += [a for k, v in req.fields.items() for a in ("--field", f"{k}={v}")]
    result = CliRunner().invoke(app, [*args, "--valid-until", "2024-01-01"])
    assert result.exit_code == 2, result.output
    flat = " ".join(result.output.split())
    assert "LICENSE_VALIDITY_ENDED" in flat and "CLI-PAST:biz" in flat and "ZZYXQJZRQ" in flat
    with cli.db.session() as s:  # nothing was registered for it
        n = s.scalar(
            select(func.count())
            .select_from(LicenseRecord)
            .where(LicenseRecord.idempotency_key == "CLI-PAST:biz")
        )
    assert n == 0


def test_an_expired_license_verifies_not_valid_whatever_the_registry_says(
    cli: LicEnv, tmp_path: Path
) -> None:
    lid = issued_in_2023(cli, date(2024, 1, 1))
    assert cli.registry.get(lid).status == "01"  # no sweep has run: the registry still says 有效
    pdf = tmp_path / "expired.pdf"
    pdf.write_bytes(cli.registry.file(lid))
    code, doc = _verify(pdf)
    assert code == 1 and doc["reasons"] == ["license_expired"] and doc["status"] == "01"
    assert doc["validity"]["until"] == "2024-01-01"
    assert doc["messages"] == ["证照已超过有效期（有效期截止日期 2024-01-01）"]
    # on its last day it was within its period, but this file's seal timestamp (the TSA's real
    # clock) is of today: the file did not exist then — "not yet valid" says so
    code, doc = _verify(pdf, "--at", "2024-01-01")
    assert code == 1 and doc["reasons"] == ["not_yet_valid"], doc
    code, doc = _verify(pdf, "--at", "2024-01-02")
    assert code == 1 and doc["reasons"] == ["license_expired"]
    # after the sweep moved it to 05: both reasons
    cli.registry.expire_due()
    assert cli.registry.get(lid).status == "05"
    code, doc = _verify(pdf)
    assert code == 1 and set(doc["reasons"]) == {"license_expired", "status_not_valid"}


def test_at_a_later_date_a_valid_license_is_expired_and_before_its_issue_not_yet_valid(
    cli: LicEnv, tmp_path: Path
) -> None:
    food = cli.registry.issue(
        replace(
            business_request(),
            type_code="food_business_license",
            fields={
                "KZ_FDDBR": "张三",
                "KZ_ZS": "四川省成都市大邑县晋原街道示例路88号",
                "KZ_JYCS": "四川省成都市大邑县晋原街道示例路88号",
                "KZ_ZTYT": "餐饮服务经营者",
                "KZ_JYXM": "热食类食品制售",
                "KZ_RCJDGLJG": "大邑县市场监督管理局",
            },
        )
    )
    view = cli.registry.get(food.license_id)
    assert view.valid_until is not None  # 5 years
    pdf = tmp_path / "food.pdf"
    pdf.write_bytes(cli.registry.file(food.license_id))
    assert _verify(pdf)[0] == 0
    end = date.fromisoformat(view.valid_until)
    assert _verify(pdf, "--at", end.isoformat())[0] == 0
    code, doc = _verify(pdf, "--at", (end + timedelta(days=1)).isoformat())
    assert code == 1 and doc["reasons"] == ["license_expired"]
    assert f"有效期截止日期 {end.isoformat()}" in doc["messages"][0]
    code, doc = _verify(pdf, "--at", (date.fromisoformat(view.issue_date) - timedelta(days=1)).isoformat())
    assert code == 1 and "not_yet_valid" in doc["reasons"]
    # a suspension today does not reach back: the day before it is judged by that day's status
    cli.registry.transition(food.license_id, "suspend", reason="抽查")
    code, doc = _verify(pdf, "--at", (end - timedelta(days=1)).isoformat())
    assert code == 1 and doc["reasons"] == ["status_not_valid"]  # later than today: suspended
    # 长期 (no end date): never expires
    biz = cli.registry.issue(business_request())
    pdf2 = tmp_path / "biz.pdf"
    pdf2.write_bytes(cli.registry.file(biz.license_id))
    code, doc = _verify(pdf2, "--at", "2999-12-31")
    assert code == 0 and doc["validity"]["until"] is None
    bad = CliRunner().invoke(app, ["license", "verify", str(pdf2), "--at", "yesterday"])
    assert bad.exit_code == 2 and "LICENSE_MOMENT" in bad.output
