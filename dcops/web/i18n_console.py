"""Indonesian of the console strings added by issue 13 (merged into :data:`dcops.web.i18n.ID`)."""

from __future__ import annotations

ID_CONSOLE: dict[str, str] = {
    # requests and provisioning
    "The VMs are reserved on their hosts; provisioning has not started.":
        "VM sudah dicadangkan di host-nya; penyediaan belum dimulai.",
    "Retry provisioning": "Ulangi penyediaan",
    "Provision": "Sediakan",
    "Provisioning launched.": "Penyediaan dijalankan.",
    "reserved": "dicadangkan",
    # statuses (VMs, requests, jobs, devices, alerts)
    "running": "berjalan",
    "stopped": "berhenti",
    "failed": "gagal",
    "provisioning": "sedang disediakan",
    "decommissioned": "dihentikan permanen",
    "requested": "diajukan",
    "approved": "disetujui",
    "rejected": "ditolak",
    "cancelled": "dibatalkan",
    "fulfilled": "terpenuhi",
    "active": "aktif",
    "offline": "luring",
    "queued": "antre",
    "succeeded": "berhasil",
    "acknowledged": "diakui",
    "resolved": "selesai",
    "pending": "menunggu",
    "silenced": "dibisukan",
    # alerts
    "Alerts": "Alarm",
    "Alert history": "Riwayat alarm",
    "Resolve": "Selesaikan",
    "Resolved": "Diselesaikan",
    "Acknowledge selected": "Akui yang dipilih",
    "Select all": "Pilih semua",
    "Choose at least one alert.": "Pilih minimal satu alarm.",
    "Silenced until": "Dibisukan sampai",
    "No alert.": "Tidak ada alarm.",
    "Filter": "Saring",
    "Search": "Cari",
    "fired": "menyala",
    "notified": "diberitahukan",
    "suppressed": "ditahan",
    "escalated": "dieskalasi",
    # roles
    "admin": "admin",
    "operator": "operator",
    "oncall": "petugas siaga",
    "planner": "perencana",
    "auditor": "auditor",
    "agency-viewer": "pemantau perangkat daerah",
}
