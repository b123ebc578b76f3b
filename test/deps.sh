#!/usr/bin/env bash
# test/deps.sh — install the Debian packages ntg needs to build and test (sourced or run).
# Installs only what is missing; uses sudo when not root.  NTG_SKIP_DEPS=1 skips the whole step.
set -euo pipefail

NTG_BUILD_PACKAGES="make gcc pkgconf postgresql-15 postgresql-server-dev-15 libpcap-dev libopenblas-dev"
# chromium: test/tap/fidelity_svg.t renders the radar chart headless and checks the screenshot
# tshark: test/tap/pcap_write.t checks written captures with Wireshark's dissectors
# postgresql-15-cron: test/tap/jobs.t schedules jobs with pg_cron
# python3-yaml: test/tap/capture_flowtest.t reads the FlowTest suite's annotations
# clang, libclang-rt-14-dev (libFuzzer): test/tap/fuzz_smoke.t builds the fuzz targets with ASan and UBSan
NTG_TEST_PACKAGES="postgresql-15-pgtap postgresql-15-cron libtap-parser-sourcehandler-pgtap-perl python3 python3-numpy python3-yaml tcpdump chromium tshark clang libclang-rt-14-dev"

ntg_install_packages() {
	[ "${NTG_SKIP_DEPS:-0}" = 1 ] && return 0
	local missing=() pkg sudo=()
	for pkg in "$@"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" -ne 0 ] && sudo=(sudo)
	echo "installing: ${missing[*]}"
	"${sudo[@]}" apt-get update -qq
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	# shellcheck disable=SC2086
	ntg_install_packages $NTG_BUILD_PACKAGES $NTG_TEST_PACKAGES
fi
