#!/usr/bin/env bash
# Installs the Debian 12 (bookworm) packages this project needs to build every scheduler and run
# the VM tests. bookworm's own bpftool is too old (7.1), so bpftool comes from bookworm-backports,
# added with the mirror this machine already uses (never a hard-coded host). meson comes from there
# too: bookworm's 1.0 does not read meson.options.
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
	SUDO=sudo
else
	SUDO=
fi

apt_uri() {
	# The first Debian archive URI this machine's apt configuration points at for bookworm.
	apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null |
		awk '$2 == "bookworm" && $1 !~ /security/ { print $1; exit }'
}

if ! apt-cache policy 2>/dev/null | grep -q 'bookworm-backports'; then
	uri=$(apt_uri || true)
	if [ -z "$uri" ]; then
		$SUDO apt-get update -qq
		uri=$(apt_uri)
	fi
	[ -n "$uri" ] || { echo "install-deps: cannot find a bookworm mirror in apt's configuration" >&2; exit 1; }
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${uri%/} bookworm-backports main" |
		$SUDO tee /etc/apt/sources.list.d/scx-bookworm-backports.list >/dev/null
fi

$SUDO apt-get update -qq
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y -qq --no-install-recommends \
	clang-19 llvm-19 libclang-19-dev lld-19 clang-format-19 \
	libelf-dev zlib1g-dev pkg-config make gcc \
	ninja-build \
	busybox-static cpio zstd rt-tests stress-ng \
	hwloc-nox \
	ca-certificates debian-archive-keyring
$SUDO apt-get install -y -qq --no-install-recommends -t bookworm-backports bpftool meson
# qemu-system-x86 must match an already installed qemu-utils: some images carry the backports one.
qemu_release=()
case "$(dpkg-query -W -f '${Version}' qemu-utils 2>/dev/null || true)" in
*bpo12*) qemu_release=(-t bookworm-backports) ;;
esac
$SUDO apt-get install -y -qq --no-install-recommends "${qemu_release[@]}" qemu-system-x86
