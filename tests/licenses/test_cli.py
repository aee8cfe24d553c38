"""``tongban license``: issue, show, verify (exit codes), lifecycle verbs, issue-batch from cases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.licenses.conftest import LicEnv, business_request
from tongban.cli import app


@pytest.fixture
def cli_env(lic_env: LicEnv, monkeypatch: pytest.MonkeyPatch) -> LicEnv:
    monkeypatch.setenv("TONGBAN_DATA_DIR", str(lic_env.settings.data_dir))
    monkeypatch.setenv("TONGBAN_KEYS__PASSPHRASE", lic_env.settings.keys.passphrase.get_secret_value())  # type: ignore[union-attr]
    return lic_env


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_types_issue_show_verify_and_a_status_change(cli_env: LicEnv, tmp_path: Path) -> None:
    code, out = run("license", "types", "--json")
    assert code == 0 and {t["name"] for t in json.loads(out)} >= {
        "营业执照",
        "食品经营许可证",
        "不动产权证书",
    }
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
        "--holder-code-type",
        h.code_type,
        "--key",
        "cli-1",
        "--json",
    ]
    args += [a for k, v in req.fields.items() for a in ("--field", f"{k}={v}")]
    code, out = run(*args)
    assert code == 0, out
    doc = json.loads(out)
    assert set(doc) == {"license_id", "object_key", "sha256", "status", "verify_code"}
    lid = doc["license_id"]
    code, out = run("license", "show", lid, "--json")
    assert code == 0 and json.loads(out)["status"] == "01"
    pdf = tmp_path / "l.pdf"
    assert run("license", "export", lid, "--out", str(pdf))[0] == 0
    code, out = run("license", "verify", str(pdf), "--json")
    assert code == 0 and json.loads(out)["valid"] is True
    assert run("license", "suspend", lid, "--reason", "抽查")[0] == 0
    code, out = run("license", "verify", str(pdf), "--json")
    report = json.loads(out)
    assert code == 1 and report["reasons"] == ["status_not_valid"] and report["status"] == "02"
    code, out = run("license", "transfer-out", lid, "--reason", "迁出")
    assert code == 1 and "LICENSE_TRANSITION" in out
    assert (
        run(
            "license",
            "issue",
            "--type",
            "nope",
            "--holder-name",
            "x",
            "--holder-code",
            "y",
            "--holder-code-type",
            "001",
        )[0]
        == 2
    )


def test_issue_batch_from_cases_and_requests(cli_env: LicEnv, tmp_path: Path) -> None:
    req = business_request()
    h = req.holders[0]
    case: dict[str, dict[str, Any]] = {
        "accept": {
            "project_no": "DY2026000777",
            "task_code": "11510129008589710X4000120001000",
            "applyer_name": "李四",
        },
        "result": {"result_cert_no": "", "result_date": "2026-11-20"},
        "approval": {
            "fields": {
                "KZ_MC": "大邑县李四小吃店",
                "KZ_ZCXS": "个人经营",
                "KZ_JYCS": "大邑县示例街7号",
                "KZ_JYFW": "小吃服务",
            }
        },
    }
    from contracts.validators import make_uscc

    case["result"]["result_cert_no"] = make_uscc("92", "510129", "MA000777")
    lines = [
        json.dumps(case, ensure_ascii=False),
        json.dumps(
            {
                "type": "business_license",
                "holders": [{"CZZT": h.name, "CZZTDM": h.code, "CZZTDMLX": "001"}],
                "fields": dict(req.fields),
                "idempotency_key": "batch-2",
            },
            ensure_ascii=False,
        ),
    ]
    f = tmp_path / "batch.jsonl"
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out = run("license", "issue-batch", str(f), "--json")
    assert code == 0, out
    assert json.loads(out)["issued"] == 2
    code, out = run("license", "issue-batch", str(f), "--json")  # again: nothing new
    assert code == 0 and json.loads(out)["existing"] == 2
    found = cli_env.registry.find_by_holder(case["result"]["result_cert_no"], "001")
    assert len(found) == 1 and found[0].metadata["KZ"]["KZ_JYZ"] == "李四"


def test_show_and_verify_mask_holder_ids_unless_revealed(cli_env: LicEnv, tmp_path: Path) -> None:
    from tests.licenses.conftest import property_request

    req = property_request("510129001001GB00001F0001", owners=2)
    lic = cli_env.registry.issue(req)
    ids = [h.code for h in req.holders]
    code, out = run("license", "show", lic.license_id, "--json")
    assert code == 0
    assert not any(i in out for i in ids)
    doc = json.loads(out)
    assert doc["metadata"]["CZZTDM"] == ids[0][:4] + "*" * 10 + ids[0][-4:]
    assert [h["code"][:4] + h["code"][-4:] for h in doc["holders"]] == [i[:4] + i[-4:] for i in ids]
    code, out = run("license", "show", lic.license_id, "--json", "--reveal")
    doc = json.loads(out)
    assert doc["metadata"]["CZZTDM"] == ids[0] and [h["code"] for h in doc["holders"]] == ids
    pdf = tmp_path / "p.pdf"
    assert run("license", "export", lic.license_id, "--out", str(pdf))[0] == 0
    code, out = run("license", "verify", str(pdf), "--json")
    assert code == 0 and ids[0] not in out and json.loads(out)["metadata"]["CZZTDM"].startswith(ids[0][:4])
    code, out = run("license", "verify", str(pdf), "--json", "--reveal")
    assert code == 0 and json.loads(out)["metadata"]["CZZTDM"] == ids[0]
