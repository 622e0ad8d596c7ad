"""The demo data center: a provincial Diskominfo with a main site, a DR site and about 50 agencies.

Plain data, read by :mod:`dcops.demo.build`. Prices are realistic 2026 e-catalogue figures in Rupiah.
"""

from __future__ import annotations

from typing import Any

MAIN_SITE = "DC Utama Diskominfo"
DR_SITE = "DRC Diskominfo"

SITES = [
    {"name": MAIN_SITE, "description": "Pusat data utama, Gedung Diskominfo lantai 3"},
    {"name": DR_SITE, "description": "Disaster recovery center, Kantor BPBD"},
]
ROOMS = [(MAIN_SITE, "Ruang Server 1"), (DR_SITE, "Ruang DRC")]

# (site, room, rack, power budget W)
RACKS = [
    (MAIN_SITE, "Ruang Server 1", "A01", 5000),  # network and security
    (MAIN_SITE, "Ruang Server 1", "A02", 7000),  # compute
    (MAIN_SITE, "Ruang Server 1", "A03", 7000),  # compute
    (MAIN_SITE, "Ruang Server 1", "A04", 7000),  # compute, room to grow
    (MAIN_SITE, "Ruang Server 1", "A05", 5000),  # storage
    (MAIN_SITE, "Ruang Server 1", "A06", 3000),  # UPS
    (DR_SITE, "Ruang DRC", "D01", 6000),
    (DR_SITE, "Ruang DRC", "D02", 3000),
]

MANUFACTURERS = ["Dell", "Huawei", "Cisco", "Fortinet", "APC", "Eaton"]

# slug -> fields (manufacturer by name)
DEVICE_TYPES: dict[str, dict[str, Any]] = {
    "dell-poweredge-r750": dict(manufacturer="Dell", model="PowerEdge R750", u_height=2, max_power_w=1100,
                                cpu_sockets=2, cpu_cores=56, cpu_threads=112, ram_gib=512, storage_tb=7.68,
                                price_idr=425_000_000, part_number="R750-2S28C"),
    "huawei-2288h-v6": dict(manufacturer="Huawei", model="FusionServer 2288H V6", u_height=2, max_power_w=900,
                            cpu_sockets=2, cpu_cores=64, cpu_threads=128, ram_gib=512, storage_tb=8.0,
                            price_idr=385_000_000),
    "dell-powervault-me5024": dict(manufacturer="Dell", model="PowerVault ME5024", u_height=2, max_power_w=580,
                                   storage_tb=92.16, price_idr=650_000_000),
    "cisco-c9500-48y4c": dict(manufacturer="Cisco", model="Catalyst 9500-48Y4C", u_height=1, max_power_w=650,
                              price_idr=455_000_000),
    "cisco-c9300-48t": dict(manufacturer="Cisco", model="Catalyst 9300-48T", u_height=1, max_power_w=350,
                            price_idr=125_000_000),
    "fortigate-600f": dict(manufacturer="Fortinet", model="FortiGate 600F", u_height=1, max_power_w=250,
                           price_idr=360_000_000),
    "apc-srt10krmxli": dict(manufacturer="APC", model="Smart-UPS SRT 10000", u_height=6, max_power_w=400,
                            price_idr=155_000_000, is_full_depth=True),
    "eaton-9px-6k": dict(manufacturer="Eaton", model="9PX 6000i", u_height=3, max_power_w=300,
                         price_idr=95_000_000),
    "apc-ap8959": dict(manufacturer="APC", model="Rack PDU 2G AP8959", u_height=0, max_power_w=0,
                       is_full_depth=False, price_idr=28_000_000),
}

CLUSTERS: list[dict[str, Any]] = [
    {"name": "KLASTER-UTAMA", "site": MAIN_SITE, "vcpu_ratio": 4.0, "ram_ratio": 1.0, "disk_ratio": 1.0,
     "ha_reserve_hosts": 1, "description": "Klaster hypervisor KVM utama"},
    {"name": "KLASTER-DRC", "site": DR_SITE, "vcpu_ratio": 4.0, "ram_ratio": 1.0, "disk_ratio": 1.0,
     "ha_reserve_hosts": 1, "description": "Klaster pemulihan bencana"},
]

# (name, type slug, role, site, rack, position, cluster, mgmt address)
DEVICES = [
    ("core-sw-01", "cisco-c9500-48y4c", "switch", MAIN_SITE, "A01", 42, None, "10.0.0.2"),
    ("core-sw-02", "cisco-c9500-48y4c", "switch", MAIN_SITE, "A01", 41, None, "10.0.0.3"),
    ("fw-01", "fortigate-600f", "firewall", MAIN_SITE, "A01", 39, None, "10.0.0.4"),
    ("fw-02", "fortigate-600f", "firewall", MAIN_SITE, "A01", 38, None, "10.0.0.5"),
    ("pdu-a01", "apc-ap8959", "pdu", MAIN_SITE, "A01", None, None, "10.0.0.31"),
    ("tor-a02", "cisco-c9300-48t", "switch", MAIN_SITE, "A02", 42, None, "10.0.0.11"),
    ("hv-utama-01", "dell-poweredge-r750", "hypervisor", MAIN_SITE, "A02", 1, "KLASTER-UTAMA", "10.0.1.11"),
    ("hv-utama-02", "dell-poweredge-r750", "hypervisor", MAIN_SITE, "A02", 3, "KLASTER-UTAMA", "10.0.1.12"),
    ("hv-utama-03", "dell-poweredge-r750", "hypervisor", MAIN_SITE, "A02", 5, "KLASTER-UTAMA", "10.0.1.13"),
    ("pdu-a02", "apc-ap8959", "pdu", MAIN_SITE, "A02", None, None, "10.0.0.32"),
    ("tor-a03", "cisco-c9300-48t", "switch", MAIN_SITE, "A03", 42, None, "10.0.0.12"),
    ("hv-utama-04", "huawei-2288h-v6", "hypervisor", MAIN_SITE, "A03", 1, "KLASTER-UTAMA", "10.0.1.14"),
    ("hv-utama-05", "huawei-2288h-v6", "hypervisor", MAIN_SITE, "A03", 3, "KLASTER-UTAMA", "10.0.1.15"),
    ("hv-utama-06", "huawei-2288h-v6", "hypervisor", MAIN_SITE, "A03", 5, "KLASTER-UTAMA", "10.0.1.16"),
    ("pdu-a03", "apc-ap8959", "pdu", MAIN_SITE, "A03", None, None, "10.0.0.33"),
    ("tor-a04", "cisco-c9300-48t", "switch", MAIN_SITE, "A04", 42, None, "10.0.0.13"),
    ("stor-01", "dell-powervault-me5024", "storage", MAIN_SITE, "A05", 1, None, "10.0.0.21"),
    ("stor-02", "dell-powervault-me5024", "storage", MAIN_SITE, "A05", 3, None, "10.0.0.22"),
    ("tor-a05", "cisco-c9300-48t", "switch", MAIN_SITE, "A05", 42, None, "10.0.0.14"),
    ("ups-01", "apc-srt10krmxli", "ups", MAIN_SITE, "A06", 1, None, "10.0.0.41"),
    ("ups-02", "apc-srt10krmxli", "ups", MAIN_SITE, "A06", 7, None, "10.0.0.42"),
    ("tor-d01", "cisco-c9300-48t", "switch", DR_SITE, "D01", 42, None, "10.1.0.11"),
    ("fw-drc-01", "fortigate-600f", "firewall", DR_SITE, "D01", 41, None, "10.1.0.4"),
    ("hv-drc-01", "huawei-2288h-v6", "hypervisor", DR_SITE, "D01", 1, "KLASTER-DRC", "10.1.1.11"),
    ("hv-drc-02", "huawei-2288h-v6", "hypervisor", DR_SITE, "D01", 3, "KLASTER-DRC", "10.1.1.12"),
    ("stor-drc-01", "dell-powervault-me5024", "storage", DR_SITE, "D01", 5, None, "10.1.0.21"),
    ("ups-drc-01", "eaton-9px-6k", "ups", DR_SITE, "D02", 1, None, "10.1.0.41"),
]

# Agencies: (code, name, kind, parent code, size) — size picks the quota and how many VMs it already runs.
AGENCIES = [
    ("SETDA", "Sekretariat Daerah", "sekretariat", None, "large"),
    ("SETWAN", "Sekretariat DPRD", "sekretariat", None, "small"),
    ("DINKES", "Dinas Kesehatan", "dinas", None, "large"),
    ("DISDIK", "Dinas Pendidikan", "dinas", None, "large"),
    ("DISKOMINFO", "Dinas Komunikasi dan Informatika", "dinas", None, "large"),
    ("DISDUKCAPIL", "Dinas Kependudukan dan Pencatatan Sipil", "dinas", None, "large"),
    ("DINSOS", "Dinas Sosial", "dinas", None, "medium"),
    ("DPMPTSP", "Dinas Penanaman Modal dan Pelayanan Terpadu Satu Pintu", "dinas", None, "medium"),
    ("DISHUB", "Dinas Perhubungan", "dinas", None, "medium"),
    ("DLH", "Dinas Lingkungan Hidup", "dinas", None, "small"),
    ("DPUPR", "Dinas Pekerjaan Umum dan Penataan Ruang", "dinas", None, "medium"),
    ("DISPERKIM", "Dinas Perumahan dan Kawasan Permukiman", "dinas", None, "small"),
    ("DISNAKER", "Dinas Tenaga Kerja", "dinas", None, "small"),
    ("DISPERINDAG", "Dinas Perindustrian dan Perdagangan", "dinas", None, "small"),
    ("DISPORA", "Dinas Kepemudaan dan Olahraga", "dinas", None, "small"),
    ("DISBUDPAR", "Dinas Kebudayaan dan Pariwisata", "dinas", None, "small"),
    ("DISPERTAN", "Dinas Pertanian", "dinas", None, "small"),
    ("DKP", "Dinas Ketahanan Pangan", "dinas", None, "small"),
    ("DISARPUS", "Dinas Perpustakaan dan Kearsipan", "dinas", None, "small"),
    ("DP3A", "Dinas Pemberdayaan Perempuan dan Perlindungan Anak", "dinas", None, "small"),
    ("DINKOPUKM", "Dinas Koperasi dan Usaha Kecil Menengah", "dinas", None, "small"),
    ("DAMKAR", "Dinas Pemadam Kebakaran dan Penyelamatan", "dinas", None, "small"),
    ("DPMD", "Dinas Pemberdayaan Masyarakat dan Desa", "dinas", None, "small"),
    ("DISPERIKAN", "Dinas Perikanan", "dinas", None, "small"),
    ("BAPPEDA", "Badan Perencanaan Pembangunan Daerah", "badan", None, "medium"),
    ("BPKAD", "Badan Pengelolaan Keuangan dan Aset Daerah", "badan", None, "large"),
    ("BAPENDA", "Badan Pendapatan Daerah", "badan", None, "medium"),
    ("BKPSDM", "Badan Kepegawaian dan Pengembangan Sumber Daya Manusia", "badan", None, "medium"),
    ("BPBD", "Badan Penanggulangan Bencana Daerah", "badan", None, "small"),
    ("KESBANGPOL", "Badan Kesatuan Bangsa dan Politik", "badan", None, "small"),
    ("INSPEKTORAT", "Inspektorat Daerah", "other", None, "small"),
    ("SATPOL-PP", "Satuan Polisi Pamong Praja", "other", None, "small"),
    ("RSUD", "Rumah Sakit Umum Daerah", "other", None, "large"),
    ("KEC-KOTA", "Kecamatan Kota", "kecamatan", None, "district"),
    ("KEC-UTARA", "Kecamatan Utara", "kecamatan", None, "district"),
    ("KEC-SELATAN", "Kecamatan Selatan", "kecamatan", None, "district"),
    ("KEC-BARAT", "Kecamatan Barat", "kecamatan", None, "district"),
    ("KEL-PASARBARU", "Kelurahan Pasar Baru", "kelurahan", "KEC-KOTA", "village"),
    ("KEL-KAMPUNGBARU", "Kelurahan Kampung Baru", "kelurahan", "KEC-KOTA", "village"),
    ("KEL-SUKAMAJU", "Kelurahan Sukamaju", "kelurahan", "KEC-KOTA", "village"),
    ("KEL-SUKAJADI", "Kelurahan Sukajadi", "kelurahan", "KEC-UTARA", "village"),
    ("KEL-MEKARSARI", "Kelurahan Mekarsari", "kelurahan", "KEC-UTARA", "village"),
    ("KEL-TANJUNGSARI", "Kelurahan Tanjungsari", "kelurahan", "KEC-UTARA", "village"),
    ("KEL-KARANGANYAR", "Kelurahan Karanganyar", "kelurahan", "KEC-SELATAN", "village"),
    ("KEL-SIDOMULYO", "Kelurahan Sidomulyo", "kelurahan", "KEC-SELATAN", "village"),
    ("KEL-MARGAHAYU", "Kelurahan Margahayu", "kelurahan", "KEC-SELATAN", "village"),
    ("KEL-BUKITINDAH", "Kelurahan Bukit Indah", "kelurahan", "KEC-BARAT", "village"),
    ("KEL-SUNGAIBAMBU", "Kelurahan Sungai Bambu", "kelurahan", "KEC-BARAT", "village"),
    ("KEL-CEMPAKA", "Kelurahan Cempaka", "kelurahan", "KEC-BARAT", "village"),
]

# size -> quota (vCPU, RAM GiB, disk GiB, VMs) and the VMs already running: (suffix, vCPU, RAM, disk)
SIZES = {
    "large": ((64, 256, 6000, 20), [("app", 8, 16, 200), ("db", 8, 32, 1000), ("web", 4, 8, 100)]),
    "medium": ((32, 96, 2000, 10), [("app", 4, 8, 200), ("db", 4, 16, 500)]),
    "small": ((16, 32, 800, 5), [("web", 2, 4, 100)]),
    "district": ((8, 16, 300, 4), [("siakad", 2, 4, 80)]),
    "village": ((4, 8, 100, 2), []),
}

# Per-agency application names for the larger agencies, so VM names read like the real ones.
APPS = {
    "DINKES": ["simpus", "simpus-db", "sik"],
    "DISDIK": ["dapodik-sync", "dapodik-db", "ppdb"],
    "DISDUKCAPIL": ["siak", "siak-db", "antrian"],
    "BPKAD": ["sipd", "sipd-db", "bmd"],
    "SETDA": ["jdih", "jdih-db", "portal"],
    "DISKOMINFO": ["sso", "sso-db", "portal"],
    "RSUD": ["simrs", "simrs-db", "pacs"],
}

MGMT_PREFIXES = [("10.0.0.0/22", 10, "management", MAIN_SITE), ("10.1.0.0/22", 11, "management", DR_SITE)]
AGENCY_SUPERNET = "10.20.0.0/16"  # one /24 per agency, VLAN 100 + its index

DEMO_USERS = [
    ("demo-admin", "admin", None),
    ("demo-operator", "operator", None),
    ("demo-oncall", "oncall", None),
    ("demo-planner", "planner", None),
    ("demo-auditor", "auditor", None),
    ("demo-dinkes", "agency-viewer", "DINKES"),
]
