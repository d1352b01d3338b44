#!/bin/sh
# Prints edgecam's version as a Debian-safe string (it must start with a digit
# and sort correctly with dpkg --compare-versions). It is both the .deb version
# and what `edgecam version` prints.
#
#   tag v1.2.0 on HEAD          -> 1.2.0
#   3 commits after v1.2.0      -> 1.2.0+git3.gabc1234      (sorts after 1.2.0)
#   no tag                      -> 0.1.0~git20261125125512.abc1234
#                                  (packaging/VERSION, then "~": sorts before the
#                                  0.1.0 release and by commit time between builds)
#   uncommitted changes         -> any of the above + ".dirty"
#   no git at all (a tarball)   -> packaging/VERSION, else 0.0.0~dev
#
# A tag like v1.2.0-rc1 becomes 1.2.0~rc1, which sorts before 1.2.0.
set -eu
here=$(dirname "$0")
base=0.0.0~dev
if [ -s "$here/VERSION" ]; then
	base=$(tr -d ' \n' <"$here/VERSION")
fi

if ! desc=$(git -C "$here" describe --tags --always --dirty 2>/dev/null); then
	echo "$base"
	exit 0
fi

dirty=
case $desc in
*-dirty)
	dirty=.dirty
	desc=${desc%-dirty}
	;;
esac

if git -C "$here" describe --tags >/dev/null 2>&1; then
	# vX.Y.Z or vX.Y.Z-N-gSHA
	v=$(printf '%s\n' "$desc" | sed -E 's/^v//; s/-([0-9]+)-g([0-9a-f]+)$/+git\1.g\2/')
	# A pre-release suffix (1.2.0-rc1) must sort before the release: "-" would
	# also start a Debian revision, so turn it into "~".
	v=$(printf '%s\n' "$v" | sed -E 's/^([^+]*)-/\1~/')
else
	date=$(TZ=UTC git -C "$here" log -1 --format=%cd --date=format-local:%Y%m%d%H%M%S)
	v="$base~git$date.$desc"
fi

case $v in
[0-9]*) ;;
*) v="0.0.0~$v" ;; # a tag that does not start with a digit
esac
printf '%s%s\n' "$v" "$dirty" | tr -c 'A-Za-z0-9.+~\n' '.'
