"""Field-level encryption: tokens open only in their own context, keys rotate without a flag day,
blind indexes match equal values and reveal nothing without the key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.errors import IntegrityError
from core.fieldcrypt import BLIND_KEY_PURPOSE, FIELD_KEY_PURPOSE, FieldCrypt, is_sealed
from core.keys.datakeys import DataKeyring

ID = "510129199001011238"  # DOMAIN.md vector


@pytest.fixture
def fc(tmp_path: Path) -> FieldCrypt:
    return FieldCrypt(DataKeyring(tmp_path / "data", os.urandom(32)))


def test_a_token_opens_in_its_context_only(fc: FieldCrypt) -> None:
    t = fc.seal(ID, table="licenses", column="holder_code", row_key="L1")
    assert is_sealed(t) and ID not in t and ID[:6] not in t
    assert fc.open(t, table="licenses", column="holder_code", row_key="L1") == ID
    for ctx in (
        ("licenses", "holder_code", "L2"),
        ("licenses", "metadata", "L1"),
        ("case_rows", "holder_code", "L1"),
    ):
        with pytest.raises(IntegrityError):
            fc.open(t, table=ctx[0], column=ctx[1], row_key=ctx[2])
    flipped = t[:-3] + ("A" if t[-3] != "A" else "B") + t[-2:]
    with pytest.raises(IntegrityError):
        fc.open(flipped, table="licenses", column="holder_code", row_key="L1")
    with pytest.raises(IntegrityError):
        fc.open(ID, table="licenses", column="holder_code", row_key="L1")  # not a token


def test_two_seals_of_one_value_differ_but_blind_indexes_match(fc: FieldCrypt) -> None:
    a = fc.seal(ID, table="t", column="c", row_key="r")
    b = fc.seal(ID, table="t", column="c", row_key="r")
    assert a != b  # a fresh nonce each time: equal values cannot be seen as equal from tokens
    assert fc.blind(ID, kind="111") == fc.blind(" " + ID.lower() + " ", kind="111")
    assert fc.blind(ID, kind="111") != fc.blind(ID, kind="001")  # kinds never collide
    assert fc.blind(ID, kind="111") != fc.blind("11010519491231002X", kind="111")


def test_blind_index_depends_on_its_own_key(tmp_path: Path) -> None:
    ring = DataKeyring(tmp_path / "a", os.urandom(32))
    one = FieldCrypt(ring).blind(ID, kind="111")
    other = FieldCrypt(DataKeyring(tmp_path / "b", os.urandom(32))).blind(ID, kind="111")
    assert one != other
    assert ring.current(BLIND_KEY_PURPOSE).key != ring.current(FIELD_KEY_PURPOSE).key


def test_rotation_keeps_old_tokens_readable_and_reseal_moves_them(fc: FieldCrypt) -> None:
    old = fc.seal(ID, table="t", column="c", row_key="r")
    old_kid = fc.key_id_of(old)
    fc.keyring.rotate(FIELD_KEY_PURPOSE)
    assert fc.current_key_id() != old_kid
    assert fc.open(old, table="t", column="c", row_key="r") == ID
    new = fc.reseal(old, table="t", column="c", row_key="r")
    assert fc.key_id_of(new) == fc.current_key_id()
    assert fc.reseal(new, table="t", column="c", row_key="r") == new
    assert fc.open(new, table="t", column="c", row_key="r") == ID


def test_documents_seal_only_their_personal_fields(fc: FieldCrypt) -> None:
    row = {"project_no": "P1", "applyer_name": "张三", "applyer_id": ID, "promise_day": 5, "phone": None}
    sealed = fc.seal_doc(row, ("applyer_name", "applyer_id", "phone"), table="case_rows", row_key="g1")
    assert sealed["project_no"] == "P1" and sealed["promise_day"] == 5 and sealed["phone"] is None
    assert is_sealed(sealed["applyer_name"]) and is_sealed(sealed["applyer_id"])
    assert fc.seal_doc(sealed, ("applyer_id",), table="case_rows", row_key="g1") == sealed  # idempotent
    assert (
        fc.open_doc(sealed, ("applyer_name", "applyer_id", "phone"), table="case_rows", row_key="g1") == row
    )
