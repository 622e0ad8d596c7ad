"""What virtualization provides to lower features: VMs count against their agency's quota."""

from dcops.tenancy.hooks import QUOTA_CONSUMERS
from dcops.virtualization.service import vm_quota_use

QUOTA_CONSUMERS.register(vm_quota_use)
