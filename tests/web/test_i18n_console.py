"""Both languages for every message: page strings, application messages, validation sentences."""

from __future__ import annotations

import re
import string
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from dcops.web.i18n import ID
from dcops.web.messages import PATTERNS, VALIDATION, translate_message, validation_sentence

WEB = Path(__file__).parents[2] / "dcops" / "web"


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_page_string_has_an_indonesian_translation() -> None:
    used: set[str] = set()
    for path in (WEB / "pages").glob("*.py"):
        used |= set(re.findall(r"""\bt\(\s*["']([^"']+)["']\s*\)""", path.read_text()))
    for path in (WEB / "templates").glob("*.html"):
        used |= set(re.findall(r"""\bt\(\s*["']([^"']+)["']\s*\)""", path.read_text()))
    missing = sorted(text for text in used if text not in ID)
    assert not missing, f"no Indonesian for: {missing}"


def test_every_message_pattern_and_validation_sentence_has_both_languages() -> None:
    for english, indonesian in PATTERNS:
        assert indonesian.strip() and english.strip()
        assert _fields(indonesian) <= set(re.compile(english).groupindex), english  # same values in both
    for kind, (english, indonesian) in VALIDATION.items():
        assert english.strip() and indonesian.strip() and english != indonesian or kind == "value_error", kind
        assert _fields(english) == _fields(indonesian), kind


class _Rack(BaseModel):
    name: str = Field(min_length=1, max_length=8, pattern=r"^[a-z0-9-]+$")
    u_height: int = Field(ge=1, le=60)


def test_pydantic_errors_become_plain_sentences_naming_the_field() -> None:
    try:
        _Rack.model_validate({"name": "Rak A!", "u_height": "0"})
    except ValidationError as exc:
        errors = exc.errors()
    idn = [validation_sentence(e, "id") for e in errors]
    eng = [validation_sentence(e, "en") for e in errors]
    assert idn == ["Name berisi karakter yang tidak diizinkan: gunakan huruf kecil, angka dan tanda hubung, "
                   "diawali dan diakhiri huruf atau angka.", "U height minimal 1."]
    assert eng[1] == "U height must be at least 1." and "String should match" not in " ".join(idn + eng)
    assert validation_sentence(errors[1], "id", "Tinggi (U)") == "Tinggi (U) minimal 1."


def test_application_messages_in_indonesian_and_as_they_are_in_english() -> None:
    message = ("provisioning not launched: hypervisor 'hv-01' has no SSH access registered; "
               "run 'dcops hypervisor register'")
    assert translate_message("id", message) == ("penyediaan belum dijalankan: hypervisor 'hv-01' belum punya akses "
                                                "SSH terdaftar; jalankan 'dcops hypervisor register'")
    assert translate_message("en", message) == message
    assert translate_message("id", "something nobody translated") == "something nobody translated"
