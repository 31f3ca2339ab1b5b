#!/bin/sh
# Entrypoint of the coturn service in docker-compose.yml. Starts turnserver with the shipped
# turnserver.conf plus the shared secret, without putting the secret on any command line
# (coturn runs in the host's network namespace, and `ps` on the host lists every
# container's processes with their arguments).
#
# At every container start: writes $MEET_TURN_CONF (default /run/meet-coturn/turnserver.conf,
# a tmpfs in docker-compose.yml, so never on disk) with mode 0600, owned by the container's
# user: the shipped configuration followed by `static-auth-secret=$TURN_SECRET`. Then it
# removes TURN_SECRET from the environment and replaces itself with
#   turnserver -c $MEET_TURN_CONF --allowed-peer-ip=$RTC_ANNOUNCED_ADDRESS
#              [--external-ip=$TURN_EXTERNAL_IP] [--allowed-peer-ip=$SFU_PRIVATE_IP] "$@"
# (the optional options only when set: an empty one would stop coturn). turnserver.conf
# denies relaying to every address: the SFU's addresses are the only exceptions.
set -eu

# Both paths can be changed (tests run this script outside a container).
shipped="${MEET_TURN_SHIPPED_CONF:-/etc/coturn/turnserver.conf}"
conf="${MEET_TURN_CONF:-/run/meet-coturn/turnserver.conf}"

if [ -z "${TURN_SECRET:-}" ]; then
  echo "coturn-entrypoint: TURN_SECRET is empty; set it in .env (openssl rand -hex 32)" >&2
  exit 1
fi
# One line of the config file: no whitespace or control characters (a newline would start
# another option).
case "$TURN_SECRET" in
  *[[:space:][:cntrl:]]*)
    echo "coturn-entrypoint: TURN_SECRET must not contain spaces or control characters" >&2
    exit 1
    ;;
esac

# The relay's one allowed peer is the SFU: an IP address (coturn does not resolve names).
case "${RTC_ANNOUNCED_ADDRESS:-}" in
  *[!0-9a-fA-F.:]* | "")
    echo "coturn-entrypoint: RTC_ANNOUNCED_ADDRESS must be the SFU's IP address (got '${RTC_ANNOUNCED_ADDRESS:-}')" >&2
    exit 1
    ;;
esac

umask 077
rm -f "$conf"
{
  cat "$shipped"
  echo
  echo "# Added by coturn-entrypoint.sh at container start (from TURN_SECRET):"
  # printf is the shell's builtin: the secret is not the argument of a new process.
  printf 'static-auth-secret=%s\n' "$TURN_SECRET"
} >"$conf"
unset TURN_SECRET

exec turnserver -c "$conf" \
  "--allowed-peer-ip=$RTC_ANNOUNCED_ADDRESS" \
  ${TURN_EXTERNAL_IP:+"--external-ip=$TURN_EXTERNAL_IP"} \
  ${SFU_PRIVATE_IP:+"--allowed-peer-ip=$SFU_PRIVATE_IP"} \
  "$@"
