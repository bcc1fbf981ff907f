"""The commands that build (or repair) the dependency environment — decided here, run in deps.py.

Pure on purpose: given the machine, the settings and what is on disk, `plan_install` returns the
exact argv of every step, so the choice of PyTorch build is tested for CPU and CUDA machines
without running pip or downloading gigabytes.

How the PyTorch build is chosen (`choose_torch`):
- setting torchBuild `cpu` or `cuda` wins (on macOS there is one build: PyPI's, CPU + Apple GPU);
- `auto` (default): an NVIDIA driver seen (nvidia-smi on PATH or /proc/driver/nvidia) -> CUDA,
  otherwise CPU. The CPU build comes from PyTorch's own index (PyPI's Linux wheel is the CUDA
  build: about 5.5 GB of environment with its nvidia-* libraries, unused without a GPU). On Linux the
  CUDA build is PyPI's; on Windows PyPI's wheel is CPU-only, so CUDA comes from PyTorch's index.

torch and torchvision are installed first, in one step, with the index chosen; a constraints file
then pins the torch just installed, so no later requirement can swap it for another build.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from enum import Enum

from .location import env_python
from .machine import Machine

CPU_INDEX = "https://download.pytorch.org/whl/cpu"
# PyPI's Windows torch is CPU-only; PyTorch's CUDA 12.8 wheels cover current drivers.
WINDOWS_CUDA_INDEX = "https://download.pytorch.org/whl/cu128"
TORCH_SETTINGS = ("auto", "cpu", "cuda")
TORCH_PACKAGES = ("torch", "torchvision")
REQUIREMENTS_FILE = "requirements-plugin.txt"
CONSTRAINTS_NAME = "stash_sense-constraints.txt"
PIP_FLAGS = ("--disable-pip-version-check", "--no-input", "--progress-bar", "off")
# Writes "torch==<installed>" (and torchvision) into the constraints file given as argv[1].
PIN_SCRIPT = ("import importlib.metadata as m, sys\n"
              "pins = [f'{n}=={m.version(n)}' for n in ('torch', 'torchvision')]\n"
              "open(sys.argv[1], 'w').write('\\n'.join(pins) + '\\n')\n"
              "print(' '.join(pins))")


class TorchBuild(Enum):
    CPU = "cpu"
    CUDA = "cuda"
    PYPI = "pypi"            # macOS: PyPI's wheel (CPU, and the Apple GPU through MPS)


class StepKind(Enum):
    CREATE_ENV = "create the environment"
    PIP = "pip install"
    PIN = "pin torch"
    VERIFY = "verify analyzers"


class EnvState(Enum):
    MISSING = "missing"      # no folder, or an empty one
    OK = "ok"                # a venv whose python runs
    BROKEN = "broken"        # a venv (pyvenv.cfg) whose python is gone or does not start
    FOREIGN = "foreign"      # a non-empty folder that is not a venv: never touched


@dataclass(frozen=True)
class Step:
    kind: StepKind
    title: str
    argv: tuple[str, ...]
    weight: float            # share of the job bar
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    env_dir: str
    python: str              # the environment's interpreter
    torch: TorchBuild
    torch_reason: str
    steps: tuple[Step, ...]

    def step(self, kind: StepKind, title_part: str = "") -> Step:
        return next(s for s in self.steps if s.kind is kind and title_part in s.title)


def choose_torch(machine: Machine, setting: str = "auto") -> tuple[TorchBuild, str]:
    setting = (setting or "auto").strip().lower()
    if setting not in TORCH_SETTINGS:
        raise ValueError(f"setting 'torchBuild' must be one of {', '.join(TORCH_SETTINGS)}; "
                         f"got {setting!r}")
    if machine.system == "Darwin":
        return TorchBuild.PYPI, "macOS: PyPI's build (CPU, and the Apple GPU through MPS)"
    if setting == "cpu":
        return TorchBuild.CPU, "setting torchBuild is cpu"
    if setting == "cuda":
        seen = "" if machine.nvidia else " (no NVIDIA driver seen: the GPU may not be usable)"
        return TorchBuild.CUDA, "setting torchBuild is cuda" + seen
    if machine.nvidia:
        return TorchBuild.CUDA, f"NVIDIA GPU found ({machine.nvidia_evidence})"
    return TorchBuild.CPU, ("no NVIDIA GPU found (no nvidia-smi on PATH, no /proc/driver/nvidia); "
                            "set torchBuild to cuda to override")


def torch_index(build: TorchBuild, machine: Machine) -> str | None:
    if build is TorchBuild.CPU:
        return CPU_INDEX
    if build is TorchBuild.CUDA and machine.system == "Windows":
        return WINDOWS_CUDA_INDEX
    return None


def requirement_name(line: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line)
    return re.sub(r"[-_.]+", "-", match.group(1)).lower() if match else ""


def read_requirements(path: str) -> list[str]:
    with open(path, encoding="utf-8") as handle:
        lines = [ln.split("#", 1)[0].strip() for ln in handle]
    return [ln for ln in lines if ln and not ln.startswith("-")]


def torch_specs(requirements: list[str]) -> list[str]:
    specs = {requirement_name(r): r for r in requirements}
    return [specs.get(name, name) for name in TORCH_PACKAGES]


def env_state(env_dir: str, python_works: bool) -> EnvState:
    if not os.path.isdir(env_dir) or not os.listdir(env_dir):
        return EnvState.MISSING
    if not os.path.isfile(os.path.join(env_dir, "pyvenv.cfg")):
        return EnvState.FOREIGN
    return EnvState.OK if python_works else EnvState.BROKEN


def plan_install(machine: Machine, *, env_dir: str, state: EnvState, base_python: str,
                 plugin_dir: str, requirements: list[str], torch_setting: str = "auto",
                 facenet_pin: str = "") -> Plan:
    """Every command, in order. Raises ValueError for a folder that is not ours to touch."""
    if state is EnvState.FOREIGN:
        raise ValueError(f"{env_dir} exists and is not a Python environment (no pyvenv.cfg); "
                         "set envDir to an empty or new folder")
    build, reason = choose_torch(machine, torch_setting)
    python = env_python(env_dir, machine.system)
    pip = (python, "-m", "pip", "install", *PIP_FLAGS)
    steps: list[Step] = []
    if state is not EnvState.OK:
        clear = ("--clear",) if state is EnvState.BROKEN else ()
        steps.append(Step(StepKind.CREATE_ENV, f"create the environment {env_dir}",
                          (base_python, "-m", "venv", *clear, env_dir), 0.04))
    index = torch_index(build, machine)
    steps.append(Step(StepKind.PIP, f"PyTorch ({build.value} build)",
                      (*pip, *torch_specs(requirements), *(("--index-url", index) if index else ())),
                      0.55))
    constraints = os.path.join(env_dir, CONSTRAINTS_NAME)
    steps.append(Step(StepKind.PIN, "pin the installed torch",
                      (python, "-c", PIN_SCRIPT, constraints), 0.01))
    steps.append(Step(StepKind.PIP, "the other requirements",
                      (*pip, "-r", os.path.join(plugin_dir, REQUIREMENTS_FILE), "-c", constraints),
                      0.33))
    if facenet_pin:
        steps.append(Step(StepKind.PIP, "facenet-pytorch for the faces analyzer (--no-deps: its "
                          "pins would downgrade torch, numpy and Pillow)",
                          (*pip, "--no-deps", "-c", constraints, facenet_pin), 0.03))
    steps.append(Step(StepKind.VERIFY, "check that every analyzer imports",
                      (python, "-m", "stash_sense.install.verify"), 0.04,
                      env={"PYTHONPATH": plugin_dir}))
    return Plan(env_dir=env_dir, python=python, torch=build, torch_reason=reason,
                steps=tuple(steps))
