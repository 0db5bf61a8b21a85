"""Multi-process CPU training under ``accelerate launch --cpu --num_processes N``.

Why this exists: accelerate 1.x starts a ``--cpu`` job on one machine with its *simple* launcher, which
runs the program once; several CPU processes need ``mpirun`` and a hostfile (``--mpirun_hostfile``;
huggingface/accelerate#2741). The one process gets ``ACCELERATE_USE_CPU=True`` and, because more than
one process was asked for, ``MASTER_ADDR``/``MASTER_PORT``, but no ``RANK``/``WORLD_SIZE``, so the
Trainer sees a world of one. ``relaunch_for_accelerate_cpu`` notices exactly that situation in a
training command and starts the N processes itself with PyTorch's own launcher
(``torch.distributed.run``, what ``torchrun`` and ``accelerate launch --multi_gpu`` use), on the address
and port accelerate chose. Each child then has a rank, and with ``use_cpu`` (``backtrack.device``'s
rule under ``ACCELERATE_USE_CPU``) the Trainer runs one gloo DDP job.

Nothing else changes: under ``mpirun``, ``torchrun`` or ``accelerate launch --multi_gpu`` the ranks are
already set and this does nothing; so does a single process.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["accelerate_cpu_processes", "relaunch_for_accelerate_cpu"]

# Set by every multi-process launcher (torchrun, accelerate's torchrun path, MPI implementations).
_RANK_VARIABLES = (
    "RANK",
    "WORLD_SIZE",
    "LOCAL_RANK",
    "PMI_RANK",
    "OMPI_COMM_WORLD_RANK",
    "MV2_COMM_WORLD_RANK",
)
_TRAINING_COMMANDS = ("train", "rl", "run")


def _option(argv: Sequence[str], names: Sequence[str]) -> str | None:
    for i, arg in enumerate(argv):
        for name in names:
            if arg == name and i + 1 < len(argv):
                return argv[i + 1]
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def _parent_command_line() -> list[str]:
    try:
        raw = Path(f"/proc/{os.getppid()}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def accelerate_cpu_processes(
    environ: dict[str, str] | None = None, parent_argv: Sequence[str] | None = None
) -> int:
    """How many processes an ``accelerate launch --cpu`` parent asked for but did not start (1: none
    missing, or not started that way)."""
    env = os.environ if environ is None else environ
    if env.get("ACCELERATE_USE_CPU", "").lower() not in ("1", "true", "yes"):
        return 1
    if "MASTER_ADDR" not in env or any(name in env for name in _RANK_VARIABLES):
        return 1
    parent = _parent_command_line() if parent_argv is None else list(parent_argv)
    if not any("accelerate" in part for part in parent[:3]) or "launch" not in parent:
        return 1
    machines = _option(parent, ("--num_machines", "--num-machines"))
    if machines is not None and machines != "1":
        return 1  # several machines: each runs its own launcher; not this case
    processes = _option(parent, ("--num_processes", "--num-processes"))
    return int(processes) if processes and processes.isdigit() else 1


def relaunch_for_accelerate_cpu(argv: Sequence[str]) -> int | None:
    """Run this command as N ranked processes when ``accelerate launch --cpu --num_processes N`` started
    it once; returns the exit code then (None: nothing to do, carry on in this process)."""
    if not argv or argv[0] not in _TRAINING_COMMANDS:
        return None
    processes = accelerate_cpu_processes()
    if processes < 2:
        return None
    from torch.distributed.run import get_args_parser, run

    launcher = get_args_parser().parse_args(
        [
            f"--nproc_per_node={processes}",
            "--nnodes=1",
            f"--master_addr={os.environ['MASTER_ADDR']}",
            f"--master_port={os.environ.get('MASTER_PORT', '29500')}",
            sys.argv[0],
            *argv,
        ]
    )
    try:
        run(launcher)
    except Exception as exc:  # torch's ChildFailedError: its own report is already printed
        print(
            f"error: {processes} training processes did not all finish ({type(exc).__name__})",
            file=sys.stderr,
        )
        return 1
    return 0
