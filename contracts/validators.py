"""Code validators of DOMAIN.md §2: USCC, organization code, resident ID, region code, and the
GB/T 36904 license identifier (generate and check, ISO/IEC 7064 MOD 37,36).

Three forms for every code, so callers pick what fits:

* ``is_valid_<code>(s) -> bool``          cheap, total (any str, never raises) — for vectorized checks
* ``<code>_problem(s) -> str | None``     ``None`` when valid, else a stable reason
  (``"length"``, ``"charset"``, ``"check_digit"``, ``"org_code"``, ``"birth_date"``, ...)
* ``check_<code>(s) -> None``             raises :class:`contracts.errors.InvalidCode` with the reason

and ``make_<code>(...)`` builders that compute the check characters (used by the generator and the
license issuer). The character value tables and weights are public constants so a pandas / numpy
vectorized implementation can be built elsewhere without re-deriving them:

    USCC_ALPHABET, USCC_CHAR_VALUES, USCC_WEIGHTS, USCC_PATTERN
    ORG_CODE_ALPHABET, ORG_CODE_CHAR_VALUES, ORG_CODE_WEIGHTS, ORG_CODE_PATTERN
    RESIDENT_ID_WEIGHTS, RESIDENT_ID_CHECK_CHARS, RESIDENT_ID_PATTERN
    MOD37_36_ALPHABET, LICENSE_ID_PREFIX

Public functions (all pure)::

    uscc_check_char(first17: str) -> str
    is_valid_uscc(s) -> bool ; uscc_problem(s) -> str | None ; check_uscc(s) -> None
    make_uscc(authority_and_type: str, region: str, org_body: str) -> str
    org_code_check_char(body8: str) -> str
    is_valid_org_code(s) -> bool ; org_code_problem(s) -> str | None ; check_org_code(s) -> None
                                                     # accepts "D2143569-X" and "D2143569X"
    resident_id_check_char(first17: str) -> str
    is_valid_resident_id(s) -> bool ; resident_id_problem(s) -> str | None ; check_resident_id(s) -> None
    make_resident_id(region: str, birth: date, sequence: int) -> str
    is_valid_region_code(s) -> bool ; region_code_problem(s) -> str | None   # known GB/T 2260 code
    mod37_36_check_char(data: str) -> str ; mod37_36_is_valid(data_with_check: str) -> bool
    make_license_id(type_code, issuer_code, serial, version=1) -> str
    parse_license_id(s) -> LicenseIdentifier          # raises InvalidCode
    is_valid_license_id(s) -> bool ; license_id_problem(s) -> str | None
    is_valid_license_type_code(s) -> bool             # 21 chars: defining authority USCC + 3 digits
    holder_id_problem(code_type: str, value: str) -> str | None   # per 证件类型 (111, 001, passports ...)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType

from contracts.errors import InvalidCode
from contracts.regions import is_known_region, is_region_code_format

# --- Unified social credit code (GB 32100-2015) ------------------------------------------------

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_CHAR_VALUES: Mapping[str, int] = MappingProxyType({c: i for i, c in enumerate(USCC_ALPHABET)})
USCC_WEIGHTS: tuple[int, ...] = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
USCC_PATTERN = re.compile(r"[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}")

# --- Organization code (GB 11714) ---------------------------------------------------------------

ORG_CODE_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
ORG_CODE_CHAR_VALUES: Mapping[str, int] = MappingProxyType({c: i for i, c in enumerate(ORG_CODE_ALPHABET)})
ORG_CODE_WEIGHTS: tuple[int, ...] = (3, 7, 9, 10, 5, 8, 4, 2)
ORG_CODE_PATTERN = re.compile(r"([0-9A-Z]{8})-?([0-9X])")

# --- Resident ID (GB 11643-1999) ----------------------------------------------------------------

RESIDENT_ID_WEIGHTS: tuple[int, ...] = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
RESIDENT_ID_CHECK_CHARS = "10X98765432"
RESIDENT_ID_PATTERN = re.compile(r"\d{17}[0-9X]")

# --- License identifier (GB/T 36904-2018) -------------------------------------------------------

MOD37_36_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
MOD37_36_CHAR_VALUES: Mapping[str, int] = MappingProxyType({c: i for i, c in enumerate(MOD37_36_ALPHABET)})
LICENSE_ID_PREFIX = "1.2.156.3005.2"
LICENSE_TYPE_CODE_PATTERN = re.compile(r"[0-9A-HJ-NPQRTUWXY]{18}\d{3}")
LICENSE_SERIAL_PATTERN = re.compile(r"\d{10}")  # this project: 4-digit year + 6-digit sequence
LICENSE_VERSION_PATTERN = re.compile(r"\d{3}")


def _raise_if(problem: str | None, what: str, value: str) -> None:
    if problem is not None:
        raise InvalidCode(f"invalid {what} {value!r}: {problem}", code=f"CODE_INVALID_{problem.upper()}")


# USCC -------------------------------------------------------------------------------------------


def uscc_check_char(first17: str) -> str:
    """The 18th character of a USCC whose first 17 characters are ``first17``."""
    if len(first17) != 17 or any(c not in USCC_CHAR_VALUES for c in first17):
        raise InvalidCode(f"USCC body must be 17 characters of {USCC_ALPHABET}: {first17!r}")
    total = sum(USCC_CHAR_VALUES[c] * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    c = 31 - total % 31
    return USCC_ALPHABET[0 if c == 31 else c]


def uscc_problem(s: str) -> str | None:
    """``None`` if ``s`` is a valid USCC (check character and embedded organization code), else the reason."""
    if len(s) != 18:
        return "length"
    if not USCC_PATTERN.fullmatch(s):
        return "charset"
    if uscc_check_char(s[:17]) != s[17]:
        return "check_digit"
    if org_code_problem(s[8:17]) is not None:
        return "org_code"
    return None


def is_valid_uscc(s: str) -> bool:
    return isinstance(s, str) and uscc_problem(s) is None


def check_uscc(s: str) -> None:
    _raise_if(uscc_problem(s), "USCC", s)


def make_uscc(authority_and_type: str, region: str, org_body: str) -> str:
    """Build a valid USCC: 2 chars (registering authority + entity type), 6-digit region, 8-char
    organization code body (its check character and the USCC check are computed)."""
    body = authority_and_type + region + org_body + org_code_check_char(org_body)
    return body + uscc_check_char(body)


# Organization code ------------------------------------------------------------------------------


def org_code_check_char(body8: str) -> str:
    """Check character of an 8-character organization code body (``X`` for 10, ``0`` for 11)."""
    if len(body8) != 8 or any(c not in ORG_CODE_CHAR_VALUES for c in body8):
        raise InvalidCode(f"organization code body must be 8 characters of 0-9A-Z: {body8!r}")
    total = sum(ORG_CODE_CHAR_VALUES[c] * w for c, w in zip(body8, ORG_CODE_WEIGHTS, strict=True))
    c = 11 - total % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def org_code_problem(s: str) -> str | None:
    """``None`` if ``s`` is a valid organization code, with or without the hyphen before the check."""
    if len(s) not in (9, 10):
        return "length"
    m = ORG_CODE_PATTERN.fullmatch(s)
    if m is None:
        return "charset"
    return None if org_code_check_char(m.group(1)) == m.group(2) else "check_digit"


def is_valid_org_code(s: str) -> bool:
    return isinstance(s, str) and org_code_problem(s) is None


def check_org_code(s: str) -> None:
    _raise_if(org_code_problem(s), "organization code", s)


# Resident ID ------------------------------------------------------------------------------------


def resident_id_check_char(first17: str) -> str:
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise InvalidCode(f"resident ID body must be 17 digits: {len(first17)} characters given")
    total = sum(int(c) * w for c, w in zip(first17, RESIDENT_ID_WEIGHTS, strict=True))
    return RESIDENT_ID_CHECK_CHARS[total % 11]


def _valid_birth_date(s: str) -> bool:
    try:
        d = date(int(s[0:4]), int(s[4:6]), int(s[6:8]))
    except ValueError:
        return False
    return d.year >= 1900


def resident_id_problem(s: str) -> str | None:
    """``None`` if ``s`` is a valid 18-character resident ID (upper-case ``X``), else the reason."""
    if len(s) != 18:
        return "length"
    if not RESIDENT_ID_PATTERN.fullmatch(s):
        return "charset"
    if not _valid_birth_date(s[6:14]):
        return "birth_date"
    return None if resident_id_check_char(s[:17]) == s[17] else "check_digit"


def is_valid_resident_id(s: str) -> bool:
    return isinstance(s, str) and resident_id_problem(s) is None


def check_resident_id(s: str) -> None:
    _raise_if(resident_id_problem(s), "resident ID", "<masked>")


def make_resident_id(region: str, birth: date, sequence: int) -> str:
    """Build a valid resident ID: region (6 digits), birth date, 3-digit sequence (odd = male)."""
    body = f"{region}{birth:%Y%m%d}{sequence:03d}"
    return body + resident_id_check_char(body)


# Region code ------------------------------------------------------------------------------------


def region_code_problem(s: str) -> str | None:
    """``None`` if ``s`` is a GB/T 2260 code known to :mod:`contracts.regions`."""
    if not is_region_code_format(s):
        return "format"
    return None if is_known_region(s) else "unknown"


def is_valid_region_code(s: str) -> bool:
    return isinstance(s, str) and region_code_problem(s) is None


# ISO/IEC 7064 MOD 37,36 and the license identifier ----------------------------------------------


def _mod37_36_state(data: str) -> int:
    p = 36
    for ch in data:
        v = MOD37_36_CHAR_VALUES.get(ch)
        if v is None:
            raise InvalidCode(f"character {ch!r} is not in 0-9A-Z")
        s = (p + v) % 36 or 36
        p = (2 * s) % 37
    return p


def mod37_36_check_char(data: str) -> str:
    """ISO/IEC 7064 MOD 37,36 check character over ``data`` (characters 0-9A-Z)."""
    return MOD37_36_ALPHABET[(37 - _mod37_36_state(data)) % 36]


def mod37_36_is_valid(data_with_check: str) -> bool:
    if len(data_with_check) < 2:
        return False
    try:
        p = _mod37_36_state(data_with_check[:-1])
    except InvalidCode:
        return False
    v = MOD37_36_CHAR_VALUES.get(data_with_check[-1])
    return v is not None and (p + v) % 36 == 1


@dataclass(frozen=True, slots=True)
class LicenseIdentifier:
    """A parsed GB/T 36904 license identifier (电子证照标识, ZZBS)."""

    type_code: str
    issuer_code: str
    serial: str
    version: int
    check: str

    def __str__(self) -> str:
        parts = (self.type_code, self.issuer_code, self.serial, f"{self.version:03d}", self.check)
        return ".".join((LICENSE_ID_PREFIX, *parts))

    @property
    def defining_authority(self) -> str:
        return self.type_code[:18]


def is_valid_license_type_code(s: str) -> bool:
    """21 characters: the defining authority's USCC + a 3-digit sequence."""
    return (
        isinstance(s, str) and bool(LICENSE_TYPE_CODE_PATTERN.fullmatch(s)) and uscc_problem(s[:18]) is None
    )


def make_license_id(type_code: str, issuer_code: str, serial: str, version: int = 1) -> str:
    """Build a license identifier; ``serial`` is 10 digits (year + 6-digit sequence), version 1..999."""
    if not is_valid_license_type_code(type_code):
        raise InvalidCode(f"license type code must be a USCC + 3 digits: {type_code!r}")
    check_uscc(issuer_code)
    if not LICENSE_SERIAL_PATTERN.fullmatch(serial):
        raise InvalidCode(f"license serial must be 10 digits (year + sequence): {serial!r}")
    if not 1 <= version <= 999:
        raise InvalidCode(f"license version must be 1..999: {version}")
    ver = f"{version:03d}"
    check = mod37_36_check_char(type_code + issuer_code + serial + ver)
    return f"{LICENSE_ID_PREFIX}.{type_code}.{issuer_code}.{serial}.{ver}.{check}"


def license_id_problem(s: str) -> str | None:
    if not isinstance(s, str) or not s.startswith(LICENSE_ID_PREFIX + "."):
        return "prefix"
    parts = s[len(LICENSE_ID_PREFIX) + 1 :].split(".")
    if len(parts) != 5:
        return "structure"
    type_code, issuer, serial, version, check = parts
    if not is_valid_license_type_code(type_code):
        return "type_code"
    if uscc_problem(issuer) is not None:
        return "issuer_code"
    if not LICENSE_SERIAL_PATTERN.fullmatch(serial):
        return "serial"
    if not LICENSE_VERSION_PATTERN.fullmatch(version) or version == "000":
        return "version"
    if len(check) != 1 or not mod37_36_is_valid(type_code + issuer + serial + version + check):
        return "check_digit"
    return None


def is_valid_license_id(s: str) -> bool:
    return license_id_problem(s) is None


def parse_license_id(s: str) -> LicenseIdentifier:
    """Parse and check a license identifier; raises :class:`InvalidCode` naming the failing part."""
    _raise_if(license_id_problem(s), "license identifier", s)
    type_code, issuer, serial, version, check = s[len(LICENSE_ID_PREFIX) + 1 :].split(".")
    return LicenseIdentifier(type_code, issuer, serial, int(version), check)


# Holder / applicant identifiers per 证件类型 -------------------------------------------------------

_OTHER_ID_PATTERNS: Mapping[str, re.Pattern[str]] = MappingProxyType(
    {
        "414": re.compile(r"[A-Z0-9]{5,17}"),  # 普通护照
        "516": re.compile(r"[HM]\d{8}(\d{2})?"),  # 港澳居民来往内地通行证
        "511": re.compile(r"\d{8}(\d{2})?"),  # 台湾居民来往大陆通行证
        "553": re.compile(r"[A-Z0-9]{15}|\d{17}[0-9X]"),  # 外国人永久居留身份证
        "999": re.compile(r"\S{1,50}"),  # 其他
    }
)


def holder_id_problem(code_type: str, value: str) -> str | None:
    """Check an applicant / holder identifier against its code type (CZZTDMLX / applyer_id_type).

    ``111`` resident ID and ``001`` USCC are checked with their check characters; other catalog
    types by shape. Reasons: ``unknown_type`` plus those of the specific validators."""
    if code_type == "111":
        return resident_id_problem(value)
    if code_type == "001":
        return uscc_problem(value)
    pattern = _OTHER_ID_PATTERNS.get(code_type)
    if pattern is None:
        return "unknown_type"
    return None if pattern.fullmatch(value) else "format"
