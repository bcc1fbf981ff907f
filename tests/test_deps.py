"""The dependency environment: the command plan for CPU and CUDA machines (without running pip),
the runner's progress and failure handling (with harmless stand-in commands), and the entry's
re-exec into a throwaway environment that holds a stub package (no multi-GB install)."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from stash_sense.errors import SettingsError
from stash_sense.install import deps
from stash_sense.install.location import (
    POINTER_NAME,
    REEXEC_FLAG,
    default_env_dir,
    read_pointer,
    resolve_env_dir,
    write_pointer,
)
from stash_sense.install.machine import Machine, detect_nvidia
from stash_sense.install.pip_progress import PipProgress
from stash_sense.install.plan import (
    CPU_INDEX,
    WINDOWS_CUDA_INDEX,
    EnvState,
    Plan,
    Step,
    StepKind,
    TorchBuild,
    env_state,
    plan_install,
    read_requirements,
)
from stash_sense.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = read_requirements(str(ROOT / "requirements-plugin.txt"))
LINUX_CPU = Machine("Linux", "x86_64", False, "", (3, 11))
LINUX_GPU = Machine("Linux", "x86_64", True, "nvidia-smi at /usr/bin/nvidia-smi", (3, 11))
WINDOWS_GPU = Machine("Windows", "amd64", True, "nvidia-smi at C:/nvidia-smi.exe", (3, 12))
MAC = Machine("Darwin", "arm64", False, "", (3, 12))


def plan_for(machine, setting="auto", state=EnvState.MISSING):
    return plan_install(machine, env_dir="/srv/stash/stash_sense_env", state=state,
                        base_python="/usr/bin/python3", plugin_dir="/srv/stash/plugins/stash_sense",
                        requirements=REQUIREMENTS, torch_setting=setting,
                        facenet_pin="facenet-pytorch==2.6.0")


def torch_step(plan: Plan) -> tuple[str, ...]:
    return plan.step(StepKind.PIP, "PyTorch").argv


# -- deciding the build ------------------------------------------------------------------------------
def test_nvidia_is_seen_through_nvidia_smi_or_the_kernel_driver(tmp_path):
    assert detect_nvidia(lambda name: None, str(tmp_path)) == ""
    assert detect_nvidia(lambda name: "/usr/bin/nvidia-smi", str(tmp_path)) == \
        "nvidia-smi at /usr/bin/nvidia-smi"
    version = tmp_path / "driver" / "nvidia" / "version"
    version.parent.mkdir(parents=True)
    version.write_text("NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54\n")
    assert detect_nvidia(lambda name: None, str(tmp_path)) == str(version)


def test_cpu_machine_gets_the_cpu_build_from_pytorchs_index():
    plan = plan_for(LINUX_CPU)
    assert plan.torch is TorchBuild.CPU and "no NVIDIA GPU" in plan.torch_reason
    argv = torch_step(plan)
    assert argv[:4] == ("/srv/stash/stash_sense_env/bin/python", "-m", "pip", "install")
    assert "torch>=2.14" in argv and "torchvision" in argv       # the specs of requirements-plugin
    assert argv[argv.index("--index-url") + 1] == CPU_INDEX


def test_cuda_machine_gets_pypis_cuda_build_on_linux():
    plan = plan_for(LINUX_GPU)
    assert plan.torch is TorchBuild.CUDA and "nvidia-smi" in plan.torch_reason
    assert "--index-url" not in torch_step(plan) and "torch>=2.14" in torch_step(plan)


def test_cuda_on_windows_comes_from_pytorchs_cuda_index():
    plan = plan_for(WINDOWS_GPU)
    argv = torch_step(plan)
    assert argv[0].endswith(os.path.join("Scripts", "python.exe"))
    assert argv[argv.index("--index-url") + 1] == WINDOWS_CUDA_INDEX


def test_the_setting_overrides_detection_but_macos_has_one_build():
    assert plan_for(LINUX_GPU, "cpu").torch is TorchBuild.CPU
    forced = plan_for(LINUX_CPU, "cuda")
    assert forced.torch is TorchBuild.CUDA and "no NVIDIA driver seen" in forced.torch_reason
    for setting in ("auto", "cpu", "cuda"):
        mac = plan_for(MAC, setting)
        assert mac.torch is TorchBuild.PYPI and "--index-url" not in torch_step(mac)
    with pytest.raises(ValueError, match="torchBuild"):
        plan_for(LINUX_CPU, "rocm")
    with pytest.raises(SettingsError, match="torchBuild"):
        load_settings({"torchBuild": "gpu"}, {}, "/p")


def test_every_pip_runs_in_the_environment_and_torch_is_pinned_before_the_rest():
    plan = plan_for(LINUX_CPU)
    kinds = [s.kind for s in plan.steps]
    assert kinds == [StepKind.CREATE_ENV, StepKind.PIP, StepKind.PIN, StepKind.PIP, StepKind.PIP,
                     StepKind.VERIFY]
    assert plan.steps[0].argv == ("/usr/bin/python3", "-m", "venv", "/srv/stash/stash_sense_env")
    constraints = plan.steps[2].argv[-1]
    rest = plan.step(StepKind.PIP, "other requirements").argv
    assert rest[rest.index("-r") + 1] == "/srv/stash/plugins/stash_sense/requirements-plugin.txt"
    assert rest[rest.index("-c") + 1] == constraints
    facenet = plan.step(StepKind.PIP, "facenet").argv
    assert "--no-deps" in facenet and facenet[-1] == "facenet-pytorch==2.6.0"
    for step in plan.steps[1:]:
        assert step.argv[0] == plan.python                     # never Stash's own Python
    assert abs(sum(s.weight for s in plan.steps) - 1.0) < 1e-9


def test_an_existing_environment_is_repaired_in_place_and_a_foreign_folder_is_never_touched(tmp_path):
    assert StepKind.CREATE_ENV not in [s.kind for s in plan_for(LINUX_CPU, state=EnvState.OK).steps]
    assert "--clear" in plan_for(LINUX_CPU, state=EnvState.BROKEN).steps[0].argv
    with pytest.raises(ValueError, match="not a Python environment"):
        plan_for(LINUX_CPU, state=EnvState.FOREIGN)
    assert env_state(str(tmp_path / "none"), False) is EnvState.MISSING
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.jpg").write_bytes(b"x")
    assert env_state(str(tmp_path / "photos"), False) is EnvState.FOREIGN
    (tmp_path / "env").mkdir()
    (tmp_path / "env" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    assert env_state(str(tmp_path / "env"), False) is EnvState.BROKEN
    assert env_state(str(tmp_path / "env"), True) is EnvState.OK


def test_the_environment_goes_beside_the_plugins_folder_never_inside(tmp_path):
    plugins = tmp_path / "stash" / "plugins"
    plugin = plugins / "community" / "stash_sense"
    assert default_env_dir(str(plugins)) == str(tmp_path / "stash" / "stash_sense_env")
    assert resolve_env_dir("", str(plugins), str(plugin)) == str(tmp_path / "stash" / "stash_sense_env")
    assert resolve_env_dir(str(tmp_path / "big" / "env"), str(plugins), str(plugin)) == \
        str(tmp_path / "big" / "env")
    with pytest.raises(ValueError, match="inside Stash's plugins folder"):
        resolve_env_dir(str(plugins / "env"), str(plugins), str(plugin))


# -- running the plan -----------------------------------------------------------------------------------
def test_pip_output_moves_the_job_bar_forward_only():
    progress = PipProgress()
    lines = ["Looking in indexes: https://download.pytorch.org/whl/cpu", "Collecting torch>=2.14",
             "  Downloading torch-2.14.1%2Bcpu-cp311-cp311-manylinux_2_28_x86_64.whl (190.4 MB)",
             "Collecting filelock", "Requirement already satisfied: numpy in ./env/lib",
             "Collecting sympy", "Installing collected packages: sympy, filelock, torch",
             "Successfully installed filelock-3.20 sympy-1.14 torch-2.14.1+cpu"]
    values = [progress.feed(line) for line in lines]
    assert values == sorted(values) and values[0] == 0 and 0 < values[1] < values[3] < 0.8
    assert values[-2] == pytest.approx(0.8) and values[-1] == 1.0


def _script(*lines: str) -> tuple[str, ...]:
    return (sys.executable, "-c", "\n".join(lines))


def _request(tmp_path) -> deps.InstallRequest:
    plugin = tmp_path / "plugins" / "stash_sense"
    plugin.mkdir(parents=True)
    return deps.InstallRequest(plugin_dir=str(plugin), plugins_path=str(tmp_path / "plugins"))


def test_the_runner_reports_progress_writes_an_owner_only_pointer(tmp_path):
    request = _request(tmp_path)
    env = tmp_path / "env"
    report = {part: {"ok": True, "versions": {"torch": "2.14.1+cpu"}} for part in
              ("core", "clip", "objects", "ocr", "faces")}
    plan = Plan(str(env), str(env / "bin" / "python"), TorchBuild.CPU, "test", (
        Step(StepKind.CREATE_ENV, "make", _script(f"import os; os.makedirs({str(env)!r})"), 0.2),
        Step(StepKind.PIP, "pip", _script("print('Collecting torch')", "print('Collecting numpy')",
                                          "print('Successfully installed numpy torch')"), 0.7),
        Step(StepKind.VERIFY, "verify", _script("print('banner')",
                                                f"print({json.dumps(json.dumps(report))})"), 0.1)))
    seen: list[float] = []
    summary = deps.execute(plan, request, seen.append)
    assert seen == sorted(seen) and seen[-1] == pytest.approx(1.0) and 0.2 < seen[2] < 0.9
    assert summary["torch"] == "2.14.1+cpu" and summary["analyzers"]["clip"] is True
    pointer = Path(request.plugin_dir) / POINTER_NAME
    assert stat.S_IMODE(pointer.stat().st_mode) == 0o600
    assert read_pointer(request.plugin_dir).env == str(env)


def test_a_failing_step_stops_with_its_output_and_leaves_no_pointer(tmp_path):
    request = _request(tmp_path)
    plan = Plan(str(tmp_path / "env"), "python", TorchBuild.CPU, "test", (
        Step(StepKind.PIP, "PyTorch (cpu build)", _script(
            "import sys", "print('ERROR: Could not find a version that satisfies torch>=2.14')",
            "sys.exit(1)"), 0.6),
        Step(StepKind.PIP, "never run", _script("raise SystemExit('must not run')"), 0.4)))
    with pytest.raises(deps.InstallFailed, match="PyTorch .cpu build. failed .exit status 1.*"
                       "Could not find a version"):
        deps.execute(plan, request, lambda f: None)
    assert read_pointer(request.plugin_dir) is None


# -- the entry re-runs itself in the environment -------------------------------------------------------
@pytest.fixture(scope="module")
def stub_env(tmp_path_factory):
    """A throwaway venv (no pip) whose only package is a stub torch that refuses to be imported
    and says it is a CPU build: enough to see where the entry ran and what it imported."""
    env = tmp_path_factory.mktemp("stub") / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True,
                   timeout=120)
    python = env / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (Path(site) / "torch").mkdir()
    (Path(site) / "torch" / "__init__.py").write_text(
        "raise ImportError('stub torch: nothing may import torch here')\n")
    info = Path(site) / "torch-0.0.1+cpu.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: torch\nVersion: 0.0.1+cpu\n")
    (info / "RECORD").write_text("")
    return env, python


@pytest.fixture()
def plugin_copy(tmp_path):
    """The plugin as Stash installs it, in a folder of its own (the pointer is written there)."""
    import zipfile

    from stash_sense.install.package import build
    package = build(ROOT, tmp_path / "source")
    folder = tmp_path / "plugins" / "stash_sense"
    with zipfile.ZipFile(package.zip_path) as archive:
        archive.extractall(folder)
    return folder


def _entry(folder: Path, python: str, payload: dict, env: dict | None = None):
    environ = {k: v for k, v in os.environ.items() if k != REEXEC_FLAG}
    environ.update(PYTHONPATH=str(folder.parent), **(env or {}))
    proc = subprocess.run([python, str(folder / "stash_sense.py")], input=json.dumps(payload),
                          capture_output=True, text=True, timeout=120, env=environ, cwd="/")
    return json.loads(proc.stdout), proc.stderr


def test_the_entry_reruns_itself_with_the_environments_python(stub_env, plugin_copy):
    """The doctor reports where it runs: with the pointer, Stash's python hands over to the env's
    (stdin intact: the payload's mode arrives), the stub torch is seen as a CPU build from its
    metadata, and nothing imports it (the stub would raise)."""
    from tests.e2e import require_schema
    from tests.standin.server import FakeStash
    require_schema()
    env, python = stub_env
    write_pointer(str(plugin_copy), str(env), str(python), "0.0.1+cpu")
    with FakeStash() as stash:
        payload = {"server_connection": stash.server_connection(str(plugin_copy)),
                   "args": {"mode": "doctor"}}
        result, stderr = _entry(plugin_copy, sys.executable, payload)
        assert result.get("error") is None, stderr
        checks = {c["area"]: c for c in result["output"]["checks"]}
        assert f"prefix {env}" in checks["python"]["detail"]
        assert checks["environment"]["status"] == "ok"
        assert "torch 0.0.1+cpu (cpu build)" in checks["device"]["detail"]
        assert checks["stash"]["status"] == "ok" and "Stash v" in checks["stash"]["detail"]
        assert checks["packages: core"]["status"] == "problem"
        assert "Install or repair dependencies" in checks["packages: core"]["fix"]

        # started by the environment's own python: no second switch, same answer
        direct, _ = _entry(plugin_copy, str(python), payload)
        assert f"prefix {env}" in {c["area"]: c for c in direct["output"]["checks"]}["python"]["detail"]

        # the flag set by a first switch is never followed by another one (no loop)
        flagged, _ = _entry(plugin_copy, sys.executable, payload, {REEXEC_FLAG: "1"})
        assert f"prefix {sys.prefix}" in {c["area"]: c for c in
                                          flagged["output"]["checks"]}["python"]["detail"]


def test_missing_packages_name_the_task_that_installs_them(stub_env, plugin_copy):
    env, python = stub_env
    write_pointer(str(plugin_copy), str(env), str(python), "")
    result, _ = _entry(plugin_copy, sys.executable,
                       {"server_connection": {"Port": 1}, "args": {"mode": "tag_tagme"}})
    assert "is not installed" in result["error"]
    assert 'run the task "Install or repair dependencies"' in result["error"]


def test_a_pointer_to_a_removed_environment_is_ignored(plugin_copy, tmp_path):
    write_pointer(str(plugin_copy), str(tmp_path / "gone"), str(tmp_path / "gone/bin/python"), "")
    result, _ = _entry(plugin_copy, sys.executable, {"args": {"mode": "dance"}})
    assert "unknown mode 'dance'" in result["error"]


def test_the_install_task_stops_before_any_change_for_an_env_inside_the_plugins_folder(plugin_copy):
    from tests.e2e import require_schema
    from tests.standin.runner import run_plugin
    from tests.standin.server import FakeStash
    require_schema()
    with FakeStash() as stash:
        plugins = stash.general["pluginsPath"]
        stash.set_plugin_config("stash_sense", {"envDir": os.path.join(plugins, "env")})
        run = run_plugin(stash, {"mode": "install_deps"}, plugin_dir=plugin_copy)
    assert "would be inside Stash's plugins folder" in run.error
    assert not os.path.exists(os.path.join(plugins, "env"))
    assert not (plugin_copy / POINTER_NAME).exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_stop_in_stash_also_stops_pip(tmp_path):
    """Stash stops a task with SIGKILL of the plugin process alone; the pip it started must not go
    on downloading gigabytes in the background."""
    import signal
    import time
    pidfile = tmp_path / "child.pid"
    child = f"import os, time; open({str(pidfile)!r}, 'w').write(str(os.getpid())); time.sleep(120)"
    runner = ("import sys; from stash_sense.install.deps import run_step\n"
              f"run_step((sys.executable, '-c', {child!r}), {{}}, print, '.')\n")
    parent = subprocess.Popen([sys.executable, "-c", runner], cwd=ROOT)
    deadline = time.monotonic() + 60
    while not (pidfile.exists() and pidfile.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    pid = int(pidfile.read_text())
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        with open(f"/proc/{pid}/stat") as stat_file:
            if stat_file.read().split(") ")[1].startswith("Z"):
                return                                   # exited; only the zombie entry remains
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    pytest.fail("the step's process outlived the killed plugin process")


def test_a_python_without_venv_support_is_named_with_the_package_to_install(tmp_path):
    request = _request(tmp_path)
    plan = Plan(str(tmp_path / "env"), "python", TorchBuild.CPU, "test", (
        Step(StepKind.CREATE_ENV, "create the environment", _script(
            "import sys", "print('The virtual environment was not created successfully because "
            "ensurepip is not available.')", "sys.exit(1)"), 1.0),))
    with pytest.raises(deps.InstallFailed, match="apt-get install python3-venv"):
        deps.execute(plan, request, lambda f: None)
