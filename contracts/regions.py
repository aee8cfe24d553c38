"""GB/T 2260 administrative division codes (行政区划代码) this project knows.

Not the whole national table: every province-level division, the cities and counties of the demo
jurisdictions (DOMAIN.md §1) and a few their citizens come from. ``REGIONS`` maps code → name;
``DEMO_JURISDICTIONS`` lists the county-level service centers of the demo. Extending coverage is a
data change here (add lines), never a code change elsewhere.

Public API::

    REGIONS: Mapping[str, str]                  # code -> name
    DEMO_JURISDICTIONS: tuple[str, ...]         # 大邑县 天全县 达州市 西林县 邵阳县
    is_region_code_format(code: str) -> bool    # 6 digits, province part known
    is_known_region(code: str) -> bool          # in REGIONS
    region_level(code: str) -> "province" | "city" | "county"
    region_chain(code: str) -> tuple[str, ...]  # province, city, county codes that exist in REGIONS
    region_full_name(code: str) -> str          # e.g. 四川省成都市大邑县
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal

PROVINCES: Mapping[str, str] = MappingProxyType(
    {
        "110000": "北京市",
        "120000": "天津市",
        "130000": "河北省",
        "140000": "山西省",
        "150000": "内蒙古自治区",
        "210000": "辽宁省",
        "220000": "吉林省",
        "230000": "黑龙江省",
        "310000": "上海市",
        "320000": "江苏省",
        "330000": "浙江省",
        "340000": "安徽省",
        "350000": "福建省",
        "360000": "江西省",
        "370000": "山东省",
        "410000": "河南省",
        "420000": "湖北省",
        "430000": "湖南省",
        "440000": "广东省",
        "450000": "广西壮族自治区",
        "460000": "海南省",
        "500000": "重庆市",
        "510000": "四川省",
        "520000": "贵州省",
        "530000": "云南省",
        "540000": "西藏自治区",
        "610000": "陕西省",
        "620000": "甘肃省",
        "630000": "青海省",
        "640000": "宁夏回族自治区",
        "650000": "新疆维吾尔自治区",
        "710000": "台湾省",
        "810000": "香港特别行政区",
        "820000": "澳门特别行政区",
    }
)

_CITIES_AND_COUNTIES: dict[str, str] = {
    "110100": "市辖区",
    "110105": "朝阳区",
    "350100": "福州市",
    "510100": "成都市",
    "510104": "锦江区",
    "510129": "大邑县",
    "511700": "达州市",
    "511702": "通川区",
    "511722": "宣汉县",
    "511800": "雅安市",
    "511802": "雨城区",
    "511825": "天全县",
    "451000": "百色市",
    "451002": "右江区",
    "451030": "西林县",
    "430500": "邵阳市",
    "430502": "双清区",
    "430523": "邵阳县",
}

REGIONS: Mapping[str, str] = MappingProxyType({**PROVINCES, **_CITIES_AND_COUNTIES})

DEMO_JURISDICTIONS: tuple[str, ...] = ("510129", "511825", "511700", "451030", "430523")

_SIX_DIGITS = re.compile(r"\d{6}")


def is_region_code_format(code: str) -> bool:
    """Six digits whose province part is a province-level division."""
    return bool(_SIX_DIGITS.fullmatch(code)) and (code[:2] + "0000") in PROVINCES


def is_known_region(code: str) -> bool:
    """The code is a division this project knows (see module docstring)."""
    return code in REGIONS


def region_level(code: str) -> Literal["province", "city", "county"]:
    if code.endswith("0000"):
        return "province"
    if code.endswith("00"):
        return "city"
    return "county"


def region_chain(code: str) -> tuple[str, ...]:
    """Province, city and county codes above and including ``code`` that exist in ``REGIONS``."""
    candidates = (code[:2] + "0000", code[:4] + "00", code)
    out: list[str] = []
    for c in candidates:
        if c in REGIONS and c not in out:
            out.append(c)
    return tuple(out)


def region_full_name(code: str) -> str:
    """E.g. ``510129`` → ``四川省成都市大邑县``; ``511700`` → ``四川省达州市``."""
    return "".join(REGIONS[c] for c in region_chain(code) if REGIONS[c] != "市辖区")
