#!/bin/sh
# Writes the /etc/edgecam/config.yaml that the package installs: the
# repository's config.example.yaml with its cameras commented out.
#
# The example cameras are placeholders (192.168.1.64, user:pass). Shipped
# live, a fresh install would keep knocking on whatever holds that address on
# the customer's LAN with made-up credentials. With `cameras: []` the daemon
# starts cleanly, `edgecam check` passes, and the page says "No cameras
# configured" until the admin adds one. Generated, not copied by hand, so the
# installed file documents exactly the keys this version understands.
#
# Usage: installed-config.sh config.example.yaml > out.yaml
set -eu
awk '
BEGIN { cams = 0 }
cams == 0 && /^cameras:/ {
	cams = 1
	print "#"
	print "# Add your cameras here: replace \"cameras: []\" below with \"cameras:\" and"
	print "# uncomment and edit an example (delete the \"#\" in the first column of\n# its lines; the indented comments are explanations)."
	print "# Then check the file and apply it without dropping viewers:"
	print "#   edgecam check --config /etc/edgecam/config.yaml"
	print "#   systemctl reload edgecam"
	print "cameras: []"
	next
}
cams == 1 && /^[ \t]*#/ { print; next }
cams == 1 && /^[ \t]*$/ { print; next }
cams == 1 { print "#" $0; next }
{ print }
' "$1"
