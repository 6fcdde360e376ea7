#!/usr/bin/env bash
# Installs the baseline of `npm run bench:mpi`: Open MPI and mpi4py from
# Debian (openmpi-bin, python3-mpi4py, python3-numpy). Only the benchmark
# needs them; the test suite never does. Run as root on Debian; elsewhere it
# says what to install and exits 1.
set -uo pipefail

# Debian's packages go to Debian's Python (/usr/bin/python3), which may not be the python3 on PATH.
have() {
  command -v mpiexec >/dev/null 2>&1 &&
    { python3 -c "import mpi4py, numpy" >/dev/null 2>&1 || /usr/bin/python3 -c "import mpi4py, numpy" >/dev/null 2>&1; }
}
have && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  cat >&2 <<'MSG'
rankflow: the MPI benchmark's baseline (Open MPI through mpi4py) is not installed.
  Debian/Ubuntu (as root):  apt-get install openmpi-bin python3-mpi4py python3-numpy
  elsewhere:                install Open MPI, then `pip install mpi4py numpy`
MSG
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "rankflow: installing Open MPI and mpi4py from Debian for the benchmark…" >&2
apt-get -q -o Dpkg::Use-Pty=0 update >/tmp/rankflow-apt.log 2>&1 &&
  apt-get -q -o Dpkg::Use-Pty=0 install -y --no-install-recommends openmpi-bin python3-mpi4py python3-numpy >>/tmp/rankflow-apt.log 2>&1 ||
  { tail -n 20 /tmp/rankflow-apt.log >&2; exit 1; }
have || { echo "rankflow: installed, but mpiexec or mpi4py still cannot be found" >&2; exit 1; }
