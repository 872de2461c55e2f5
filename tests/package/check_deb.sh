#!/usr/bin/env bash
# Builds the .deb with CPack and checks it: package name, prefix, files, Depends from
# dpkg-shlibdeps, nothing run on install; then `systemd-analyze verify` on its units where
# systemd-analyze exists. Usage: check_deb.sh BUILD_DIR
set -euo pipefail
build=$1
cmake --build "$build" --target package >/dev/null
deb=$(ls -t "$build"/corral_*.deb | head -1)
echo "package: $deb"

fail() { echo "FAIL: $*" >&2; exit 1; }
[[ $(dpkg-deb -f "$deb" Package) == corral ]] || fail "package name"
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
[[ $depends == *libc6* && $depends == *libsystemd0* ]] || fail "Depends from dpkg-shlibdeps"
contents=$(dpkg-deb -c "$deb" | awk '{print $6}')
for f in ./usr/bin/corral \
         ./usr/lib/systemd/user/corral.service ./usr/lib/systemd/user/corral.socket \
         ./usr/lib/systemd/system/corral@.service ./usr/lib/systemd/system/corral@.socket \
         ./usr/share/doc/corral/protocol.md ./usr/share/doc/corral/deploy.md \
         ./usr/share/doc/corral/openapi.json; do
  grep -qx "$f" <<<"$contents" || fail "missing $f"
done
if grep -v '^\./usr/' <<<"$contents" | grep -qv '^\./$'; then fail "files outside /usr"; fi
# Enables nothing: no maintainer scripts at all.
control=$(mktemp -d)
trap 'rm -rf "$control"' EXIT
dpkg-deb -e "$deb" "$control"
for script in postinst preinst prerm postrm; do
  [[ ! -e $control/$script ]] || fail "maintainer script $script"
done

root="$control/root"
dpkg-deb -x "$deb" "$root"
"$root/usr/bin/corral" --help >/dev/null || fail "the packaged binary does not run"
if command -v systemd-analyze >/dev/null; then
  units="$control/units"
  mkdir -p "$units"
  # Verify against the packaged binary; instantiate the templates for one user (root exists).
  for u in corral.service corral.socket; do
    sed "s|/usr/bin/corral|$root/usr/bin/corral|" "$root/usr/lib/systemd/user/$u" >"$units/$u"
  done
  for u in service socket; do
    sed "s|/usr/bin/corral|$root/usr/bin/corral|" "$root/usr/lib/systemd/system/corral@.$u" \
      >"$units/corral@root.$u"
  done
  out=$(cd "$units" && SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no \
          ./corral.socket ./corral.service ./corral@root.socket ./corral@root.service 2>&1 || true)
  # Outside a booted systemd, verify also complains about the machine (no bus, no user
  # manager); only what it says about our units' files counts.
  relevant=$(grep -E 'corral(@root)?\.(service|socket):' <<<"$out" || true)
  [[ -z $relevant ]] || { echo "$out" >&2; fail "systemd-analyze verify"; }
  echo "systemd-analyze verify: ok"
else
  echo "systemd-analyze not found: units not verified"
fi
echo "1 passed, 0 failed"
