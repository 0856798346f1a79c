#!/bin/sh
# The portable tarball: the .deb's files (binary, model, demo case, desktop entry, icons, MIME types,
# licences) under one folder with a launcher, for Linux machines without dpkg. Built from the .deb so
# both hold the same files.
# Usage: assets/linux/make-tarball.sh target/debian/cloe_VERSION-1_ARCH.deb [OUT_DIR]
set -eu
deb=$1
out=${2:-$(dirname "$deb")}
version=$(dpkg-deb -f "$deb" Version | sed 's/-[0-9]*$//')
arch=$(dpkg-deb -f "$deb" Architecture)
name="cloe-studio-$version-linux-$arch"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
dpkg-deb -x "$deb" "$stage/root"
mv "$stage/root/usr" "$stage/$name"
cat > "$stage/$name/cloe-studio" <<'LAUNCHER'
#!/bin/sh
# Starts CLoE Studio from this folder (the model and demo case are found in share/cloe beside bin/).
# With no argument, the demo case with the shipped model; `./cloe-studio view CASE`, `./cloe-studio
# --help` for the rest.
here=$(dirname "$(readlink -f "$0")")
exec "$here/bin/cloe" "$@"
LAUNCHER
chmod 755 "$stage/$name/cloe-studio"
cp "$stage/$name/share/doc/cloe/copyright" "$stage/$name/COPYRIGHT"
tar -C "$stage" -czf "$out/$name.tar.gz" "$name"
echo "$out/$name.tar.gz"
