#!/usr/bin/env bash
# One entry point for a fresh Debian 12 machine: installs what the station needs
# (mosquitto from Debian, a virtualenv with the package) and then runs one job.
#   ./setup.sh demo   - a scripted pooled-sampling session on simulated devices
#   ./setup.sh test   - the whole test suite
#   ./setup.sh install | install-central [--root DIR]   - a lane's service, central's
set -euo pipefail
cd "$(dirname "$0")"

job="${1:-}"
case "$job" in
  demo|test) ;;
  # The lane's service on a Pi: its own script, its own packages (no dev tools).
  install) shift; exec "$(dirname "$0")/scripts/install-station" "$@" ;;
  # Central's collector and reports on a server: a virtualenv of its own, never the
  # system's Python (Debian 12 refuses a pip install there, and its packages are Debian's).
  install-central) shift; exec "$(dirname "$0")/scripts/install-central" "$@" ;;
  *) echo "usage: ./setup.sh demo|test|install|install-central [--root DIR]" >&2; exit 2 ;;
esac

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
lean=()   # installed without their recommended packages
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
command -v mosquitto_sub >/dev/null 2>&1 || missing+=(mosquitto-clients)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)   # the TLS tests make their own PKI
# The collector's PostgreSQL test starts its own throwaway cluster from these binaries.
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
# A font with Chinese, for label previews (PNG) of names and handover slips.
[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || missing+=(fonts-wqy-microhei)
# zbar: an outside decoder that must read every label preview back (tests).
command -v zbarimg >/dev/null 2>&1 || missing+=(zbar-tools)
if [ "$job" = test ]; then
  # Node: the official AsyncAPI parser and ajv check the MQTT contract.
  command -v node >/dev/null 2>&1 || missing+=(nodejs)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
  # The spoken prompts: espeak-ng's Mandarin renders them, ALSA's aplay plays them.
  command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
  command -v aplay >/dev/null 2>&1 || missing+=(alsa-utils)
  # The kiosk page is checked in the browser a lane's screen runs.
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  # Power cuts that drop unsynced writes: a FUSE filesystem on Debian's libfuse3.
  command -v fusermount3 >/dev/null 2>&1 || missing+=(fuse3)
  # station bench --pi compiles its fsync-delay shim with the machine's C compiler.
  command -v cc >/dev/null 2>&1 || missing+=(gcc)
  # The Chinese register is opened by a spreadsheet nobody here wrote: LibreOffice.
  # (Without their recommends: those add AppArmor, a node exporter service, Java bits.)
  command -v soffice >/dev/null 2>&1 || lean+=(libreoffice-calc-nogui)
  # pdftotext and pdfinfo read back the PDFs a clerk prints (report --format pdf).
  command -v pdftotext >/dev/null 2>&1 || missing+=(poppler-utils)
  # promtool (Debian's prometheus) checks the example alert rules on the collector's metrics.
  command -v promtool >/dev/null 2>&1 || lean+=(prometheus)
  # The failover tests run central's PostgreSQL as a city does: under Patroni, its leader
  # lock in a three-member etcd, the collector sent to the leader by HAProxy.
  command -v patroni >/dev/null 2>&1 || missing+=(patroni)
  command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
  command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
  # The install test verifies the unit offline with systemd-analyze.
  command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
fi
if [ $(( ${#missing[@]} + ${#lean[@]} )) -gt 0 ]; then
  echo "setup: installing ${missing[*]} ${lean[*]} from Debian packages"
  sudo_if_needed apt-get update -qq
  if [ ${#missing[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  if [ ${#lean[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq \
      --no-install-recommends "${lean[@]}" >/dev/null
  fi
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install -q --disable-pip-version-check -e '.[dev]'

case "$job" in
  demo) exec .venv/bin/station demo ;;
  test)
    # The contract's outside checkers, pinned by tests/node/package-lock.json.
    if [ ! -d tests/node/node_modules ] || [ tests/node/package-lock.json -nt tests/node/node_modules ]; then
      npm ci --prefix tests/node --no-audit --no-fund --loglevel=error
      touch tests/node/node_modules
    fi
    .venv/bin/ruff check station drivers contract central tools tests scripts
    .venv/bin/mypy
    # -rs lists every skip; NATEST_STRICT_SKIPS fails the run on any skip that is not in
    # the short allow-list of tests/skips.py (real hardware only).
    NATEST_STRICT_SKIPS=1 exec .venv/bin/python -m pytest -q -rs ;;
esac
