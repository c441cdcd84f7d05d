#!/usr/bin/env bash
# Installs the Debian packages the shop needs, only those missing. Safe to run twice.
#   base: python3-venv (the virtualenv), gettext (translations), Pango + HarfBuzz subsetter
#         (WeasyPrint, for the invoice PDFs), a CJK font with real bold
#   test: Debian's chromium for the browser tier
#   bench: wrk for `make bench`, and redis-server for its worker run (a private instance)
#   scan: the outside scanners `make scan` runs against the shop on 127.0.0.1 (wapiti, sqlmap)
# apt's own output goes to var/log/apt-install.log and is shown only when it fails.
set -euo pipefail
cd "$(dirname "$0")/.."

groups=("$@")
[ ${#groups[@]} -gt 0 ] || groups=(base)

packages=()
for group in "${groups[@]}"; do
  case "$group" in
    base) packages+=(python3-venv gettext libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk) ;;
    test) packages+=(chromium) ;;
    bench) packages+=(wrk redis-server) ;;
    scan) packages+=(wapiti sqlmap) ;;
    *) echo "unknown package group: $group" >&2; exit 2 ;;
  esac
done

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "Missing packages ${missing[*]}: install them as root." >&2; exit 1; }
  sudo="sudo"
fi
log=var/log/apt-install.log
mkdir -p "$(dirname "$log")"
echo "==> Debian packages: ${missing[*]} (apt's output: $log)"
if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
  --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  tail -n 30 "$log" >&2
  echo "installing ${missing[*]} failed; the whole output is in $log" >&2
  exit 1
fi
