# fakeroot.sh WORKDIR: builds a Debian package the way package builds do,
# with fakeroot-sysv (its faked-sysv daemon and libfakeroot talk over a
# System V message queue and lock it with a System V semaphore, SEM_UNDO):
# a tree of 200 files (+ a setuid program) is chowned to 1234:5678 inside
# fakeroot, stat'ed, packed with dpkg-deb -b, and the package's owners and
# modes are listed with dpkg-deb -c. All file times are fixed (and
# SOURCE_DATE_EPOCH set), so the output does not depend on when it runs.
set -eu
w=$1
cd "$w"
rm -rf pkg out.deb
mkdir -p pkg/DEBIAN pkg/usr/bin pkg/usr/share/sembox-fakeroot
cat >pkg/DEBIAN/control <<'CTL'
Package: sembox-fakeroot-test
Version: 1.0
Architecture: all
Maintainer: sembox tests <sembox@example.invalid>
Description: package built by tests/clients/testdata/fakeroot.sh
CTL
i=1
while [ $i -le 200 ]; do
  printf 'file %03d\n' $i >pkg/usr/share/sembox-fakeroot/f$(printf %03d $i)
  i=$((i + 1))
done
printf '#!/bin/sh\necho tool\n' >pkg/usr/bin/tool
chmod 755 pkg/usr/bin/tool
chmod -R go-w pkg
find pkg -exec touch -h -d '2000-01-01 00:00:00 UTC' {} +
export SOURCE_DATE_EPOCH=946684800 TZ=UTC LC_ALL=C

echo "== outside fakeroot"
stat -c '%u %g %a %n' pkg/usr/bin/tool pkg/usr/share/sembox-fakeroot/f001
echo "== inside fakeroot-sysv"
fakeroot-sysv sh -c '
  set -e
  id -u; id -g
  chown -R 1234:5678 pkg/usr
  chmod 4755 pkg/usr/bin/tool
  stat -c "%u %g %a %n" pkg/usr/bin/tool pkg/usr/share/sembox-fakeroot/f001
  dpkg-deb -Zgzip -b pkg out.deb
'
echo "== outside fakeroot again (the real owners; the test runs this script as nobody)"
stat -c '%u %g %a %n' pkg/usr/bin/tool pkg/usr/share/sembox-fakeroot/f001
echo "== dpkg-deb -c out.deb"
dpkg-deb -c out.deb | awk '{print $1, $2, $3, $6}'
echo "== summary"
dpkg-deb -c out.deb | awk '$2 == "1234/5678" {n++} END {print "owned by 1234/5678:", n+0}'
dpkg-deb -c out.deb | awk '$1 ~ /^-rws/ {print "setuid:", $6}'
echo "package sha256: $(sha256sum <out.deb | cut -d' ' -f1)"
