"""A one-node Slurm cluster on this machine, for the tests of utils/slurm.pl against real Slurm.

It runs Debian 12's ``slurm-wlm`` (22.05) and ``munge`` (installed by tools/install.sh) as root:
its own ``munged`` (own key and socket), ``slurmctld`` and ``slurmd`` on free ports, with every
state, spool, log and pid file under one directory it creates (``/var/spool/seedkit-test/<random>``
by default). Clients find it through ``SLURM_CONF`` (``cluster.env()``), so a system Slurm, if
any, is neither used nor touched. The node has at least 8 CPUs and 64 GB (see __init__) and two
``gpu`` generic resources (plain files stand in for the devices), so ``--gres=gpu:N`` requests are
scheduled (CUDA_VISIBLE_DEVICES means nothing there).

``stop()`` cancels the cluster's jobs, waits for them to end, then ends exactly the daemons it
started (by the PIDs it recorded) and removes the directory. As a pytest fixture the daemons also
get ``PR_SET_PDEATHSIG`` (setpriv), so they die with the test process even if it is killed.

Command line (for trying things by hand)::

    python tests/slurm_cluster.py start          # prints the directory and SLURM_CONF
    SLURM_CONF=<dir>/slurm.conf sbatch ...
    python tests/slurm_cluster.py stop <dir>
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator, Optional

import pytest

SPOOL = Path("/var/spool/seedkit-test")
DAEMONS = ("/usr/sbin/munged", "/usr/sbin/slurmctld", "/usr/sbin/slurmd")
CLIENTS = ("sbatch", "squeue", "scancel", "sinfo", "scontrol")
GPUS = 2  # count-only gres/gpu on the node


class ClusterError(RuntimeError):
    pass


def missing_requirements() -> Optional[str]:
    """Why this machine cannot run the cluster (None when it can)."""
    if os.geteuid() != 0:
        return "they must run as root (slurmd starts jobs as their user; munged as 'munge')"
    absent = [p for p in DAEMONS if not os.access(p, os.X_OK)]
    absent += [c for c in CLIENTS if shutil.which(c) is None]
    for tool in ("setpriv",):
        if shutil.which(tool) is None:
            absent.append(tool)
    try:
        import pwd
        pwd.getpwnam("munge")
    except KeyError:
        absent.append("user 'munge'")
    if absent:
        return ("missing: " + ", ".join(absent) + "; install the apt packages slurm-wlm and munge "
                "(bash tools/install.sh does, as root)")
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _mem_mb() -> int:
    with open("/proc/meminfo", encoding="ascii") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    raise ClusterError("cannot read MemTotal from /proc/meminfo")


class SlurmCluster:
    def __init__(self, base: Optional[Path] = None, die_with_parent: bool = True):
        self.base = base
        self.die_with_parent = die_with_parent
        self.node = socket.gethostname().split(".")[0]
        # The node declares at least what the recipes' cmd.sh asks for in slurm mode (extract_cmd
        # --num-threads 4 --mem 16G, seed_cmd --num-threads 8 --mem 64G), more than a CI machine
        # may have (config_overrides lets slurmd accept that): jobs then share the real cores, as
        # run.pl's do. Memory is not a consumable resource here (CR_Core).
        self.cpus = max(os.cpu_count() or 1, 8)
        self.mem_mb = max(_mem_mb(), 65536)
        self.pids: dict[str, int] = {}
        self.procs: dict[str, subprocess.Popen] = {}

    # ---------------------------------------------------------------------------------- paths
    @property
    def conf(self) -> Path:
        assert self.base is not None
        return self.base / "slurm.conf"

    def env(self, **extra: str) -> dict[str, str]:
        """os.environ with SLURM_CONF pointing at this cluster."""
        return {**os.environ, "SLURM_CONF": str(self.conf), **extra}

    def run(self, *cmd: str, check: bool = True, timeout: float = 30) -> str:
        r = subprocess.run(cmd, env=self.env(), capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise ClusterError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()}")
        return r.stdout

    # ---------------------------------------------------------------------------------- start
    def start(self, timeout: float = 60) -> "SlurmCluster":
        why = missing_requirements()
        if why:
            raise ClusterError(why)
        if self.base is None:
            SPOOL.mkdir(parents=True, exist_ok=True)
            self.base = Path(tempfile.mkdtemp(prefix="cluster-", dir=SPOOL))
        base = self.base
        base.chmod(0o755)  # munged (user munge) must reach its directory
        try:
            self._write_config()
            self._start_munge()
            self._start("slurmctld", ["/usr/sbin/slurmctld", "-D", "-i", "-f", str(self.conf)])
            self._start("slurmd", ["/usr/sbin/slurmd", "-D", "-N", self.node, "-f",
                                   str(self.conf)])
            self._wait_idle(timeout)
        except (ClusterError, OSError, subprocess.SubprocessError) as e:
            logs = self.log_tails()
            self.stop()
            raise ClusterError(f"the test Slurm cluster did not come up: {e}; its logs:\n"
                               f"{logs}") from None
        except BaseException:
            self.stop()
            raise
        return self

    def _write_config(self) -> None:
        base = self.base
        assert base is not None
        for d in ("state", "spool", "munge"):
            (base / d).mkdir(exist_ok=True)
        ctld_port, d_port = free_port(), free_port()
        while d_port == ctld_port:
            d_port = free_port()
        (base / "slurm.conf").write_text(f"""\
# written by tests/slurm_cluster.py: a one-node test cluster; everything lives in {base}
ClusterName=seedkit-test
SlurmctldHost={self.node}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={base}/munge/munge.socket
StateSaveLocation={base}/state
SlurmdSpoolDir={base}/spool
SlurmctldPidFile={base}/slurmctld.pid
SlurmdPidFile={base}/slurmd.pid
SlurmctldLogFile={base}/slurmctld.log
SlurmdLogFile={base}/slurmd.log
SlurmctldDebug=info
SlurmdDebug={os.environ.get("SEEDKIT_SLURMD_DEBUG", "info")}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
KillWait=2
MessageTimeout=10
GresTypes=gpu
SlurmdParameters=config_overrides
NodeName={self.node} NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory={self.mem_mb} \
Gres=gpu:{GPUS} State=UNKNOWN
PartitionName=test Nodes={self.node} Default=YES MaxTime=INFINITE State=UP
""")
        # Slurm drops GPUs without a File; plain files stand in for the device nodes
        for i in range(GPUS):
            (base / f"fake-gpu{i}").touch()
        (base / "gres.conf").write_text(f"NodeName={self.node} Name=gpu "
                                        f"File={base}/fake-gpu[0-{GPUS - 1}]\n")

    def _launcher(self, user: Optional[str] = None) -> list[str]:
        cmd = ["setpriv"]
        if user:
            cmd += [f"--reuid={user}", f"--regid={user}", "--init-groups"]
        if self.die_with_parent:
            cmd += ["--pdeathsig", "TERM"]
        return cmd + ["--"]

    def _start(self, name: str, cmd: list[str], user: Optional[str] = None) -> None:
        assert self.base is not None
        out = open(self.base / f"{name}.out", "wb")
        p = subprocess.Popen(self._launcher(user) + cmd, env=self.env(), stdin=subprocess.DEVNULL,
                             stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        out.close()
        self.procs[name] = p
        self.pids[name] = p.pid  # setpriv execs: the PID is the daemon's
        (self.base / "pids.json").write_text(json.dumps(self.pids))
        time.sleep(0.2)
        if p.poll() is not None:
            raise ClusterError(f"{name} exited at once (status {p.returncode})")

    def _start_munge(self) -> None:
        base = self.base
        assert base is not None
        mdir = base / "munge"
        key = mdir / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        shutil.chown(mdir, "munge", "munge")
        shutil.chown(key, "munge", "munge")
        mdir.chmod(0o755)  # munged: the socket's directory must be searchable by all
        self._start("munged", ["/usr/sbin/munged", "-F", f"--socket={mdir}/munge.socket",
                               f"--key-file={key}", f"--pid-file={mdir}/munged.pid",
                               f"--log-file={mdir}/munged.log", f"--seed-file={mdir}/munged.seed"],
                    user="munge")
        deadline = time.time() + 10
        while not (mdir / "munge.socket").exists():
            if time.time() > deadline or self.procs["munged"].poll() is not None:
                raise ClusterError("munged did not create its socket")
            time.sleep(0.05)

    def _wait_idle(self, timeout: float) -> None:
        deadline = time.time() + timeout
        state = ""
        while time.time() < deadline:
            for name, p in self.procs.items():
                if p.poll() is not None:
                    raise ClusterError(f"{name} exited (status {p.returncode})")
            r = subprocess.run(["sinfo", "-h", "-N", "-o", "%T"], env=self.env(),
                               capture_output=True, text=True, timeout=20)
            state = r.stdout.strip()
            if r.returncode == 0 and state == "idle":
                return
            time.sleep(0.2)
        raise ClusterError(f"node {self.node} not idle after {timeout:.0f} s (state '{state}')")

    def log_tails(self, lines: int = 15) -> str:
        if self.base is None or not self.base.is_dir():
            return ""
        out = []
        for f in ("slurmctld.log", "slurmd.log", "munge/munged.log", "slurmctld.out",
                  "slurmd.out", "munged.out"):
            p = self.base / f
            if p.is_file():
                text = p.read_text(errors="replace").splitlines()[-lines:]
                out.append(f"--- {p}\n" + "\n".join(text))
        return "\n".join(out)

    # ---------------------------------------------------------------------------------- jobs
    def jobs(self) -> list[str]:
        """Ids of the jobs (array tasks) the cluster still holds as pending/running/completing."""
        out = self.run("squeue", "-h", "-r", "-t", "PD,R,CG,CF,S", "-o", "%i", check=False)
        return out.split()

    def cancel_all(self, timeout: float = 20) -> None:
        ids = sorted({j.split("_")[0] for j in self.jobs()})
        if ids:
            self.run("scancel", *ids, check=False)
        deadline = time.time() + timeout
        while self.jobs() and time.time() < deadline:
            time.sleep(0.2)

    # ---------------------------------------------------------------------------------- stop
    def stop(self, keep: bool = False) -> None:
        """Cancel the jobs, end the daemons this object started, remove the directory."""
        if self.procs.get("slurmctld") and self.procs["slurmctld"].poll() is None:
            try:
                self.cancel_all()
            except (ClusterError, subprocess.TimeoutExpired, OSError):
                pass
        for name in ("slurmd", "slurmctld", "munged"):
            p = self.procs.get(name)
            if p is not None:
                _end(p)
        if self.base is not None and not keep:
            shutil.rmtree(self.base, ignore_errors=True)


def running_cluster(who: str) -> Iterator[SlurmCluster]:
    """The body of a pytest fixture (``yield from``): a started cluster, stopped afterwards; the
    test fails, naming what is missing, where this machine cannot run one (``who`` needs it)."""
    why = missing_requirements()
    if why:
        pytest.fail(f"{who} need a one-node Slurm cluster on this machine: {why}", pytrace=False)
    c = SlurmCluster()
    try:
        c.start()
    except ClusterError as e:
        pytest.fail(str(e), pytrace=False)
    yield c
    c.stop()


def _end(p: subprocess.Popen, wait: float = 10) -> None:
    if p.poll() is not None:
        return
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(wait)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(5)


def _stop_dir(base: Path) -> None:
    """The command line's stop: the daemons listed in <base>/pids.json, if still those."""
    c = SlurmCluster(base, die_with_parent=False)
    try:
        c.cancel_all()
    except (ClusterError, subprocess.TimeoutExpired, OSError):
        pass
    pids = json.loads((base / "pids.json").read_text())
    for name in ("slurmd", "slurmctld", "munged"):
        pid = pids.get(name)
        if pid is None:
            continue
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            continue  # gone
        if not exe.endswith(name) and not exe.endswith(name + "-wlm"):
            continue  # the PID was reused by another program
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            if not Path(f"/proc/{pid}").exists():
                break
            time.sleep(0.1)
    shutil.rmtree(base, ignore_errors=True)


def main(argv: list[str]) -> int:
    if len(argv) >= 1 and argv[0] == "start":
        try:
            c = SlurmCluster(Path(argv[1]) if len(argv) > 1 else None,
                             die_with_parent=False).start()
        except ClusterError as e:
            print(f"ERROR (slurm_cluster.py): {e}", file=sys.stderr)
            return 1
        print(f"{c.base}\nexport SLURM_CONF={c.conf}")
        return 0
    if len(argv) == 2 and argv[0] == "stop":
        _stop_dir(Path(argv[1]))
        return 0
    print("usage: python tests/slurm_cluster.py start [DIR] | stop DIR", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
