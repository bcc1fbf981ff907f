"""Getting Stash Sense onto a user's machine the way Stash installs plugins.

    package.py    the plugin source: a reproducible stash_sense.zip + index.yml for Stash's
                  Settings › Plugins › Available Plugins
    location.py   where the dependency environment lives, and the pointer file the entry reads
    machine.py    what the machine has (OS, architecture, an NVIDIA GPU) — decides the torch build
    plan.py       the commands that build the environment (pure: tested without running pip)
    pip_progress  pip's output -> Stash's job bar
    deps.py       runs the plan, with progress, then checks every analyzer imports in the new env
    verify.py     run inside the environment: imports each analyzer's libraries, prints JSON
    doctor.py     "Check setup": every readiness check with the action that fixes it

Everything here is standard library only (the install task runs in Stash's own Python, before any
dependency exists), and nothing imports torch to report on it.
"""
