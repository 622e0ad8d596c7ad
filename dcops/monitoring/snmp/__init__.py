"""dcops' own SNMP wire layer: a lean BER codec, USM (v3) and an asyncio client.

Import from here: ``SnmpClient``, ``SnmpTarget``, ``Varbind`` and the errors. Nothing outside this
package speaks BER or USM. Inside a running event loop::

    async with SnmpClient() as client:
        target = SnmpTarget("127.0.0.1", 1161, "3", username="ops", auth_protocol="sha256", auth_key="...",
                            priv_protocol="aes", priv_key="...", timeout=2.0, retries=1)
        system = await client.get(target, ["1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.3.0"])
        rows = await client.walk_columns(target, ["1.3.6.1.2.1.2.2.1.2", "1.3.6.1.2.1.31.1.1.1.6"])
        # rows == {"1": {"1.3.6.1.2.1.2.2.1.2": Varbind(..., "octets", b"lo"), ...}, ...}

Values: int (integer, counters, gauges, timeticks), bytes (octets, opaque), str (oid, ipaddress), None
(null, nosuchobject, nosuchinstance, endofmibview). ``client.stats`` counts sent, retries, timeouts and
dropped datagrams (malformed, unexpected, wrong_source, rejected).
"""

from dcops.monitoring.snmp.ber import EXCEPTIONS, Varbind
from dcops.monitoring.snmp.client import SnmpClient, SnmpTarget
from dcops.monitoring.snmp.errors import DecodeError, SnmpAuthError, SnmpError, SnmpResponseError, SnmpTimeout

__all__ = [
    "EXCEPTIONS",
    "DecodeError",
    "SnmpAuthError",
    "SnmpClient",
    "SnmpError",
    "SnmpResponseError",
    "SnmpTarget",
    "SnmpTimeout",
    "Varbind",
]
