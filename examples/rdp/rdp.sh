#!/bin/sh
# rdp.sh — one-shot RDP to the Windows VM behind the VPS, through kuguri.
#
#   ./rdp.sh [PROFILE] [extra FreeRDP arguments...]
#
# kuguri connects PROFILE (default "win"), waits until its forwards are up,
# starts FreeRDP on the local end of the forward named "rdp" ({rdp} below is
# replaced by its 127.0.0.1:PORT), and tears the tunnel down when FreeRDP
# exits, passing on its exit status. Environment:
#   RDP_USER        Windows user name (default Administrator)
#   RDP_FORWARD     the forward's name in the profile (default rdp)
#   KUGURI          the kuguri binary (default: kuguri on PATH)
#   RDP_CLIENT      force a client: xfreerdp3, xfreerdp, wlfreerdp3, wlfreerdp, sdl-freerdp3
set -eu

KUGURI="${KUGURI:-kuguri}"
RDP_FORWARD="${RDP_FORWARD:-rdp}"
PROFILE=win
case "${1:-}" in
"" | /* | -*) ;;           # no profile given: FreeRDP options start with / or -
*) PROFILE=$1; shift ;;
esac

if ! command -v "$KUGURI" >/dev/null 2>&1; then
	echo "rdp.sh: $KUGURI not found on PATH (go install ./cmd/kuguri, or set KUGURI=/path/to/kuguri)" >&2
	exit 127
fi

# Pick a FreeRDP client: FreeRDP 3 first (Debian 13, Fedora), then 2; on a
# Wayland session without XWayland prefer the Wayland client.
pick_client() {
	if [ -n "${RDP_CLIENT:-}" ]; then
		echo "$RDP_CLIENT"
		return
	fi
	order="xfreerdp3 xfreerdp sdl-freerdp3 wlfreerdp3 wlfreerdp"
	if [ -n "${WAYLAND_DISPLAY:-}" ] && [ -z "${DISPLAY:-}" ]; then
		order="wlfreerdp3 wlfreerdp sdl-freerdp3 xfreerdp3 xfreerdp"
	fi
	for c in $order; do
		if command -v "$c" >/dev/null 2>&1; then
			echo "$c"
			return
		fi
	done
}

CLIENT=$(pick_client)
if [ -z "$CLIENT" ]; then
	case "${PREFIX:-}" in
	*com.termux*)
		cat >&2 <<HINT
rdp.sh: no FreeRDP here (Termux). Keep the tunnel up instead:
  $KUGURI connect $PROFILE
and point the Android RDP client (Microsoft Remote Desktop, aFreeRDP) at the
127.0.0.1:PORT that line "$RDP_FORWARD" prints. See examples/rdp/README.md.
HINT
		;;
	*)
		cat >&2 <<HINT
rdp.sh: no FreeRDP client found (apt-get install freerdp2-x11 or freerdp3-x11).
With Remmina, keep the tunnel up in one terminal:
  $KUGURI connect $PROFILE
and open rdp://127.0.0.1:PORT (the port that line "$RDP_FORWARD" prints) in Remmina.
HINT
		;;
	esac
	exit 127
fi

# /cert:tofu trusts the VM's certificate the first time and pins it for
# 127.0.0.1:PORT afterwards: keep the forward's local port fixed in the profile.
exec "$KUGURI" connect "$PROFILE" -- "$CLIENT" "/v:{$RDP_FORWARD}" "/u:${RDP_USER:-Administrator}" /cert:tofu "$@"
