#!/usr/bin/env bash
# A real Slurm cluster on this machine for tests/deploy/slurm_test.py: munged, slurmctld
# and two slurmd, each an emulated node with its own port, all on loopback:
#   c1  partition "cpu"  (the judges' node)
#   g1  partition "gpu"  (the learner's and actors' node; no GPUs here)
# No cgroup plugins (proctrack/linuxproc, task/none): they need systemd or a delegated
# cgroup tree, which a test machine does not have.
#
#   slurm_cluster.sh start DIR     writes DIR/slurm.conf, starts the daemons, waits for both nodes idle
#   slurm_cluster.sh stop DIR      stops them (also after a failed start)
# Clients use the cluster with SLURM_CONF=DIR/slurm.conf.
set -euo pipefail
cmd=$1
dir=$(realpath -m "$2")
export SLURM_CONF=$dir/slurm.conf

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

stop() {
  for f in "$dir"/slurmd-*.pid "$dir"/slurmctld.pid; do
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
  done
  [ -f "$dir/munged.pid" ] && kill "$(cat "$dir/munged.pid")" 2>/dev/null || true
  sleep 1
  pkill -f -- "-f $dir/slurm.conf" 2>/dev/null || true
}

if [ "$cmd" = stop ]; then stop; exit 0; fi
[ "$cmd" = start ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }

for tool in munged slurmctld slurmd sbatch scontrol; do
  command -v "$tool" >/dev/null || { echo "slurm_cluster: $tool is missing (scripts/setup.sh installs slurm-wlm and munge)" >&2; exit 1; }
done
mkdir -p "$dir"/state "$dir"/spool "$dir"/munge
chmod 755 "$dir"  # munged runs as the munge user: it must reach DIR/munge
chown munge:munge "$dir/munge"
# munge: its own socket and key in DIR, running as the munge user (it refuses root).
if [ ! -f "$dir/munge/munge.key" ]; then
  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chown munge:munge "$dir/munge/munge.key"
  chmod 400 "$dir/munge/munge.key"
fi
socket=$dir/munge/munge.socket
runuser -u munge -- munged --socket="$socket" --key-file="$dir/munge/munge.key" \
  --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/seed" --force
cp "$dir/munge/munged.pid" "$dir/munged.pid"

ctld_port=$(free_port); c1_port=$(free_port); g1_port=$(free_port)
cpus=$(nproc)
host=$(hostname)
cat > "$SLURM_CONF" <<CONF
ClusterName=crucible-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$socket
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd-%n.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
SchedulerType=sched/backfill
SchedulerParameters=defer_batch
KillWait=20
MinJobAge=600
SlurmdTimeout=60
InactiveLimit=0
NodeName=c1 NodeHostname=$host NodeAddr=127.0.0.1 Port=$c1_port CPUs=$cpus State=UNKNOWN
NodeName=g1 NodeHostname=$host NodeAddr=127.0.0.1 Port=$g1_port CPUs=$cpus State=UNKNOWN
PartitionName=cpu Nodes=c1 Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
PartitionName=gpu Nodes=g1 MaxTime=INFINITE State=UP OverSubscribe=YES
CONF

slurmctld -f "$SLURM_CONF" -i
slurmd -f "$SLURM_CONF" -N c1
slurmd -f "$SLURM_CONF" -N g1
for _ in $(seq 1 60); do
  if [ "$(sinfo -h -N -o '%N %t' 2>/dev/null | grep -c idle)" = 2 ]; then
    echo "slurm_cluster: up (slurmctld :$ctld_port, c1 :$c1_port, g1 :$g1_port; SLURM_CONF=$SLURM_CONF)"
    exit 0
  fi
  sleep 0.5
done
echo "slurm_cluster: nodes did not come up:" >&2
sinfo -N >&2 || true
tail -20 "$dir/slurmctld.log" "$dir"/slurmd-*.log >&2 || true
exit 1
