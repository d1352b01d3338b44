#!/usr/bin/env bash
# Package checks, run by .ci/run before `make test` (or by hand: make deb-check).
#
#  1. builds the amd64, arm64 and armhf debs (packaging/build-deb.sh);
#  2. inspects each with dpkg-deb: control fields, conffiles, every path
#     with its mode and owner, and how the binary was built;
#  3. verifies the systemd unit (systemd-analyze verify, failing on any
#     warning) and prints and bounds its `systemd-analyze security` exposure;
#  4. runs each packaged binary (amd64 natively, arm64 and armhf under
#     qemu-user, armhf on an ARMv6 CPU model): `version`, `check` on the
#     packaged config, and a short `run --demo` answering /healthz with the
#     demo camera streaming;
#  5. as root: installs the amd64 deb with dpkg (systemd is not PID 1
#     here), runs the installed binary, reinstalls and upgrades it keeping
#     an edited conffile, removes it (config and user stay) and purges it
#     (both go), then runs the maintainer scripts' useradd/userdel fallback.
#
# Leaves the machine as it found it: the package is purged and temporary
# files removed on every exit path.
#
# Needs: go, dpkg-deb, systemd-analyze, qemu-user-static, curl, and root
# for step 5 (skipped otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
VERSION=${VERSION:-$(sh packaging/version.sh)}
export GO VERSION

start=$SECONDS
step() { printf '\n== %s  [%ds]\n' "$*" $((SECONDS - start)); }
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
ok() { echo "ok   $*"; }
# expect WHAT GOT WANT
expect() {
	[ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
	ok "$1: $3"
}

work=$(mktemp -d)
bg_pid=
installed_here=
cleanup() {
	local rc=$?
	if [ -n "$bg_pid" ]; then
		kill -KILL "$bg_pid" 2>/dev/null || true
		wait "$bg_pid" 2>/dev/null || true
	fi
	if [ -n "$installed_here" ]; then
		if dpkg-query -W -f='${db:Status-Status}' edgecam 2>/dev/null | grep -qv '^not-installed$'; then
			dpkg -P edgecam >/dev/null 2>&1 || true
		fi
		getent passwd edgecam >/dev/null && userdel edgecam 2>/dev/null || true
		getent group edgecam >/dev/null && groupdel edgecam 2>/dev/null || true
	fi
	rm -rf "$work"
	if [ $rc -eq 0 ]; then
		printf '\npackage checks passed in %ds\n' $((SECONDS - start))
	else
		printf '\npackage checks FAILED after %ds\n' $((SECONDS - start)) >&2
	fi
}
trap cleanup EXIT

arches=(amd64 arm64 armhf)
deb() { echo "dist/edgecam_${VERSION}_$1.deb"; }

step "build edgecam $VERSION for ${arches[*]}"
sh packaging/build-deb.sh "${arches[@]}"

# ---------------------------------------------------------------------------
step "inspect the packages (dpkg-deb)"

# Every path in the data archive, with mode and owner. Any file added or
# dropped, or a changed mode, fails here on purpose: update the list.
expected_tree="drwxr-xr-x root/root ./etc/
drwxr-xr-x root/root ./etc/edgecam/
-rw-r----- root/root ./etc/edgecam/config.yaml
drwxr-xr-x root/root ./lib/
drwxr-xr-x root/root ./lib/systemd/
drwxr-xr-x root/root ./lib/systemd/system/
-rw-r--r-- root/root ./lib/systemd/system/edgecam.service
drwxr-xr-x root/root ./usr/
drwxr-xr-x root/root ./usr/bin/
-rwxr-xr-x root/root ./usr/bin/edgecam
drwxr-xr-x root/root ./usr/share/
drwxr-xr-x root/root ./usr/share/doc/
drwxr-xr-x root/root ./usr/share/doc/edgecam/
-rw-r--r-- root/root ./usr/share/doc/edgecam/README.md
-rw-r--r-- root/root ./usr/share/doc/edgecam/config.example.yaml
drwxr-xr-x root/root ./usr/share/doc/edgecam/docs/
-rw-r--r-- root/root ./usr/share/doc/edgecam/docs/api.md
-rw-r--r-- root/root ./usr/share/doc/edgecam/docs/configuration.md
-rw-r--r-- root/root ./usr/share/doc/edgecam/docs/discover.md
-rw-r--r-- root/root ./usr/share/doc/edgecam/docs/install.md
-rw-r--r-- root/root ./usr/share/doc/edgecam/docs/page.md
-rw-r--r-- root/root ./usr/share/doc/edgecam/docs/performance.md
-rw-r--r-- root/root ./usr/share/doc/edgecam/docs/security.md"

for arch in "${arches[@]}"; do
	f=$(deb "$arch")
	[ -f "$f" ] || fail "$f was not built"
	expect "$arch Package" "$(dpkg-deb -f "$f" Package)" edgecam
	expect "$arch Version" "$(dpkg-deb -f "$f" Version)" "$VERSION"
	expect "$arch Architecture" "$(dpkg-deb -f "$f" Architecture)" "$arch"
	expect "$arch Depends (static binary)" "$(dpkg-deb -f "$f" Depends)" ""
	expect "$arch Recommends" "$(dpkg-deb -f "$f" Recommends)" ffmpeg
	expect "$arch conffiles" "$(dpkg-deb --info "$f" conffiles)" /etc/edgecam/config.yaml
	for s in postinst prerm postrm; do
		dpkg-deb --info "$f" "$s" >"$work/$s"
		sh -n "$work/$s" || fail "$arch $s: not valid sh"
		cmp -s "$work/$s" "packaging/deb/$s" || fail "$arch $s differs from packaging/deb/$s"
	done
	ok "$arch maintainer scripts: postinst prerm postrm"
	tree=$(dpkg-deb -c "$f" | awk '{print $1, $2, $6}')
	if [ "$tree" != "$expected_tree" ]; then
		diff <(echo "$expected_tree") <(echo "$tree") >&2 || true
		fail "$arch: package contents differ (- expected, + built)"
	fi
	ok "$arch contents: $(echo "$tree" | grep -c '^-') files, modes and owners as expected"

	mkdir -p "$work/$arch"
	dpkg-deb -x "$f" "$work/$arch"
	bin=$work/$arch/usr/bin/edgecam
	info=$("$GO" version -m "$bin")
	goarch=$arch
	[ "$arch" = armhf ] && goarch=arm
	for want in "build	GOARCH=$goarch" "build	CGO_ENABLED=0" "build	-trimpath=true"; do
		grep -qF "$want" <<<"$info" || fail "$arch binary: no '$want' in go version -m"
	done
	goarm_note=
	if [ "$arch" = armhf ]; then
		grep -qF "build	GOARM=6" <<<"$info" || fail "armhf binary is not GOARM=6"
		goarm_note=" GOARM=6"
	fi
	ok "$arch binary: static (CGO_ENABLED=0), -trimpath, GOARCH=$goarch${goarm_note:-}"
done
cmp -s "$work/amd64/etc/edgecam/config.yaml" <(sh packaging/installed-config.sh config.example.yaml) ||
	fail "packaged config.yaml is not config.example.yaml with the cameras commented out"
# The commented-out example cameras must stay valid when uncommented, so
# the installed file's instructions keep working as the config grows.
sed -e 's/^cameras: \[\]$/cameras:/' -e '/^cameras:/,$ s/^#\(  \)/\1/' \
	"$work/amd64/etc/edgecam/config.yaml" >"$work/uncommented.yaml"
"$work/amd64/usr/bin/edgecam" check --config "$work/uncommented.yaml" >"$work/out" ||
	{ cat "$work/out"; fail "the installed config's example cameras are invalid once uncommented"; }
grep -q '^camera press-1 ' "$work/out" || fail "uncommented example: camera press-1 missing"
ok "installed config = example with cameras commented out; uncommented, it passes check"

# ---------------------------------------------------------------------------
step "systemd unit"
unit_dir=$work/unit
mkdir -p "$unit_dir"
sed "s#/usr/bin/edgecam#$work/amd64/usr/bin/edgecam#" systemd/edgecam.service >"$unit_dir/edgecam.service"
# verify exits 0 on unknown keys and bad values: any output is a failure.
if ! systemd-analyze verify "$unit_dir/edgecam.service" >"$work/verify" 2>&1 || [ -s "$work/verify" ]; then
	cat "$work/verify" >&2
	fail "systemd-analyze verify systemd/edgecam.service"
fi
ok "systemd-analyze verify: clean"
for key in 'Type=notify' 'NotifyAccess=main' 'WatchdogSec=' 'Restart=on-failure' \
	'ExecReload=/bin/sh -c '\''/usr/bin/edgecam check --quiet --no-bind --config /etc/edgecam/config.yaml && kill -HUP "$MAINPID"'\''' 'User=edgecam' 'PrivateDevices=yes' \
	'ProtectSystem=strict' 'StateDirectory=edgecam' 'StateDirectoryMode=0700' 'SystemCallFilter=@system-service' 'MemoryMax='; do
	grep -qF "$key" systemd/edgecam.service || fail "unit lacks $key"
done
ok "unit: notify, watchdog, restart, SIGHUP reload, user edgecam, state directory, sandbox"
systemd-analyze security --offline=true --no-pager "$unit_dir/edgecam.service" >"$work/security" 2>&1 || true
score=$(sed -n 's/.*Overall exposure level for edgecam.service: \([0-9.]*\).*/\1/p' "$work/security")
[ -n "$score" ] || {
	cat "$work/security" >&2
	fail "no exposure score from systemd-analyze security"
}
# 1.1 when written; what is left is inherent to a network service (it
# needs the host's network and inet sockets). Do not let it creep up.
awk -v s="$score" 'BEGIN { exit !(s <= 1.5) }' || {
	grep '✗' "$work/security" >&2 || true
	fail "systemd-analyze security exposure $score > 1.5"
}
ok "systemd-analyze security exposure: $score"

# ---------------------------------------------------------------------------
free_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 40000))
		if ! (: >"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	fail "no free TCP port"
}

# run_binary LABEL ARCH CMD...: version, check and a demo run of a packaged binary.
run_binary() {
	local label=$1 arch=$2
	shift 2
	local cfg=$work/$arch/etc/edgecam/config.yaml
	expect "$label version" "$("$@" version)" "edgecam $VERSION"
	"$@" check --config "$cfg" >"$work/out" 2>&1 || {
		cat "$work/out"
		fail "$label check on the packaged config"
	}
	grep -q ': ok$' "$work/out" || fail "$label check printed no ok"
	ok "$label check on the packaged config"

	local port
	port=$(free_port)
	cat >"$work/demo-$arch.yaml" <<-EOF
		http:
		  listen: "127.0.0.1:$port"
		webrtc:
		  udp_port: 0
		  interfaces: [lo]
	EOF
	local log=$work/demo-$arch.log
	"$@" run --demo --demo-rtsp 127.0.0.1:0 --config "$work/demo-$arch.yaml" >"$log" 2>&1 &
	bg_pid=$!
	local t0=$SECONDS healthy= streaming=
	while [ $((SECONDS - t0)) -lt 40 ]; do
		kill -0 "$bg_pid" 2>/dev/null || break
		if [ -z "$healthy" ] && curl -fsS --max-time 2 "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then
			healthy=$((SECONDS - t0))
		fi
		if [ -n "$healthy" ] && curl -fsS --max-time 2 "http://127.0.0.1:$port/api/cameras" 2>/dev/null |
			grep -q '"state": *"streaming"'; then
			streaming=$((SECONDS - t0))
			break
		fi
		sleep 0.5
	done
	if [ -z "$streaming" ]; then
		cat "$log" >&2
		fail "$label run --demo: healthz ${healthy:-never} answered, demo camera never streaming"
	fi
	# The program adapts GOMAXPROCS to its load (daemon/procs) and says so.
	if [ "$(nproc)" -gt 1 ] && ! grep -q 'go scheduler on one core' "$log"; then
		cat "$log" >&2
		fail "$label run --demo: no 'go scheduler on one core' line: GOMAXPROCS is not adapted to the load"
	fi
	kill -TERM "$bg_pid"
	local rc=0 waited=0
	while kill -0 "$bg_pid" 2>/dev/null && [ $waited -lt 20 ]; do
		sleep 0.5
		waited=$((waited + 1))
	done
	if kill -0 "$bg_pid" 2>/dev/null; then
		cat "$log" >&2
		fail "$label run --demo did not stop within 10 s of SIGTERM"
	fi
	wait "$bg_pid" || rc=$?
	bg_pid=
	[ $rc -eq 0 ] || {
		cat "$log" >&2
		fail "$label run --demo exited $rc after SIGTERM"
	}
	ok "$label run --demo: /healthz after ${healthy}s, camera streaming after ${streaming}s, clean exit on SIGTERM"
}

step "run the packaged binaries (arm under qemu-user)"
command -v qemu-aarch64-static >/dev/null && command -v qemu-arm-static >/dev/null ||
	fail "qemu-user-static is not installed (apt-get install qemu-user-static)"
run_binary "amd64" amd64 "$work/amd64/usr/bin/edgecam"
run_binary "arm64 (qemu cortex-a53)" arm64 qemu-aarch64-static -cpu cortex-a53 "$work/arm64/usr/bin/edgecam"
# ARMv6 (Raspberry Pi Zero/1): a GOARM=7 binary dies with SIGILL here.
run_binary "armhf (qemu arm1176, ARMv6)" armhf qemu-arm-static -cpu arm1176 "$work/armhf/usr/bin/edgecam"
expect "armhf (qemu cortex-a7) version" "$(qemu-arm-static -cpu cortex-a7 "$work/armhf/usr/bin/edgecam" version)" "edgecam $VERSION"

# The packages that handle RTP/H.264 bytes, timestamps, counters and the
# config, on 32-bit ARMv6: where a 32-bit int, 64-bit atomics alignment or
# ARMv6 instructions would show. arm64 is 64-bit little-endian like amd64, so
# `make test` covers that logic and the demo run above its build; skipping
# its unit tests saves about 45 s of a cold CI run. daemon's integration
# tests take a minute under qemu; the demo runs cover that wiring.
arch_pkgs=(./capture/... ./stream/... ./daemon/config)
step "unit tests of ${arch_pkgs[*]} on armhf, ARMv6 (qemu-user)"
# EDGECAM_TEST_EMULATED skips the tests whose receivers, in the test
# process, must keep up with a real sender: qemu cannot.
EDGECAM_TEST_EMULATED=1 CGO_ENABLED=0 GOARCH=arm GOARM=6 "$GO" test -count=1 -timeout 5m \
	-exec 'qemu-arm-static -cpu arm1176' "${arch_pkgs[@]}"

# ---------------------------------------------------------------------------
if [ "$(id -u)" != 0 ]; then
	step "SKIPPED: dpkg install, upgrade, remove and purge need root"
	exit 0
fi

step "install the amd64 package (dpkg -i, systemd not PID 1)"
status() { dpkg-query -W -f='${db:Status-Abbrev}${Version}' edgecam 2>/dev/null || echo "not-known"; }
if [ "$(status)" != not-known ] && [ "$(dpkg-query -W -f='${db:Status-Status}' edgecam)" != not-installed ]; then
	echo "note: purging an edgecam package left on this machine: $(status)"
	dpkg -P edgecam >/dev/null
fi
if getent passwd edgecam >/dev/null || getent group edgecam >/dev/null; then
	fail "an edgecam user or group exists without the package; remove it first (userdel edgecam; groupdel edgecam)"
fi
wants=/etc/systemd/system/multi-user.target.wants/edgecam.service
installed_here=1
dpkg -i "$(deb amd64)" </dev/null
expect "dpkg status" "$(status)" "ii $VERSION"
expect "installed edgecam version" "$(/usr/bin/edgecam version)" "edgecam $VERSION"
IFS=: read -r _ _ uid _ _ home shell <<<"$(getent passwd edgecam)"
expect "user edgecam home" "$home" /nonexistent
expect "user edgecam shell" "$shell" /usr/sbin/nologin
[ "$uid" -lt 1000 ] || fail "user edgecam is not a system user (uid $uid)"
[ ! -e /nonexistent ] || fail "/nonexistent exists"
getent group edgecam >/dev/null || fail "group edgecam missing"
ok "system user edgecam (uid $uid), group edgecam, no home"
expect "config owner and mode" "$(stat -c '%U:%G %a' /etc/edgecam/config.yaml)" "root:edgecam 640"
expect "binary owner and mode" "$(stat -c '%U:%G %a' /usr/bin/edgecam)" "root:root 755"
expect "unit owner and mode" "$(stat -c '%U:%G %a' /lib/systemd/system/edgecam.service)" "root:root 644"
grep -q '/etc/edgecam/config.yaml [0-9a-f]*$' <<<"$(dpkg-query -W -f='${Conffiles}' edgecam)" ||
	fail "dpkg does not list /etc/edgecam/config.yaml as a conffile"
ok "dpkg lists /etc/edgecam/config.yaml as a conffile"
expect "state directory owner and mode" "$(stat -c '%U:%G %a' /var/lib/edgecam)" "edgecam:edgecam 700"
expect "login key owner, mode and size" "$(stat -c '%U:%G %a %s' /var/lib/edgecam/session.key)" "edgecam:edgecam 600 32"
key_sum=$(sha256sum </var/lib/edgecam/session.key)
if command -v systemctl >/dev/null; then
	[ -L "$wants" ] || fail "postinst did not enable edgecam.service for boot"
	ok "enabled for boot without a running systemd ($wants)"
fi
/usr/bin/edgecam check --config /etc/edgecam/config.yaml
# The service runs as edgecam: it must be able to read its 0640 config.
runuser -u edgecam -- /usr/bin/edgecam check --config /etc/edgecam/config.yaml >/dev/null ||
	fail "user edgecam cannot read /etc/edgecam/config.yaml"
ok "edgecam check passes as root and as user edgecam"

step "reinstall and upgrade, keeping an edited conffile"
sed -i 's/^  level: info$/  level: debug/' /etc/edgecam/config.yaml
grep -q '^  level: debug$' /etc/edgecam/config.yaml || fail "could not edit the installed config"
dpkg -i "$(deb amd64)" </dev/null
expect "after reinstall: status" "$(status)" "ii $VERSION"
grep -q '^  level: debug$' /etc/edgecam/config.yaml || fail "reinstall replaced the edited config"
ok "reinstall kept the edited config"
next=${VERSION}+ciupgrade
OUT=$work/next VERSION=$next sh packaging/build-deb.sh amd64 >/dev/null
dpkg -i "$work/next/edgecam_${next}_amd64.deb" </dev/null
expect "after upgrade: status" "$(status)" "ii $next"
expect "after upgrade: version" "$(/usr/bin/edgecam version)" "edgecam $next"
grep -q '^  level: debug$' /etc/edgecam/config.yaml || fail "upgrade replaced the edited config"
expect "after upgrade: config owner and mode" "$(stat -c '%U:%G %a' /etc/edgecam/config.yaml)" "root:edgecam 640"
ls /etc/edgecam/*.dpkg-* >/dev/null 2>&1 && fail "dpkg left $(ls /etc/edgecam/*.dpkg-*)"
runuser -u edgecam -- /usr/bin/edgecam check --config /etc/edgecam/config.yaml >/dev/null ||
	fail "after upgrade: user edgecam cannot read the config"
expect "after upgrade: login key (page logins stay valid)" "$(sha256sum </var/lib/edgecam/session.key)" "$key_sum"
expect "after upgrade: login key owner and mode" "$(stat -c '%U:%G %a' /var/lib/edgecam/session.key)" "edgecam:edgecam 600"
ok "upgrade kept the edited config, its owner and mode, the login key, and no prompt"

step "remove (config and user stay), then purge (all gone)"
dpkg -r edgecam </dev/null
expect "after remove: status" "$(status)" "rc $next"
[ ! -e /usr/bin/edgecam ] || fail "after remove: /usr/bin/edgecam still there"
[ ! -e /lib/systemd/system/edgecam.service ] || fail "after remove: the unit is still there"
grep -q '^  level: debug$' /etc/edgecam/config.yaml || fail "after remove: the config is gone or changed"
getent passwd edgecam >/dev/null || fail "after remove: user edgecam is gone"
expect "after remove: login key" "$(sha256sum </var/lib/edgecam/session.key)" "$key_sum"
ok "remove left /etc/edgecam/config.yaml, the login key and user edgecam"
dpkg -P edgecam </dev/null
expect "after purge: status" "$(dpkg-query -W -f='${db:Status-Status}' edgecam 2>/dev/null || echo not-installed)" not-installed
[ ! -e /etc/edgecam ] || fail "after purge: /etc/edgecam still there"
[ ! -e /var/lib/edgecam ] || fail "after purge: /var/lib/edgecam still there"
[ ! -L "$wants" ] || fail "after purge: $wants still there"
getent passwd edgecam >/dev/null && fail "after purge: user edgecam still there"
getent group edgecam >/dev/null && fail "after purge: group edgecam still there"
ok "purge removed /etc/edgecam, /var/lib/edgecam, the boot symlink, user and group"

step "maintainer scripts without adduser (useradd/userdel fallback)"
# Run postinst and postrm by hand with a PATH that has everything but the
# adduser family, as on a minimal system without the adduser package.
nobin=$work/nobin
mkdir -p "$nobin"
ln -sf /bin/* /sbin/* /usr/bin/* /usr/sbin/* "$nobin/"
rm -f "$nobin/adduser" "$nobin/addgroup" "$nobin/deluser" "$nobin/delgroup"
PATH=$nobin sh packaging/deb/postinst configure "" >/dev/null 2>&1 || fail "postinst without adduser failed"
IFS=: read -r _ _ uid _ _ home shell <<<"$(getent passwd edgecam)"
expect "useradd fallback: home, shell" "$home $shell" "/nonexistent /usr/sbin/nologin"
[ "$uid" -lt 1000 ] || fail "useradd fallback: not a system user (uid $uid)"
PATH=$nobin sh packaging/deb/postrm purge || fail "postrm purge without deluser failed"
rm -f "$wants" # postinst enabled it; the unit file was never installed
getent passwd edgecam >/dev/null && fail "userdel fallback: user edgecam still there"
getent group edgecam >/dev/null && fail "groupdel fallback: group edgecam still there"
ok "useradd/userdel fallback creates and removes the system user"
