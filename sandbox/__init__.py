"""Simulated peers for demo, tests and benchmarks: the provincial SOAP platform, county window
REST feeds and department REST systems, with fault injection, and the synthetic case files of
``tongban cases generate``. Imports contracts only: a peer must never share our client code.

The names in ``__all__`` are the stable surface (pinned by ``tests/sandbox/test_public_api.py``);
each loads its module on first use, so ``import sandbox`` pulls in neither spyne nor waitress.
Modules::

    sandbox.generator   synthetic county case files with planted defects (write_case_files, held_children)
    sandbox.province    the provincial SOAP platform (ProvinceStore, make_province_app)
    sandbox.exchange    the province's exchange tables (前置库) instead of SOAP (ExchangeProvince)
    sandbox.countyfeed  county window REST feeds (CountyFeed; one in another vendor's layout)
    sandbox.deptsystem  a department system: approval data, license status changes (DepartmentSystem)
    sandbox.data        deterministic rows addressable by index (case_row, case_rows)
    sandbox.faults      fault injection (FaultPlan, FaultInjector, KINDS)
    sandbox.server      a WSGI app on loopback (start -> RunningServer)
    sandbox.runner      ``tongban sandbox serve`` (serve)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from contracts.lazy import lazy_getattr

if TYPE_CHECKING:
    from sandbox.countyfeed import CountyFeed
    from sandbox.data import case_row, case_rows
    from sandbox.deptsystem import DepartmentSystem
    from sandbox.exchange import ExchangeProvince
    from sandbox.faults import KINDS, FaultInjector, FaultPlan
    from sandbox.generator import (
        DEFECT_KINDS,
        CaseGenerator,
        GeneratorOptions,
        approvals_path,
        defects_path,
        held_children,
        write_case_files,
    )
    from sandbox.province import ProvinceStore, make_province_app
    from sandbox.runner import serve
    from sandbox.server import RunningServer, start

# name -> the module that defines it (PEP 562: loaded on first use)
_LAZY = {
    "CountyFeed": "sandbox.countyfeed",
    **dict.fromkeys(("case_row", "case_rows"), "sandbox.data"),
    "DepartmentSystem": "sandbox.deptsystem",
    "ExchangeProvince": "sandbox.exchange",
    **dict.fromkeys(("KINDS", "FaultInjector", "FaultPlan"), "sandbox.faults"),
    **dict.fromkeys(
        (
            "DEFECT_KINDS",
            "CaseGenerator",
            "GeneratorOptions",
            "approvals_path",
            "defects_path",
            "held_children",
            "write_case_files",
        ),
        "sandbox.generator",
    ),
    **dict.fromkeys(("ProvinceStore", "make_province_app"), "sandbox.province"),
    "serve": "sandbox.runner",
    **dict.fromkeys(("RunningServer", "start"), "sandbox.server"),
}


__getattr__ = lazy_getattr(__name__, _LAZY)


__all__ = [
    "DEFECT_KINDS",
    "KINDS",
    "CaseGenerator",
    "CountyFeed",
    "DepartmentSystem",
    "ExchangeProvince",
    "FaultInjector",
    "FaultPlan",
    "GeneratorOptions",
    "ProvinceStore",
    "RunningServer",
    "approvals_path",
    "case_row",
    "case_rows",
    "defects_path",
    "held_children",
    "make_province_app",
    "serve",
    "start",
    "write_case_files",
]
