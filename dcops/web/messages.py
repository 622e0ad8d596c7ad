"""Application and validation messages in the visitor's language.

Services raise English messages with values in them ("capacity request 3 is approved: ..."). The
console shows them in Indonesian by matching them against ``PATTERNS`` (English regular expression ->
Indonesian template with the same named groups); pydantic's validation errors are turned into plain
sentences from their error *type* (``string_pattern_mismatch``, ``missing``...) naming the field and
what to fix. A message no pattern knows is shown as it is (English), never hidden.
"""

from __future__ import annotations

import re
from typing import Any

# English message (regular expression, whole message) -> Indonesian, with the same named groups
PATTERNS: list[tuple[str, str]] = [
    (r"provisioning not launched: (?P<rest>.+)", "penyediaan belum dijalankan: {rest}"),
    (r"hypervisor '(?P<host>[^']+)' has no SSH access registered; run 'dcops hypervisor register'",
     "hypervisor '{host}' belum punya akses SSH terdaftar; jalankan 'dcops hypervisor register'"),
    (r"provisioning is manual \(DCOPS_AUTO_PROVISION=false\): launch it with '(?P<cmd>[^']+)' or POST (?P<url>\S+)",
     "penyediaan diatur manual (DCOPS_AUTO_PROVISION=false): jalankan dengan tombol Sediakan, '{cmd}' atau "
     "POST {url}"),
    (r"agency (?P<code>\S+) has no tenant prefix: the VMs get no IP address; add one in IPAM",
     "perangkat daerah {code} belum punya prefiks tenant: VM tidak mendapat alamat IP; tambahkan di IPAM"),
    (r"capacity request (?P<id>\d+) is (?P<status>\w+): only an approved request is provisioned "
     r"\(a failed VM is retried from its job\)",
     "permintaan kapasitas {id} berstatus {status}: hanya permintaan yang disetujui yang dapat disediakan "
     "(VM yang gagal diulang dari pekerjaannya)"),
    (r"capacity request (?P<id>\d+) is (?P<status>\w+): it cannot become (?P<to>\w+) \(allowed: (?P<allowed>.+)\)",
     "permintaan kapasitas {id} berstatus {status}: tidak dapat menjadi {to} (yang diizinkan: {allowed})"),
    (r"capacity request (?P<id>\d+) cannot be approved now: (?P<rest>.+)",
     "permintaan kapasitas {id} belum dapat disetujui sekarang: {rest}"),
    (r"VM '(?P<vm>[^']+)' already has job (?P<job>\d+) \((?P<action>\w+), (?P<status>\w+)\); wait for it or cancel it",
     "VM '{vm}' sudah punya pekerjaan {job} ({action}, {status}); tunggu atau batalkan"),
    (r"VM '(?P<vm>[^']+)' is not placed on a host", "VM '{vm}' belum ditempatkan di host"),
    (r"(?P<label>[\w ]+) (?P<id>\d+) not found", "{label} {id} tidak ditemukan"),
    (r"cannot filter (?P<what>[\w ]+) by '(?P<name>[^']+)'; filter by one of: (?P<valid>.+)",
     "{what} tidak dapat disaring menurut '{name}'; saring menurut salah satu dari: {valid}"),
    (r"Your role may not open this page\.", "Peran Anda tidak boleh membuka halaman ini."),
    (r"role '(?P<role>[^']+)' may not open this page", "peran {role} tidak boleh membuka halaman ini"),
    (r"'(?P<v>[^']*)' is not an IPv4 or IPv6 address", "'{v}' bukan alamat IPv4 atau IPv6"),
    (r"(?P<field>[\w ]+) cannot be null", "{field} tidak boleh kosong"),
    (r"'(?P<v>[^']*)' is not an object id", "'{v}' bukan id objek"),
    # budget plan notes
    (r"RAM and disk in GiB \(2\^30 bytes\); server storage is sold in decimal TB: 1 TB = 931\.32 GiB",
     "RAM dan disk dalam GiB (2^30 bita); penyimpanan server dijual dalam TB desimal: 1 TB = 931,32 GiB"),
    (r"HA reserve N\+(?P<n>\d+): the load must fit after losing the largest host\(s\), per resource",
     "Cadangan HA N+{n}: beban harus tetap muat setelah kehilangan host terbesar, per sumber daya"),
    (r"fiscal year = calendar year; year 0 \(the baseline\) is the current demand",
     "tahun anggaran = tahun kalender; tahun 0 (dasar) adalah kebutuhan saat ini"),
    (r"new servers are never sold again: a year's purchase is the increase over the year before",
     "server baru tidak pernah dijual kembali: pembelian suatu tahun adalah kenaikan dari tahun sebelumnya"),
    (r"power unknown for (?P<names>.+): their device type has no power figure, so the kW figures and the power "
     r"check leave them out",
     "daya tidak diketahui untuk {names}: tipe perangkatnya tidak punya angka daya, jadi angka kW dan pemeriksaan "
     "daya tidak memperhitungkannya"),
    (r"planned migrations: (?P<n>\d+) application estimate\(s\) of (?P<a>\d+) agencies join the demand in their "
     r"wave's fiscal year \((?P<years>[^)]*)\) and stay, not grown",
     "migrasi terencana: {n} perkiraan aplikasi dari {a} perangkat daerah masuk ke kebutuhan pada tahun anggaran "
     "gelombangnya ({years}) dan tetap, tanpa pertumbuhan"),
    # alert summaries (the demo's and the common rules')
    (r"(?P<d>\S+) runs on battery", "{d} berjalan dengan baterai"),
    (r"(?P<d>\S+) reports serial (?P<v>\S+), inventory says (?P<e>\S+)",
     "{d} melaporkan nomor seri {v}, inventaris mencatat {e}"),
    (r"(?P<d>\S+) rebooted: its uptime went back to (?P<v>\S+) s",
     "{d} menyala ulang: uptime-nya kembali ke {v} d"),
    (r"(?P<d>\S+) port (?P<p>\S+) is down", "{d} port {p} mati"),
]
_COMPILED = [(re.compile(f"^{en}$"), idn) for en, idn in PATTERNS]


WORDS = frozenset({"role", "status", "to", "action"})  # groups holding a status or role name: said in Indonesian


def _value(group: str, value: str) -> str:
    if group not in WORDS:
        return value
    from dcops.web.i18n import ID

    return ID.get(value, value)


def translate_message(lang: str, message: str) -> str:
    """``message`` in ``lang`` (Indonesian by pattern; English as it is); parts separated by '; ' each."""
    if lang != "id":
        return message
    for pattern, template in _COMPILED:
        found = pattern.match(message)
        if found:
            groups = {k: translate_message(lang, v) if k == "rest" else _value(k, v)
                      for k, v in found.groupdict().items()}
            return template.format(**groups)
    if "; " in message:
        return "; ".join(translate_message(lang, part) for part in message.split("; "))
    return message


# pydantic error type -> (English, Indonesian) sentence; {field} is the field's label, {ctx...} its limits
VALIDATION: dict[str, tuple[str, str]] = {
    "missing": ("{field} is required.", "{field} wajib diisi."),
    "string_too_short": ("{field} needs at least {min_length} characters.", "{field} minimal {min_length} karakter."),
    "string_too_long": ("{field} may have at most {max_length} characters.",
                        "{field} paling banyak {max_length} karakter."),
    "string_pattern_mismatch": ("{field} has characters that are not allowed: use lower-case letters, digits and "
                                "hyphens, starting and ending with a letter or digit.",
                                "{field} berisi karakter yang tidak diizinkan: gunakan huruf kecil, angka dan "
                                "tanda hubung, diawali dan diakhiri huruf atau angka."),
    "int_parsing": ("{field} must be a whole number.", "{field} harus bilangan bulat."),
    "int_type": ("{field} must be a whole number.", "{field} harus bilangan bulat."),
    "float_parsing": ("{field} must be a number.", "{field} harus berupa angka."),
    "float_type": ("{field} must be a number.", "{field} harus berupa angka."),
    "greater_than_equal": ("{field} must be at least {ge}.", "{field} minimal {ge}."),
    "greater_than": ("{field} must be more than {gt}.", "{field} harus lebih dari {gt}."),
    "less_than_equal": ("{field} may be at most {le}.", "{field} paling besar {le}."),
    "less_than": ("{field} must be less than {lt}.", "{field} harus kurang dari {lt}."),
    "enum": ("{field} must be one of: {expected}.", "{field} harus salah satu dari: {expected}."),
    "literal_error": ("{field} must be one of: {expected}.", "{field} harus salah satu dari: {expected}."),
    "bool_parsing": ("{field} must be yes or no.", "{field} harus ya atau tidak."),
    "value_error": ("{field}: {msg}", "{field}: {msg}"),
    "ip_any_address": ("{field} must be an IP address such as 10.0.0.5.",
                       "{field} harus alamat IP, misalnya 10.0.0.5."),
    "ip_v4_address": ("{field} must be an IPv4 address such as 10.0.0.5.",
                      "{field} harus alamat IPv4, misalnya 10.0.0.5."),
    "value_error.email": ("{field} must be an e-mail address.", "{field} harus alamat e-mail."),
    "date_from_datetime_parsing": ("{field} must be a date such as 2026-12-31.",
                                   "{field} harus tanggal, misalnya 2026-12-31."),
    "datetime_from_date_parsing": ("{field} must be a date and time.", "{field} harus tanggal dan jam."),
}
GENERIC = ("{field} is not valid: {msg}.", "{field} tidak valid: {msg}.")


def validation_sentence(error: dict[str, Any], lang: str, label: str | None = None) -> str:
    """One pydantic error as a plain sentence naming the field and what to fix."""
    loc = [str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path", "form")]
    field = label or (loc[-1].replace("_", " ") if loc else ("input" if lang == "en" else "isian"))
    ctx = dict(error.get("ctx") or {})
    en, idn = VALIDATION.get(str(error.get("type")), GENERIC)
    template = idn if lang == "id" else en
    field = field.replace("_", " ")
    message = str(error.get("msg", "")).removeprefix("Value error, ")
    values = {"field": field, "msg": translate_message(lang, message), **{
        k: str(v) for k, v in ctx.items()}}
    try:
        sentence = template.format(**values)
    except (KeyError, IndexError):
        sentence = (GENERIC[1] if lang == "id" else GENERIC[0]).format(**values)
    return sentence[:1].upper() + sentence[1:]


def say(message: Any, t: Any, label: str | None = None) -> str:
    """A form's error in the language of translator ``t``: a validation sentence, or a translated message."""
    lang = getattr(t, "lang", "id")
    error = getattr(message, "error", None)
    if error is not None:
        return validation_sentence(error, lang, t(label) if label else None)
    return translate_message(lang, str(message))
