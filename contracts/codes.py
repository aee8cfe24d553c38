"""Code lists (代码表) used by the field table, each with its provenance.

``source`` says who fixes the list: ``"standard"`` (a national standard or DOMAIN.md states it),
``"catalog"`` (the provincial catalog's list, as this project uses it; extendable), or
``"project"`` (no standard fixes it: this project's own list, documented here and versioned with
:data:`contracts.fields.SPEC_VERSION`). Codes are strings, also for numeric-looking ones
(``eval_level`` travels as an integer; its codes are compared as ``str(value)``).

Public API::

    CODE_LISTS: Mapping[str, CodeList]     # name -> CodeList(name, label, codes, source, reference)
    code_list(name) -> CodeList            # raises SpecError
    CodeList.codes: Mapping[str, str]      # code -> Chinese label
    CodeList.values() -> tuple[str, ...]
    CodeList.contains(value) -> bool       # str(value) in codes
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from contracts.errors import SpecError

CodeSource = Literal["standard", "catalog", "project"]


@dataclass(frozen=True)
class CodeList:
    name: str
    label: str
    codes: Mapping[str, str]
    source: CodeSource
    reference: str

    def values(self) -> tuple[str, ...]:
        return tuple(self.codes)

    def contains(self, value: Any) -> bool:
        return value is not None and not isinstance(value, bool) and str(value) in self.codes

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "source": self.source,
            "reference": self.reference,
            "codes": dict(self.codes),
        }


def _cl(name: str, label: str, source: CodeSource, reference: str, codes: dict[str, str]) -> CodeList:
    return CodeList(name, label, MappingProxyType(codes), source, reference)


_LISTS = (
    _cl(
        "cd_operation",
        "同步操作类型",
        "standard",
        "DOMAIN.md §5 sync columns: I insert, U update, D delete",
        {"I": "新增", "U": "更新", "D": "删除"},
    ),
    _cl(
        "applyer_type",
        "申请人类型",
        "project",
        "this project's list (provincial platforms differ); natural person vs kinds of organization",
        {
            "1": "自然人",
            "2": "企业法人",
            "3": "事业单位法人",
            "4": "社会组织法人",
            "5": "机关法人",
            "6": "非法人组织(含个体工商户)",
            "9": "其他",
        },
    ),
    _cl(
        "id_type",
        "证件类型",
        "catalog",
        "111 and 001 per DOMAIN.md §3; the others after the provincial catalog's 证件类型 list, as this "
        "project uses it (extend here, never assume only two)",
        {
            "111": "居民身份证",
            "001": "统一社会信用代码",
            "414": "普通护照",
            "516": "港澳居民来往内地通行证",
            "511": "台湾居民来往大陆通行证",
            "553": "外国人永久居留身份证",
            "999": "其他证件",
        },
    ),
    _cl(
        "handle_mode",
        "办理方式",
        "project",
        "this project's list, from the practices of DOMAIN.md §1 (一窗受理, 网上办, 跨域通办, 邮寄)",
        {"1": "窗口办理", "2": "网上办理", "3": "自助终端", "4": "邮寄办理", "5": "跨域通办(异地受理)"},
    ),
    _cl(
        "node_name",
        "办理环节",
        "project",
        "this project's list of step names (the codes are the Chinese names as they travel)",
        {
            "受理": "受理",
            "审查": "审查",
            "踏勘": "现场踏勘",
            "审核": "审核",
            "决定": "决定",
            "办结": "办结",
            "送达": "送达",
        },
    ),
    _cl(
        "node_result",
        "环节结果",
        "project",
        "this project's list",
        {"1": "通过", "2": "不予通过", "3": "补齐补正", "4": "退回"},
    ),
    _cl(
        "procedure_type",
        "特别程序类型",
        "project",
        "this project's list, after DOMAIN.md §6 (hearing, public notice, expert review, site survey)",
        {"1": "听证", "2": "公示", "3": "专家评审", "4": "现场勘验", "5": "检验检测", "9": "其他"},
    ),
    _cl(
        "result_type",
        "办结类型",
        "project",
        "this project's list; only 1 (准予) can end in a license",
        {"1": "准予许可(办结)", "2": "不予许可", "3": "申请人撤回", "4": "终止办理"},
    ),
    _cl(
        "material_type",
        "材料类型",
        "project",
        "this project's list; 4 = 以电子证照代替 (a shared license reused instead of paper)",
        {"1": "原件", "2": "复印件", "3": "电子材料", "4": "电子证照免提交"},
    ),
    _cl(
        "material_state",
        "材料状态",
        "project",
        "this project's list (issue 18): 1 submitted; 2 容缺 accepted as missing with a supply-by date "
        "(补正期限); 3 已补正 supplied later (a later cd_operation U row of the same project_no and "
        "material_name, with a row_guid of its own); 4 an e-license "
        "reference (电子证照免提交, license_ref = its GB/T 36904 identifier) instead of a document",
        {"1": "已提交", "2": "容缺", "3": "已补正", "4": "电子证照"},
    ),
    _cl(
        "use_purpose",
        "用证目的",
        "project",
        "this project's purposes of a use the gateway itself records (the sharing API's purposes are "
        "the codes of each client's grant): 办事 = a license reused at intake instead of a document",
        {"办事": "办理政务服务事项(电子证照免提交)"},
    ),
    _cl(
        "eval_level",
        "评价等级",
        "standard",
        "GB/T 39735 好差评: 5 非常满意 … 1 非常不满意 (travels as an integer)",
        {"5": "非常满意", "4": "满意", "3": "基本满意", "2": "不满意", "1": "非常不满意"},
    ),
    _cl(
        "channel",
        "评价渠道",
        "project",
        "this project's codes for the channels GB/T 39735 names",
        {
            "1": "政务服务网(PC)",
            "2": "移动端(APP/小程序)",
            "3": "窗口评价器",
            "4": "自助终端",
            "5": "12345热线",
            "6": "短信",
        },
    ),
    _cl(
        "license_status",
        "证照状态",
        "standard",
        "DOMAIN.md §3 证照状态",
        {
            "01": "有效",
            "02": "暂扣",
            "03": "撤销",
            "04": "注销",
            "05": "失效",
            "06": "办理转出",
            "07": "吊销",
            "99": "其他",
        },
    ),
    _cl(
        "license_operation",
        "证照操作类型",
        "standard",
        "DOMAIN.md §3 operation types",
        {
            "01": "新发",
            "02": "延续",
            "03": "暂扣",
            "04": "过期失效",
            "05": "注销",
            "06": "暂扣发还",
            "07": "其他",
            "08": "转入",
            "09": "变更",
            "10": "取消转出",
        },
    ),
)

CODE_LISTS: Mapping[str, CodeList] = MappingProxyType({c.name: c for c in _LISTS})


def code_list(name: str) -> CodeList:
    try:
        return CODE_LISTS[name]
    except KeyError:
        raise SpecError(f"unknown code list {name!r}; known: {', '.join(CODE_LISTS)}") from None
