"""Search (``q``) matches text literally: LIKE's wildcards in the query are not wildcards."""

from __future__ import annotations

from typing import Any

import pytest

from dcops.listing import like_escape

API = "/api/v1/tenancy/agencies"


def test_like_escape() -> None:
    assert like_escape(r"50%_off\now") == r"50\%\_off\\now"


@pytest.mark.parametrize("q, expected", [
    ("_", ["UPT_PASAR"]),
    ("%", ["DISKOP"]),
    ("\\", ["BAPPEDA"]),
    ("kesehatan", ["DINKES"]),
    ("", ["BAPPEDA", "DINKES", "DISKOP", "UPT_PASAR"]),
])
def test_search_treats_wildcards_literally(client: Any, admin: dict[str, str], q: str, expected: list[str]) -> None:
    for code, name in (("DINKES", "Dinas Kesehatan"), ("UPT_PASAR", "UPT Pasar Kota"),
                       ("DISKOP", "Dinas Koperasi 100% UMKM"), ("BAPPEDA", "Bappeda \\ Litbang")):
        assert client.post(API, json={"code": code, "name": name}, headers=admin).status_code == 201

    found = client.get(API, params={"q": q, "ordering": "code"}, headers=admin).json()["data"]

    assert [a["code"] for a in found] == expected
