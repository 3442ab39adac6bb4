#!/bin/sh
# Builds Debian's strace (bookworm's 6.1 source package) static, for the
# guest-ptrace comparison in GuestPtraceTests: images/bin/strace-static.
# The source comes from deb.debian.org through apt-get source, with a
# private deb-src list so the host's apt configuration is left alone.
# Usage: images/strace/build.sh [work directory, default /tmp/sentry-strace]
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/tmp/sentry-strace}
out="$here/bin/strace-static"
if [ -x "$out" ]; then echo "$out exists"; exit 0; fi
mkdir -p "$work/apt/lists/partial" "$work/apt/parts"
cd "$work"
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main" > apt/sources.list
apt_opts="-o Dir::Etc::SourceList=$work/apt/sources.list -o Dir::Etc::SourceParts=$work/apt/parts -o Dir::State::Lists=$work/apt/lists"
if ! ls strace_*.dsc >/dev/null 2>&1; then
    # shellcheck disable=SC2086
    apt-get $apt_opts update
    # shellcheck disable=SC2086
    apt-get $apt_opts source --download-only strace
fi
rm -rf src && mkdir src
tar -C src --strip-components=1 -xf strace_*.orig.tar.xz
cd src
# The bundled uapi headers: Debian's newer linux-libc-dev renamed a field strace 6.1 prints.
./configure --enable-mpers=no --enable-bundled=yes --disable-gcc-Werror LDFLAGS=-static >configure.log 2>&1 || { tail -30 configure.log; exit 1; }
make -j"$(nproc)" >make.log 2>&1 || { tail -30 make.log; exit 1; }
mkdir -p "$here/bin"
cp src/strace "$out"
echo "built $out"
