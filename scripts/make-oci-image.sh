#!/usr/bin/env bash
# make-oci-image.sh [--nested] [--tag TAG] [--evil KIND [--evil-target DIR]] DIR
#
# Build a small OCI image layout in DIR from busybox-static, without a
# network and without root (tar, gzip, zstd, sha256sum, jq):
#   layer 1 (gzip)          the busybox rootfs (scripts/make-bundle.sh),
#                           /etc/removed, /opaque/lower-a, /opaque/lower-b,
#                           /data/owned-by-1000 (uid:gid 1000:1000 in the tar)
#   layer 2 (zstd)          /etc/.wh.removed (whiteout),
#                           /opaque/.wh..wh..opq (opaque dir) + /opaque/upper-c,
#                           /layer2
#   layer 3 (uncompressed)  /top (its content says "layer3")
# The config runs `sh -c 'cat /top'` (Entrypoint sh -c, Cmd cat /top) in
# /data with Env IMAGE=ocirt-test, label org.example.test=yes and
# StopSignal SIGINT; the manifest is tagged TAG (default "latest").
#   --nested     index.json points to an image index holding a linux/amd64
#                manifest and a linux/arm64 one (whose config sets ARCH=arm64)
#   --evil KIND  add a 4th layer with a hostile entry: dotdot (../escape),
#                absolute (/abs-escape), hardlink (a hard link to
#                ../outside), symlink (lnk -> DIR, default /, then lnk/file)
# Prints nothing on success; the layer digests are in DIR/index.json's
# manifest (jq).
set -euo pipefail

die() { echo "make-oci-image.sh: $*" >&2; exit 1; }

nested=0 tag=latest evil="" evil_target=/
while [ $# -gt 0 ]; do
	case $1 in
	--nested) nested=1; shift ;;
	--tag) tag=$2; shift 2 ;;
	--evil) evil=$2; shift 2 ;;
	--evil-target) evil_target=$2; shift 2 ;;
	-h | --help) sed -n '2,22s/^# \{0,1\}//p' "$0"; exit 0 ;;
	-*) die "unknown option $1" ;;
	*) break ;;
	esac
done
[ $# -eq 1 ] || die "usage: make-oci-image.sh [--nested] [--tag TAG] [--evil KIND [--evil-target DIR]] DIR"
out=$1
for t in tar gzip zstd sha256sum jq; do
	command -v "$t" >/dev/null || die "$t not found (run scripts/install-deps.sh as root)"
done
here=$(cd "$(dirname "$0")" && pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/oci-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$out/blobs/sha256"

# Reproducible tars: fixed order, times and owners.
TAR=(tar --sort=name --mtime=@1700000000 --owner=0 --group=0 --numeric-owner --format=pax
	--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime)

# blob FILE MEDIATYPE: store FILE as a blob, print its descriptor JSON.
blob() {
	local f=$1 mt=$2 d s
	d=$(sha256sum "$f" | cut -d' ' -f1)
	s=$(stat -c %s "$f")
	cp "$f" "$out/blobs/sha256/$d"
	jq -nc --arg mt "$mt" --arg d "sha256:$d" --argjson s "$s" '{mediaType: $mt, digest: $d, size: $s}'
}

# diffid FILE.tar: sha256 of the uncompressed layer.
diffid() { echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"; }

# Layer 1: busybox rootfs and what the later layers delete or hide.
"$here/make-bundle.sh" --rootfs-only "$work/b" >/dev/null
l1=$work/b/rootfs
echo lower >"$l1/etc/removed"
mkdir -p "$l1/opaque" "$l1/data"
echo a >"$l1/opaque/lower-a"
echo b >"$l1/opaque/lower-b"
echo layer1 >"$l1/top"
echo owned >"$work/owned-by-1000"
"${TAR[@]}" -C "$l1" -cf "$work/l1.tar" .
# The same file owned by 1000:1000, appended as data/owned-by-1000.
"${TAR[@]}" --owner=1000 --group=1000 --transform 's,^owned-by-1000$,./data/owned-by-1000,' \
	-C "$work" -rf "$work/l1.tar" owned-by-1000

# Layer 2: a whiteout, an opaque dir, a new file.
l2=$work/l2
mkdir -p "$l2/etc" "$l2/opaque"
: >"$l2/etc/.wh.removed"
: >"$l2/opaque/.wh..wh..opq"
echo c >"$l2/opaque/upper-c"
echo layer2 >"$l2/layer2"
"${TAR[@]}" -C "$l2" -cf "$work/l2.tar" .

# Layer 3: replaces /top.
l3=$work/l3
mkdir -p "$l3"
echo layer3 >"$l3/top"
"${TAR[@]}" -C "$l3" -cf "$work/l3.tar" .

tars=("$work/l1.tar" "$work/l2.tar" "$work/l3.tar")
kinds=(gzip zstd none)

if [ -n "$evil" ]; then
	e=$work/evil
	mkdir -p "$e"
	echo evil >"$e/a"
	case $evil in
	dotdot) "${TAR[@]}" -P --transform 's,^a$,../escape,' -C "$e" -cf "$work/l4.tar" a ;;
	absolute) "${TAR[@]}" -P --transform 's,^a$,/abs-escape,' -C "$e" -cf "$work/l4.tar" a ;;
	hardlink)
		ln "$e/a" "$e/b"
		"${TAR[@]}" -P --transform 's,^a$,../outside,RSh' -C "$e" -cf "$work/l4.tar" a b
		;;
	symlink)
		ln -s "$evil_target" "$e/lnk"
		"${TAR[@]}" -C "$e" -cf "$work/l4.tar" lnk
		"${TAR[@]}" --transform 's,^a$,lnk/file,' -C "$e" -rf "$work/l4.tar" a
		;;
	*) die "--evil: unknown kind $evil (dotdot, absolute, hardlink, symlink)" ;;
	esac
	tars+=("$work/l4.tar")
	kinds+=(none)
fi

layers='[]' diffids='[]'
for i in "${!tars[@]}"; do
	t=${tars[$i]}
	diffids=$(jq -c --arg d "$(diffid "$t")" '. + [$d]' <<<"$diffids")
	case ${kinds[$i]} in
	gzip) gzip -n -9 <"$t" >"$t.gz"; d=$(blob "$t.gz" application/vnd.oci.image.layer.v1.tar+gzip) ;;
	zstd) zstd -q -19 -c "$t" >"$t.zst"; d=$(blob "$t.zst" application/vnd.oci.image.layer.v1.tar+zstd) ;;
	none) d=$(blob "$t" application/vnd.oci.image.layer.v1.tar) ;;
	esac
	layers=$(jq -c --argjson d "$d" '. + [$d]' <<<"$layers")
done

# config ARCH EXTRA-ENV: an image config blob descriptor.
config() {
	local arch=$1 env=$2
	jq -n --arg arch "$arch" --argjson diffids "$diffids" --arg env "$env" '{
  created: "2023-11-14T22:13:20Z",
  architecture: $arch, os: "linux",
  config: {
    Entrypoint: ["sh", "-c"], Cmd: ["cat /top"],
    Env: (["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "IMAGE=ocirt-test"]
          + (if $env == "" then [] else [$env] end)),
    WorkingDir: "/data", User: "0:0",
    ExposedPorts: {"80/tcp": {}},
    Labels: {"org.example.test": "yes"},
    StopSignal: "SIGINT"
  },
  rootfs: {type: "layers", diff_ids: $diffids},
  history: [{created_by: "make-oci-image.sh"}]
}' >"$work/config-$arch.json"
	blob "$work/config-$arch.json" application/vnd.oci.image.config.v1+json
}

# manifest CONFIG-DESCRIPTOR: an image manifest blob descriptor.
manifest() {
	jq -n --argjson c "$1" --argjson l "$layers" '{schemaVersion: 2,
  mediaType: "application/vnd.oci.image.manifest.v1+json", config: $c, layers: $l}' >"$work/m.json"
	blob "$work/m.json" application/vnd.oci.image.manifest.v1+json
}

amd=$(manifest "$(config amd64 ARCH=amd64)")
if [ "$nested" = 1 ]; then
	arm=$(manifest "$(config arm64 ARCH=arm64)")
	jq -n --argjson arm "$arm" --argjson amd "$amd" '{schemaVersion: 2,
  mediaType: "application/vnd.oci.image.index.v1+json",
  manifests: [($arm + {platform: {architecture: "arm64", os: "linux"}}),
              ($amd + {platform: {architecture: "amd64", os: "linux"}})]}' >"$work/i.json"
	top=$(blob "$work/i.json" application/vnd.oci.image.index.v1+json)
else
	top=$(jq -c '. + {platform: {architecture: "amd64", os: "linux"}}' <<<"$amd")
fi
jq -n --argjson m "$top" --arg tag "$tag" '{schemaVersion: 2,
  mediaType: "application/vnd.oci.image.index.v1+json",
  manifests: [($m + {annotations: {"org.opencontainers.image.ref.name": $tag}})]}' >"$out/index.json"
echo '{"imageLayoutVersion": "1.0.0"}' >"$out/oci-layout"
