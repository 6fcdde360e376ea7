#!/usr/bin/env bash
# Installs the system packages rankflow's tests need, when they are missing:
#   - nats-server (Debian package), for the NATS transport's tests;
#   - Mesa's Vulkan drivers >= 25 from bookworm-backports (lavapipe), so that
#     WebGPU (Dawn) runs on the CPU on machines without a GPU;
#   - Python 3 with cbor2 and msgpack (python3-cbor2, python3-msgpack), for the
#     interop tests: a Python rank joins a NATS job, Python reads our CBOR and MessagePack;
#   - Chromium (Debian's chromium), for the dashboard's browser tests (driven by
#     playwright-core, which downloads no browser).
# Where it cannot install (not root, not Debian), it prints what to install and
# why, and exits 0: the suites that need the missing part fail with advice of
# their own (the GPU suites with GpuUnavailable, which names the drivers it
# looked for and what to install), the others still run.
set -uo pipefail

MESA_MIN_MAJOR=25
missing=()

have_nats() { command -v nats-server >/dev/null 2>&1; }

mesa_major() {
  dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null | sed -E 's/^([0-9]+:)?([0-9]+).*/\2/'
}
have_lavapipe() {
  local major
  major=$(mesa_major)
  [ -n "$major" ] && [ "$major" -ge "$MESA_MIN_MAJOR" ] 2>/dev/null
}

# Debian's python3 is where python3-cbor2 and python3-msgpack install (a pyenv or venv python3 may come first on PATH).
have_python_codecs() {
  for py in /usr/bin/python3 python3; do
    "$py" -c 'import cbor2, msgpack' >/dev/null 2>&1 && return 0
  done
  return 1
}

have_chromium() { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; }

have_nats || missing+=(nats)
have_chromium || missing+=(chromium)
have_python_codecs || missing+=(python)
have_lavapipe || missing+=(mesa)
[ ${#missing[@]} -eq 0 ] && exit 0

advice() {
  cat >&2 <<'MSG'
rankflow: some system packages its tests need are missing.
  - nats-server: the NATS transport's tests start real servers on loopback.
      Debian/Ubuntu:  apt-get install nats-server
      elsewhere:      put a nats-server (2.9 or newer) binary on PATH
  - Python 3 with the cbor2 and msgpack modules: the interop tests run a Python rank.
      Debian/Ubuntu:  apt-get install python3 python3-cbor2 python3-msgpack
      elsewhere:      pip install cbor2 msgpack
  - Chromium: the dashboard's tests open its page in a headless browser.
      Debian:         apt-get install chromium
      Ubuntu:         apt-get install chromium-browser (or a chromium on PATH)
  - Mesa's Vulkan drivers, version 25 or newer (lavapipe): WebGPU runs on the CPU
    where there is no GPU. On Debian 12 (bookworm) they come from backports:
      echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/bookworm-backports.list
      apt-get update && apt-get install -t bookworm-backports mesa-vulkan-drivers
Run `npm run setup:system` as root on Debian to install them automatically.
MSG
}

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1 || ! grep -qi debian /etc/os-release 2>/dev/null; then
  echo "rankflow: cannot install system packages here (needs root on Debian); missing: ${missing[*]}" >&2
  advice
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
echo "rankflow: installing missing system packages (${missing[*]}) from Debian ${codename}…" >&2

if [[ " ${missing[*]} " == *" mesa "* ]] && [ "$codename" = "bookworm" ]; then
  if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/bookworm-backports.list
  fi
fi

apt_quiet() { apt-get -q -o Dpkg::Use-Pty=0 "$@" >/tmp/rankflow-apt.log 2>&1 || { tail -n 20 /tmp/rankflow-apt.log >&2; return 1; }; }

apt_quiet update || { echo "rankflow: apt-get update failed" >&2; advice; exit 0; }
if [[ " ${missing[*]} " == *" nats "* ]]; then
  apt_quiet install -y --no-install-recommends nats-server || { echo "rankflow: could not install nats-server" >&2; advice; }
fi
if [[ " ${missing[*]} " == *" python "* ]]; then
  apt_quiet install -y --no-install-recommends python3 python3-cbor2 python3-msgpack || { echo "rankflow: could not install python3-cbor2 and python3-msgpack" >&2; advice; }
fi
if [[ " ${missing[*]} " == *" chromium "* ]]; then
  apt_quiet install -y --no-install-recommends chromium || { echo "rankflow: could not install chromium" >&2; advice; }
fi
if [[ " ${missing[*]} " == *" mesa "* ]]; then
  if [ "$codename" = "bookworm" ]; then
    apt_quiet install -y --no-install-recommends -t bookworm-backports mesa-vulkan-drivers
  else
    apt_quiet install -y --no-install-recommends mesa-vulkan-drivers
  fi
  have_lavapipe || { echo "rankflow: could not install mesa-vulkan-drivers >= ${MESA_MIN_MAJOR}" >&2; advice; }
fi
have_nats && have_lavapipe && have_python_codecs && have_chromium && echo "rankflow: system packages ready (nats-server, python3-cbor2, python3-msgpack, chromium, mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers))" >&2
exit 0
