"""The demo's consolidation: agency applications in every state, three waves over three fiscal years.

Called by :func:`dcops.demo.build.build_demo`; idempotent (every object is found by its natural key first) and
it never changes an object it did not create. Nothing is committed here: the demo commits once.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlmodel import Session, col

from dcops.auth.actor import Actor
from dcops.consolidation.models import AgencyApplication, ApplicationEvent, ApplicationVM, MigrationWave
from dcops.consolidation.service import applications, waves
from dcops.dcim.service import device_types, devices, manufacturers, sites
from dcops.tenancy.models import Agency
from dcops.virtualization.models import VirtualMachine

SERVER_TYPE = {"slug": "lenovo-st550", "model": "ThinkSystem ST550 (tower)", "u_height": 4, "max_power_w": 750,
               "cpu_sockets": 1, "cpu_cores": 12, "cpu_threads": 24, "ram_gib": 64, "storage_tb": 4.0,
               "price_idr": 95_000_000, "is_full_depth": True}


def _waves(today: date) -> list[tuple[str, int, date, date, str]]:
    y = today.year
    return [
        ("Gelombang 1", y + 1, date(y + 1, 2, 1), date(y + 1, 6, 30), "layanan publik prioritas"),
        ("Gelombang 2", y + 2, date(y + 2, 2, 1), date(y + 2, 8, 31), "administrasi pemerintahan dan RSUD"),
        ("Gelombang 3", y + 3, date(y + 3, 2, 1), date(y + 3, 9, 30), "dinas kecil dan kecamatan"),
    ]


# (agency, application, purpose, criticality, classification, status, wave number, (vCPU, RAM, disk, VMs))
OUTSIDE = [
    ("DINKES", "e-Puskesmas", "public-service", "high", "confidential", "planned", 1, (16, 64, 800, 2)),
    ("DPMPTSP", "SiCantik PTSP", "public-service", "high", "internal", "planned", 1, (8, 32, 400, 2)),
    ("BAPPEDA", "e-Planning", "administration", "medium", "internal", "planned", 1, (8, 32, 300, 1)),
    ("BAPENDA", "e-PAD Pajak Daerah", "public-service", "high", "confidential", "planned", 1, (8, 48, 500, 2)),
    ("RSUD", "PACS Radiologi", "public-service", "critical", "secret", "planned", 1, (24, 96, 3000, 2)),
    ("DISDIK", "Rapor Digital", "public-service", "medium", "internal", "planned", 2, (16, 64, 1000, 2)),
    ("DISHUB", "SIM Terminal", "public-service", "medium", "internal", "planned", 2, (8, 32, 300, 1)),
    ("DPUPR", "SIMBG", "public-service", "medium", "internal", "planned", 2, (8, 32, 500, 1)),
    ("DINSOS", "Data Kesejahteraan Sosial", "public-service", "high", "confidential", "planned", 2,
     (16, 64, 800, 2)),
    ("BKPSDM", "SIMPEG", "administration", "high", "confidential", "planned", 2, (16, 64, 600, 2)),
    ("RSUD", "SIMRS Rawat Inap", "public-service", "critical", "secret", "planned", 2, (48, 384, 2000, 4)),
    ("SETDA", "e-Office", "administration", "medium", "internal", "planned", 2, (16, 128, 800, 2)),
    ("DISKOMINFO", "Smart City CCTV", "public-service", "high", "internal", "planned", 2, (64, 768, 8000, 4)),
    ("DLH", "SIPLAH", "public-service", "low", "public", "planned", 3, (4, 16, 200, 1)),
    ("DISPERTAN", "Simluhtan Daerah", "administration", "low", "internal", "planned", 3, (4, 16, 200, 1)),
    ("DISNAKER", "Bursa Kerja Online", "public-service", "medium", "public", "planned", 3, (4, 16, 200, 1)),
    ("BPBD", "Peta Rawan Bencana", "public-service", "high", "public", "planned", 3, (8, 32, 300, 1)),
    ("DISDUKCAPIL", "Arsip Digital Kependudukan", "administration", "high", "secret", "planned", 3,
     (16, 128, 6000, 2)),
    ("KEC-KOTA", "SIMDES Kecamatan", "administration", "low", "internal", "planned", 3, (4, 8, 100, 1)),
    ("DAMKAR", "Lapor Kebakaran", "public-service", "high", "public", "outside", 0, (4, 8, 100, 1)),
    ("DISPORA", "Sistem Informasi Kepemudaan", "administration", "low", "public", "outside", 0, (2, 4, 100, 1)),
    ("SATPOL-PP", "e-Perda Penegakan", "administration", "medium", "internal", "outside", 0, (4, 8, 100, 1)),
    ("KEL-PASARBARU", "Profil Kelurahan", "public-service", "low", "public", "outside", 0, (2, 4, 50, 1)),
    ("KEL-SUKAJADI", "Profil Kelurahan", "public-service", "low", "public", "outside", 0, (2, 4, 50, 1)),
]
# applications already in the data center whose agency server was switched off
RETIRED = {"DISDUKCAPIL": "SIAK Terpusat", "BPKAD": "SIPKD Aset", "SETDA": "JDIH"}
NATIONAL = [("BPKAD", "SIPD (Kemendagri)"), ("SETDA", "SRIKANDI (ANRI)"), ("KEL-KAMPUNGBARU", "SIPD Kelurahan")]


def build(session: Session, actor: Actor, today: date | None = None) -> int:
    """Create whatever of the demo's consolidation is missing; return how many objects it created."""
    today = today or date.today()
    created = 0
    agencies = {a.code: a for a in session.execute(select(Agency)).scalars()}
    wave_ids: dict[int, int] = {}
    for n, (name, year, starts, ends, note) in enumerate(_waves(today), start=1):
        wave = waves.get_by(session, actor=actor, name=name)
        if wave is None:
            wave, _ = waves.create(session, actor=actor, commit=False, data={
                "name": name, "fiscal_year": year, "starts_on": starts, "ends_on": ends, "description": note})
            created += 1
        assert wave.id is not None
        wave_ids[n] = wave.id
    vendor = manufacturers.get_by(session, actor=actor, name="Lenovo")
    if vendor is None:
        vendor, _ = manufacturers.create(session, actor=actor, commit=False, data={"name": "Lenovo"})
        created += 1
    dtype = device_types.get_by(session, actor=actor, slug=SERVER_TYPE["slug"])
    if dtype is None:
        dtype, _ = device_types.create(session, actor=actor, commit=False,
                                       data=SERVER_TYPE | {"manufacturer_id": vendor.id})
        created += 1

    def server(code: str, n: int, running: bool) -> int:
        nonlocal created
        agency = agencies[code]
        site_name = f"Ruang server {code}"
        site = sites.get_by(session, actor=actor, name=site_name)
        if site is None:
            site, _ = sites.create(session, actor=actor, commit=False, data={
                "name": site_name, "agency_id": agency.id, "description": f"ruang server kantor {agency.name}"})
            created += 1
        name = f"srv-{code.lower()}-{n:02d}"
        device = devices.get_by(session, actor=actor, name=name)
        if device is None:
            device, _ = devices.create(session, actor=actor, commit=False, data={
                "name": name, "device_type_id": dtype.id, "role": "server", "site_id": site.id,
                "owner_agency_id": agency.id, "serial": f"DEMO-{name.upper()}",
                "status": "active" if running else "decommissioned", "description": f"server milik {code}"})
            created += 1
        assert device.id is not None
        return device.id

    def app(code: str, name: str, values: dict[str, object], events: list[tuple[str | None, str, str]]) -> None:
        nonlocal created
        agency = agencies.get(code)
        if agency is None or applications.get_by(session, actor=actor, agency_id=agency.id, name=name):
            return
        row, _ = applications.create(session, actor=actor, commit=False, data={
            "agency_id": agency.id, "name": name, "owner_contact": f"Admin TI {code}",
            "url": f"https://{name.lower().split()[0].strip('()')}.{code.lower()}.example.go.id"} | values)
        assert row.id is not None
        for before, to, note in events:
            session.add(ApplicationEvent(application_id=row.id, username=actor.username,
                                         from_status=before, to_status=to, note=note))
        created += 1
        if values.get("status") in ("in_dc", "retired"):
            for vm_id in session.execute(select(col(VirtualMachine.id)).where(
                    col(VirtualMachine.agency_id) == agency.id).order_by(col(VirtualMachine.id))).scalars():
                if session.get(ApplicationVM, vm_id) is None:
                    session.add(ApplicationVM(vm_id=vm_id, application_id=row.id))
            session.flush()

    for index, (code, name, purpose, crit, cls, status, wave_no, (v, r, d, n)) in enumerate(OUTSIDE):
        count = sum(1 for c, *_ in OUTSIDE[:index] if c == code)
        device_id = server(code, count + 1, True)
        history: list[tuple[str | None, str, str]] = [(None, "outside", "recorded")]
        if status == "planned":
            history.append(("outside", "planned", f"Gelombang {wave_no}"))
        app(code, name, {"purpose": purpose, "criticality": crit, "data_classification": cls,
                         "hosting": "agency-server", "server_device_id": device_id, "status": status,
                         "wave_id": wave_ids.get(wave_no), "est_vcpus": v, "est_ram_gib": r, "est_disk_gib": d,
                         "est_vm_count": n}, history)
    with_vms = {code for (code,) in session.execute(select(col(Agency.code)).join(
        VirtualMachine, col(VirtualMachine.agency_id) == col(Agency.id)).distinct())}
    for code in sorted(with_vms):
        if code in RETIRED:
            device_id = server(code, 9, False)
            app(code, RETIRED[code], {"hosting": "dc-vms", "status": "retired", "server_device_id": device_id,
                                      "criticality": "critical", "data_classification": "confidential"},
                [(None, "outside", "recorded"), ("outside", "planned", "pilot"), ("planned", "migrating", "pilot"),
                 ("migrating", "in_dc", "pilot"), ("in_dc", "retired", "server kantor dimatikan")])
        else:
            app(code, f"Portal {code}", {"hosting": "dc-vms", "status": "in_dc"}, [(None, "in_dc", "recorded")])
    for code, name in NATIONAL:
        app(code, name, {"hosting": "national", "status": "in_dc", "purpose": "administration"},
            [(None, "in_dc", "national shared application")])
    session.flush()
    return created


def wave_of(session: Session, name: str) -> MigrationWave | None:
    """Return the demo wave named ``name`` (tests and the CLI)."""
    return session.execute(select(MigrationWave).where(col(MigrationWave.name) == name)).scalars().first()


def application(session: Session, code: str, name: str) -> AgencyApplication | None:
    """Return agency ``code``'s application ``name``."""
    return session.execute(
        select(AgencyApplication).join(Agency, col(Agency.id) == col(AgencyApplication.agency_id))
        .where(col(Agency.code) == code, col(AgencyApplication.name) == name)).scalars().first()
