#!/bin/sh
# ufw.sh — the same firewall as nftables.conf, for hosts that use ufw
# (Ubuntu's default). Run as root on the VPS, AFTER sshd answers on the new
# port (see sshd_config.d/kuguri.conf), from a session you keep open.
#
#   SSH_PORT=22022 sh ufw.sh
#
# Use either this or nftables.conf, not both: ufw writes its own nftables/
# iptables rules and a later "nft -f nftables.conf" would flush them.
set -eu

PORT="${SSH_PORT:-22022}"

if ! command -v ufw >/dev/null 2>&1; then
	echo "ufw.sh: ufw is not installed (apt-get install ufw), or use nftables.conf" >&2
	exit 1
fi

# Refuse to lock you out: something must already listen on $PORT.
if command -v ss >/dev/null 2>&1; then
	if ! ss -Hltn "sport = :$PORT" | grep -q .; then
		echo "ufw.sh: nothing listens on TCP port $PORT yet; reload sshd with the new Port first" >&2
		exit 1
	fi
fi

# Nothing comes in unless allowed; this host may still dial out.
ufw default deny incoming
ufw default allow outgoing
ufw default deny routed

# sshd, rate limited: ufw denies a source address that opened 6 or more
# connections in the last 30 seconds (see README.md for what this means for
# several kuguri profiles to the same VPS).
ufw limit "$PORT/tcp" comment 'sshd (kuguri)'

# If port 22 was allowed before, remove it once 22022 works:
#   ufw delete allow 22/tcp; ufw delete allow OpenSSH

ufw --force enable
ufw status verbose
