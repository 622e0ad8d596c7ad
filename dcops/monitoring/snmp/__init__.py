"""dcops' own SNMP wire layer: a lean BER codec, USM (v3) and an asyncio client.

Import from here: ``SnmpClient``, ``SnmpTarget``, ``Varbind`` and the errors. Nothing outside this
package speaks BER or USM.
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
