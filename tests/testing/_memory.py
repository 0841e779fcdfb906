"""The peak resident memory of this process: its own, not inherited from the process that started it.

``resource.getrusage(RUSAGE_SELF).ru_maxrss`` is not that in a child process:
Linux keeps the high-water mark of the address space that ``exec`` replaced,
and :mod:`subprocess` starts children with ``vfork``, which shares the parent's
address space until ``exec``.  A child started by a pytest process that once
held 1.1 GB therefore reports at least 1.1 GB, whatever it does itself.  The
kernel's per-address-space mark ``VmHWM`` (``/proc/self/status``) starts afresh
at ``exec``; it can also be reset (``/proc/self/clear_refs``) to measure one
step.  Other systems fall back to ``ru_maxrss``.
"""

import resource
import sys


def _vm_hwm_mb():
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def peak_mb():
    """This process's peak resident memory in MB."""
    own = _vm_hwm_mb()
    if own is not None:
        return own
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, kB elsewhere
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def reset_peak():
    """Start the peak afresh from the current resident memory; False where that cannot be done."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return _vm_hwm_mb() is not None
    except OSError:
        return False


if __name__ == "__main__":
    print(peak_mb())
