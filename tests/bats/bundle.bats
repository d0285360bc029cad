#!/usr/bin/env bats
# `bundle --image`: an OCI image layout (scripts/make-oci-image.sh, made
# locally from busybox-static) becomes a bundle whose layers are unpacked
# once into a cache and assembled by the runtime.

load helpers

eval "$(declare -f setup | sed '1s/^setup/helpers_setup/')"

setup_file() {
	IMAGE=$BATS_FILE_TMPDIR/image
	"$SCRIPTS_DIR/make-oci-image.sh" "$IMAGE"
	export IMAGE
}

setup() {
	helpers_setup
	requires_ours "make bundles from images"
	CACHE=$BATS_TEST_TMPDIR/cache
	IB=$BATS_TEST_TMPDIR/ib
}

# layer_digest N: the digest of the image's layer N (0 = bottom).
layer_digest() {
	local img=${2:-$IMAGE} m
	m=$(jq -r '.manifests[0].digest' "$img/index.json")
	jq -r ".layers[$1].digest" "$img/blobs/sha256/${m#sha256:}"
}

# make_bundle [ARGS...]: bundle $IMAGE into $IB with the test's cache.
make_bundle() {
	run --separate-stderr runtime bundle --image "${BUNDLE_IMAGE:-$IMAGE}" --cache "$CACHE" "$@" "$IB"
}

# run_image CMD...: run the bundle $IB with CMD as its process.
run_image() {
	BUNDLE=$IB set_args "$@"
	run --separate-stderr runtime run --bundle "$IB" "$CID" </dev/null
}

# image_copy NAME: a private copy of $IMAGE to tamper with.
image_copy() {
	cp -r "$IMAGE" "$BATS_TEST_TMPDIR/$1"
	echo "$BATS_TEST_TMPDIR/$1"
}

@test "bundle: the image runs as is: Entrypoint+Cmd, the top layer wins" {
	make_bundle
	assert_success
	[ -f "$IB/config.json" ]
	run --separate-stderr runtime run --bundle "$IB" "$CID" </dev/null
	assert_success
	assert_output layer3
	assert_no_containers
}

@test "bundle: whiteouts remove, opaque dirs hide, ownership and config come from the image" {
	use_subid_mappings
	make_bundle
	assert_success
	run jq -c '[.process.args, .process.cwd, .process.user, .process.terminal, .root.readonly]' "$IB/config.json"
	assert_output '[["sh","-c","cat /top"],"/data",{"uid":0,"gid":0},false,false]'
	run jq -r '.annotations["org.opencontainers.image.stopSignal"], .annotations["org.example.test"]' "$IB/config.json"
	assert_output $'SIGINT\nyes'
	run_image sh -c 'test -e /etc/removed && echo removed-present; ls /opaque; stat -c "%u:%g %n" /data/owned-by-1000;
		pwd; echo "IMAGE=$IMAGE"; cat /layer2; ls /etc/passwd'
	assert_success
	refute_line removed-present
	assert_line --index 0 upper-c
	assert_line --index 1 '1000:1000 /data/owned-by-1000'
	assert_line --index 2 /data
	assert_line --index 3 IMAGE=ocirt-test
	assert_line --index 4 layer2
	assert_line --index 5 /etc/passwd
	# on the host the file belongs to the id container uid 1000 maps to
	local bottom
	bottom=$(layer_digest 0)
	[ "$(stat -c %u "$CACHE/layers/sha256/${bottom#sha256:}/data/owned-by-1000")" -eq $((SUBUID_START + 999)) ]
	# a whiteout is a 0/0 character device, an opaque dir has the xattr
	local l2
	l2=$(layer_digest 1)
	[ -c "$CACHE/layers/sha256/${l2#sha256:}/etc/removed" ]
	[ "$(stat -c %t:%T "$CACHE/layers/sha256/${l2#sha256:}/etc/removed")" = 0:0 ]
	[ ! -e "$CACHE/layers/sha256/${l2#sha256:}/opaque/.wh..wh..opq" ]
}

@test "bundle: the layers annotation lists the cached layers top first" {
	make_bundle
	assert_success
	local want="" i d
	for i in 2 1 0; do
		d=$(layer_digest $i)
		want+=${want:+:}$CACHE/layers/sha256/${d#sha256:}
	done
	run jq -r '.annotations["run.oci.ocirt.layers"]' "$IB/config.json"
	assert_output "$want"
}

@test "bundle: writes go to the container's upper, never to the cache" {
	make_bundle
	assert_success
	local top
	top=$(layer_digest 2)
	run_image sh -c 'echo mine > /top; cat /top'
	assert_success
	assert_output mine
	[ "$(cat "$CACHE/layers/sha256/${top#sha256:}/top")" = layer3 ]
	# a new container starts from the image again
	run_image cat /top
	assert_success
	assert_output layer3
}

@test "bundle: fuse-overlayfs assembles the same tree" {
	command -v fuse-overlayfs >/dev/null || skip "fuse-overlayfs is not installed"
	[ -r /dev/fuse ] && [ -w /dev/fuse ] || skip "/dev/fuse is not accessible; as root: chmod 0666 /dev/fuse"
	make_bundle
	assert_success
	BUNDLE=$IB set_args sh -c 'test -e /etc/removed && echo removed-present; ls /opaque; cat /top;
		grep " / / " /proc/self/mountinfo'
	run --separate-stderr runtime run --overlay fuse --bundle "$IB" "$CID" </dev/null
	assert_success
	refute_line removed-present
	assert_line --index 0 upper-c
	assert_line --index 1 layer3
	assert_line --index 2 --regexp 'fuse.fuse-overlayfs'
}

@test "bundle: the second bundle of an image reuses the cache" {
	make_bundle
	assert_success
	local d before
	d=$(layer_digest 0)
	before=$(stat -c '%i %Z' "$CACHE/layers/sha256/${d#sha256:}")
	sleep 1
	IB=$BATS_TEST_TMPDIR/ib2
	run --separate-stderr runtime --debug bundle --image "$IMAGE" --cache "$CACHE" "$IB"
	assert_success
	grep -q "layer $d: cached in $CACHE/layers/sha256/${d#sha256:}" <<<"$stderr" || fail "no cache hit: $stderr"
	! grep -q 'unpacked into' <<<"$stderr" || fail "a layer was unpacked again: $stderr"
	[ "$(stat -c '%i %Z' "$CACHE/layers/sha256/${d#sha256:}")" = "$before" ] || fail "the cached layer was rewritten"
	run --separate-stderr runtime run --bundle "$IB" "$CID" </dev/null
	assert_output layer3
}

@test "bundle: a tampered layer blob is refused by name and leaves no bundle" {
	local img d
	img=$(image_copy tampered)
	d=$(layer_digest 1 "$img")
	printf 'x' >>"$img/blobs/sha256/${d#sha256:}"
	BUNDLE_IMAGE=$img make_bundle
	assert_runtime_error "blob $d" 'hashes to sha256:' 'corrupt or was tampered with'
	[ ! -e "$IB" ] || fail "bundle left: $(ls -la "$IB")"
	[ ! -e "$CACHE/layers/sha256/${d#sha256:}" ] || fail "the tampered layer was cached"
	[ -z "$(find "$CACHE/layers/sha256" -maxdepth 1 -name '.tmp-*')" ] || fail "unpack leftovers"
}

@test "bundle: a tampered cached layer's blob is still refused" {
	make_bundle
	assert_success
	local img d
	img=$(image_copy tampered)
	d=$(layer_digest 0 "$img")
	# same size, one byte changed
	printf 'Z' | dd of="$img/blobs/sha256/${d#sha256:}" bs=1 seek=100 conv=notrunc 2>/dev/null
	IB=$BATS_TEST_TMPDIR/ib2
	BUNDLE_IMAGE=$img make_bundle
	assert_runtime_error "blob $d" 'tampered'
	[ ! -e "$IB" ]
}

@test "bundle: a tampered manifest or config is refused" {
	local img m
	img=$(image_copy tampered)
	m=$(jq -r '.manifests[0].digest' "$img/index.json")
	local c
	c=$(jq -r '.config.digest' "$img/blobs/sha256/${m#sha256:}")
	sed -i 's/cat \/top/cat \/etc\/shadow/' "$img/blobs/sha256/${c#sha256:}"
	BUNDLE_IMAGE=$img make_bundle
	assert_runtime_error "blob $c" 'image config'
	[ ! -e "$IB" ]
	sed -i 's/schemaVersion/schemaversion/' "$img/blobs/sha256/${m#sha256:}"
	BUNDLE_IMAGE=$img make_bundle
	assert_runtime_error "blob $m" 'manifest'
	[ ! -e "$IB" ]
}

@test "bundle: entries that leave the layer are refused: ../, absolute, hard links" {
	local kind img
	for kind in dotdot absolute hardlink; do
		img=$BATS_TEST_TMPDIR/evil-$kind
		"$SCRIPTS_DIR/make-oci-image.sh" --evil "$kind" "$img"
		BUNDLE_IMAGE=$img make_bundle
		case $kind in
		dotdot) assert_runtime_error 'entry `../escape`' 'refused' '`..`' ;;
		absolute) assert_runtime_error 'entry `/abs-escape`' 'refused' 'absolute' ;;
		hardlink) assert_runtime_error 'hard link to `../outside`' 'refused' ;;
		esac
		[ ! -e "$IB" ] || fail "$kind: bundle left"
	done
	[ ! -e "$CACHE/escape" ] && [ ! -e "$CACHE/layers/escape" ] && [ ! -e "$CACHE/layers/sha256/escape" ]
	[ ! -e "$CACHE/layers/outside" ] && [ ! -e "$CACHE/layers/sha256/outside" ]
	[ -z "$(find "$CACHE/layers/sha256" -maxdepth 1 -name '.tmp-*')" ] || fail "unpack leftovers"
}

@test "bundle: a symlink in a layer cannot lead a later entry out of it" {
	local img=$BATS_TEST_TMPDIR/evil-symlink outside=$BATS_TEST_TMPDIR/outside
	mkdir "$outside"
	"$SCRIPTS_DIR/make-oci-image.sh" --evil symlink --evil-target "$outside" "$img"
	BUNDLE_IMAGE=$img make_bundle
	# refused (the target does not exist inside the layer) or kept inside
	[ -z "$(ls -A "$outside")" ] || fail "an entry was written through the symlink: $(ls -la "$outside")"
	if [ "$status" -ne 0 ]; then
		assert_runtime_error 'entry `lnk/file`' 'refused' 'inside the layer'
		[ ! -e "$IB" ]
	fi
}

@test "bundle: nested image index: the manifest for this machine's platform" {
	local arch
	case $(uname -m) in
	x86_64) arch=amd64 ;;
	aarch64) arch=arm64 ;;
	*) skip "the test image has amd64 and arm64 manifests only, this is $(uname -m)" ;;
	esac
	local img=$BATS_TEST_TMPDIR/nested
	"$SCRIPTS_DIR/make-oci-image.sh" --nested "$img"
	BUNDLE_IMAGE=$img make_bundle
	assert_success
	run jq -r '.process.env[]' "$IB/config.json"
	assert_line "ARCH=$arch"
}

@test "bundle: tags select the image; an unknown tag is an error naming the tags" {
	local img=$BATS_TEST_TMPDIR/tagged
	"$SCRIPTS_DIR/make-oci-image.sh" --tag v1 "$img"
	BUNDLE_IMAGE=$img:v1 make_bundle
	assert_success
	IB=$BATS_TEST_TMPDIR/ib2
	BUNDLE_IMAGE=$img:v2 make_bundle
	assert_runtime_error 'no image tagged `v2`' 'tags: v1'
	[ ! -e "$IB" ]
}

@test "bundle: an existing config.json is not overwritten; bad arguments are errors" {
	mkdir -p "$IB"
	echo '{}' >"$IB/config.json"
	make_bundle
	assert_runtime_error 'config.json` exists'
	[ "$(cat "$IB/config.json")" = '{}' ]
	run --separate-stderr runtime bundle --cache "$CACHE" "$BATS_TEST_TMPDIR/x"
	assert_runtime_error '--image' 'required'
	run --separate-stderr runtime bundle --image "$BATS_TEST_TMPDIR/no-such-image" --cache "$CACHE" "$BATS_TEST_TMPDIR/x"
	assert_runtime_error 'no-such-image'
	[ ! -e "$BATS_TEST_TMPDIR/x" ]
}
