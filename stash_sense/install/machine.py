"""What the machine has, as far as the dependency environment cares: OS, CPU architecture, and
whether an NVIDIA GPU is there — which decides between PyTorch's CPU and CUDA builds.

NVIDIA detection without torch (torch is what we are about to install): the driver's
`nvidia-smi` on PATH, or the kernel driver's /proc/driver/nvidia/version on Linux. Either one means
a CUDA build can use the GPU; neither means the CUDA build would be several GB of unused libraries.
"""
from __future__ import annotations

import os
import platform
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Machine:
    system: str                  # platform.system(): "Linux", "Windows", "Darwin"
    arch: str                    # platform.machine(), lower case: "x86_64", "amd64", "arm64", ...
    nvidia: bool
    nvidia_evidence: str         # what told us, for the report ("" when none)
    python: tuple[int, int]

    @property
    def label(self) -> str:
        gpu = f"NVIDIA GPU ({self.nvidia_evidence})" if self.nvidia else "no NVIDIA GPU"
        return f"{self.system} {self.arch}, Python {self.python[0]}.{self.python[1]}, {gpu}"


def detect_nvidia(which: Callable[[str], str | None] = shutil.which,
                  proc_root: str = "/proc") -> str:
    """What shows an NVIDIA driver ("" if nothing does)."""
    smi = which("nvidia-smi")
    if smi:
        return f"nvidia-smi at {smi}"
    version = os.path.join(proc_root, "driver", "nvidia", "version")
    if os.path.isfile(version):
        return version
    return ""


def detect_machine(which: Callable[[str], str | None] = shutil.which,
                   proc_root: str = "/proc") -> Machine:
    evidence = detect_nvidia(which, proc_root)
    return Machine(system=platform.system(), arch=platform.machine().lower(), nvidia=bool(evidence),
                   nvidia_evidence=evidence, python=sys.version_info[:2])
