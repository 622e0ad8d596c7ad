"""Polling profiles as data: which OIDs to read for a device and how to turn them into samples and facts.

A profile is a YAML file (schema: :class:`Profile`). The package ships its profiles in
``dcops/monitoring/profiles/``; a user adds or replaces profiles with a directory named by the
environment variable ``DCOPS_MONITORING_PROFILE_DIR`` (a user file with the name of a shipped
profile replaces it). A device gets every profile whose ``match`` fits its role and sysObjectID,
minus those that a selected profile ``overrides`` (a vendor UPS profile overrides the generic one).

Evaluation is pure: :func:`evaluate` takes the varbinds read and returns samples, facts, raw
counters and interface rows; :func:`finish` turns counters into rates against the previous poll.

Tables whose rows are not one per sensor:

- Every row has the pseudo-columns ``index`` and ``index[0]``, ``index[1]``... (the arcs of its index),
  usable in ``where``/``where_not`` like a column: ``where: {column: 'index[1]', in: [5]}`` keeps the rows
  of a table indexed ifIndex.testType whose test type is 5.
- ``lookups: {name: {oid, index}}`` joins a column of another table to each row, the row of that table
  given by a template of the row's index (``index: '{index[0]}'``); the name is then used like a column
  (descriptions, filters). Each lookup column is walked once per poll (table name + ``:lookup``).
- ``thresholds: {severity, relation, value, severities, relations}`` reads the device's limits from a
  table indexed by the row index plus one sub-index (one row per limit, with its severity and relation
  codes); ``severities`` maps codes to warning/critical, ``relations`` to high/low. Limits are scaled like
  the sensor's value and fill the limits a sensor does not give itself (the lowest high and the highest
  low win where several rows give one). Walked as table name + ``:thresholds``.

Sensor additions: a state sensor's ``states`` may map words (``OK``, ``Normal``, ``Critical``; matched
without case) as well as numbers; ``exponent: column`` multiplies the value (and its limits) by
10**(that column), for MIBs with a per-row unit multiplier. A ``ratio`` sample may take ``less_rows``
(``{value, match}``): the sum of ``value`` over the rows whose columns match those regexes is taken out of
the numerator (hrStorage buffers and cache out of RAM used).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import yaml

from dcops.exceptions import ConfigurationError
from dcops.monitoring.profile_eval import (
    LEGACY_METRICS,
    Evaluation,
    InterfaceRow,
    evaluate,
    finish,
    sensor_samples,
)
from dcops.monitoring.profile_schema import (
    _OID,
    COUNTER_TYPES,
    Derived,
    Detect,
    FactSpec,
    Match,
    Profile,
    SampleSpec,
    Scalar,
    Source,
    Table,
)
from dcops.monitoring.sensors import (
    ABSENT_TYPES,
    SensorReading,
    SensorSpec,
    VarbindLike,
    Where,
    number,
    present,
    text,
)
from dcops.monitoring.table_joins import (
    joined,
    walked_tables,
)

# the names callers read from here (the schema and the evaluation live in their own modules)
__all__ = ["ABSENT_TYPES", "COUNTER_TYPES", "LEGACY_METRICS", "Derived", "Detect", "Evaluation", "FactSpec",
           "InterfaceRow", "Match", "Profile", "SampleSpec", "Scalar", "SensorReading", "SensorSpec", "Source",
           "Table", "VarbindLike", "Where", "detect_profiles", "evaluate", "finish", "joined", "load_profiles",
           "number", "present", "probe_oids", "scalar_oids", "select_profiles", "sensor_samples", "text",
           "walked_tables"]

SHIPPED_DIR = Path(__file__).parent / "profiles"
USER_DIR_ENV = "DCOPS_MONITORING_PROFILE_DIR"

# --- loading and selection -------------------------------------------------------------------------


def _read_dir(directory: Path) -> dict[str, Profile]:
    found: dict[str, Profile] = {}
    for path in sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml")):
        try:
            profile = Profile.model_validate(yaml.safe_load(path.read_text()))
        except Exception as exc:
            raise ConfigurationError(f"profile {path} is not valid: {exc}") from exc
        found[profile.name] = profile
    return found


@lru_cache(maxsize=8)
def _load(user_dir: str) -> tuple[Profile, ...]:
    profiles = _read_dir(SHIPPED_DIR)
    if user_dir:
        if not Path(user_dir).is_dir():
            raise ConfigurationError(f"{USER_DIR_ENV}={user_dir} is not a directory")
        profiles |= _read_dir(Path(user_dir))
    return tuple(profiles[name] for name in sorted(profiles))


def load_profiles(user_dir: str | None = None) -> tuple[Profile, ...]:
    """Return the shipped profiles plus (replacing same names) those of the user directory."""
    return _load(user_dir if user_dir is not None else os.environ.get(USER_DIR_ENV, ""))


def select_profiles(profiles: Iterable[Profile], *, role: str, sys_object_id: str, sys_descr: str = "",
                    answered: Iterable[str] | None = None) -> list[Profile]:
    """Return the profiles fitting a device, without those overridden by another selected profile.

    ``answered`` lists the probe OIDs the device answered; None skips the probe condition (no probes sent).
    """
    return [p for p, _ in detect_profiles(profiles, role=role, sys_object_id=sys_object_id, sys_descr=sys_descr,
                                          answered=answered)]


def detect_profiles(profiles: Iterable[Profile], *, role: str, sys_object_id: str, sys_descr: str = "",
                    answered: Iterable[str] | None = None) -> list[tuple[Profile, str]]:
    """Return (profile, why it applies) for a device, without the profiles another applying one overrides."""
    done = None if answered is None else {o.strip(".") for o in answered}
    chosen: list[tuple[Profile, str]] = []
    for p in profiles:
        detect = p.detection
        why = detect.identity(role, sys_object_id, sys_descr)
        if why is None:
            continue
        probes = [o.strip(".") for o in detect.probe]
        if probes and done is not None:
            if not all(o in done for o in probes):
                continue
            why += "; " + ", ".join(f"answers {o}" for o in probes)
        chosen.append((p, why))
    dropped = {name for p, _ in chosen for name in p.overrides}
    return [(p, why) for p, why in chosen if p.name not in dropped]


def probe_oids(profiles: Iterable[Profile], *, role: str, sys_object_id: str, sys_descr: str = "") -> list[str]:
    """Every probe OID of the profiles whose role and identity fit a device (the GETNEXTs discovery sends)."""
    out: dict[str, None] = {}
    for p in profiles:
        if p.detection.identity(role, sys_object_id, sys_descr) is not None:
            out.update(dict.fromkeys(o.strip(".") for o in p.detection.probe))
    return list(out)


def scalar_oids(profiles: Iterable[Profile]) -> list[str]:
    """Every scalar OID the profiles read (with the OIDs scalar sensors take their limits from), once, in order."""
    oids: dict[str, None] = {}
    for p in profiles:
        for s in p.scalars:
            oids[s.oid.strip(".")] = None
            if s.unless is not None:
                oids[s.unless.strip(".")] = None
            if s.sensor is not None:
                limits = (s.sensor.high, s.sensor.low, s.sensor.high_warn, s.sensor.low_warn)
                oids.update(dict.fromkeys(v.strip(".") for v in limits if isinstance(v, str) and _OID.match(v)))
    return list(oids)


