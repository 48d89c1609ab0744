#!/usr/bin/env bash
# Lays out the container image's whole root file system in <out>: dist/ferry and nothing else it
# does not need. Runs in the Containerfile's build stage (Debian); the runtime stage is
# `FROM scratch` + this directory, the way Google's distroless images are made.
#
#   - the shared libraries the binary and the native Kafka addon it extracts at start link to,
#     read with ldd (not a hand-kept list), with the dynamic loader, at the paths the loader
#     looks in (merged /usr, as Debian has it);
#   - a dpkg status entry and the copyright file of each package they come from, so image
#     scanners (trivy, grype) see which Debian packages and versions the image carries;
#   - Debian's CA bundle (librdkafka looks for /etc/ssl/certs/ca-certificates.crt when Kafka
#     speaks TLS). The build stage's bundle, never an extra CA given to the build: that one
#     is only an environment variable of the build stage's RUN steps;
#   - /etc/passwd and /etc/group with the user ferry (uid and gid 10001), /tmp (mode 1777, for
#     TMPDIR), /etc/nsswitch.conf and /etc/os-release.
# No shell, package manager or coreutils: `podman exec` has nothing to run but ferry.
# Usage: scripts/container-rootfs.sh <ferry binary> <out dir>
set -euo pipefail
BIN=$1
OUT=$2
die() { echo "container-rootfs: $*" >&2; exit 1; }
[[ -x $BIN ]] || die "$BIN is not an executable"
[[ ! -e $OUT ]] || die "$OUT exists already"

# The Kafka addon is embedded in the binary and written to $TMPDIR at start: extract it the same way.
extract=$(mktemp -d)
TMPDIR=$extract "$BIN" run --help >/dev/null
addon=$(find "$extract" -maxdepth 1 -name '*.node' | head -n 1)
[[ -n $addon ]] || die "$BIN did not extract its Kafka addon to \$TMPDIR"

mkdir -p "$OUT"/{usr/bin,usr/lib,usr/local/bin,etc/ssl/certs,var/lib/dpkg/status.d,usr/share/doc,tmp}
# Merged /usr: the loader's path (/lib64/ld-linux-x86-64.so.2) and ldd's (/lib/<triplet>/...) both resolve.
ln -s usr/bin "$OUT/bin"
ln -s usr/lib "$OUT/lib"
if [[ -e /lib64 ]]; then mkdir -p "$OUT/usr/lib64" && ln -s usr/lib64 "$OUT/lib64"; fi
chmod 1777 "$OUT/tmp"

! ldd "$BIN" "$addon" | grep 'not found' || die "libraries are missing (above)"
libraries=$(ldd "$BIN" "$addon" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// && $2 ~ /^\(0x/ { print $1 }' | sort -u)
[[ -n $libraries ]] || die "ldd found no libraries"
packages=()
for lib in $libraries; do
  mkdir -p "$OUT$(dirname "$lib")"
  cp -L "$lib" "$OUT$lib"
  owner=$(dpkg -S "$(realpath "$lib")" 2>/dev/null || dpkg -S "$lib")
  packages+=("${owner%%:*}")
done
rm -rf "$extract"

# gcc-12-base is libgcc-s1's and libstdc++6's dependency that carries their copyright.
mapfile -t packages < <(printf '%s\n' "${packages[@]}" gcc-12-base ca-certificates base-files | sort -u)
for pkg in "${packages[@]}"; do
  dpkg-query -s "$pkg" >"$OUT/var/lib/dpkg/status.d/$pkg" || die "package $pkg is not installed in the build stage"
  if [[ -f /usr/share/doc/$pkg/copyright ]]; then
    mkdir -p "$OUT/usr/share/doc/$pkg" && cp "/usr/share/doc/$pkg/copyright" "$OUT/usr/share/doc/$pkg/"
  fi
done

cp /etc/ssl/certs/ca-certificates.crt "$OUT/etc/ssl/certs/"
cp -L /etc/os-release "$OUT/etc/os-release"
cat >"$OUT/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
ferry:x:10001:10001:ferry:/nonexistent:/usr/sbin/nologin
EOF
cat >"$OUT/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
ferry:x:10001:
EOF
echo 'hosts: files dns' >"$OUT/etc/nsswitch.conf"
install -m 0755 "$BIN" "$OUT/usr/local/bin/ferry"
echo "container-rootfs: $(du -sh "$OUT" | cut -f1) in $OUT: ferry, $(wc -w <<<"$libraries") libraries from ${packages[*]}" >&2
