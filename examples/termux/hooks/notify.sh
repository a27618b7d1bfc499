#!/data/data/com.termux/files/usr/bin/sh
# kuguri on_up / on_down hook for Termux: one Android notification per
# profile, updated in place as the tunnel goes up and down.
#
# Needs the Termux:API app and `pkg install termux-api`. Install as
# ~/.config/kuguri/hooks/notify.sh (chmod +x) and set, in config.yaml:
#
#   defaults:
#     on_up: ~/.config/kuguri/hooks/notify.sh
#     on_down: ~/.config/kuguri/hooks/notify.sh
#
# kuguri runs it through `sh -c` with these variables set:
#   KUGURI_PROFILE     the profile's name
#   KUGURI_STATE       its new state: up, reconnecting, failed, stopped, ...
#   KUGURI_PREV_STATE  the state before
#   KUGURI_ERROR       the last error, or empty
# Variables whose names look like secrets (*PASS*, *TOKEN*, *SECRET*, ...)
# are not passed. The hook is killed after 30 s; keep it quick.

id="kuguri-${KUGURI_PROFILE:-unknown}"

case "$KUGURI_STATE" in
up)
	termux-notification --id "$id" --group kuguri --alert-once --priority low \
		--title "kuguri: $KUGURI_PROFILE up" \
		--content "Tunnel up (was $KUGURI_PREV_STATE)"
	;;
stopped)
	# Stopped on purpose (kuguri down, or shutting down): clear it.
	termux-notification-remove "$id"
	;;
*)
	termux-notification --id "$id" --group kuguri --priority high \
		--title "kuguri: $KUGURI_PROFILE $KUGURI_STATE" \
		--content "${KUGURI_ERROR:-was $KUGURI_PREV_STATE}"
	;;
esac
