#!/bin/sh
# Runs avahi-browse against a baton announcer, isolated from the host: the caller starts
# this under `unshare --mount --net`, so the interface, the system D-Bus and avahi's
# runtime files all live in namespaces that vanish with the test.
#
#   avahi_interop.sh ANNOUNCER NODE_NAME RPC_PORT
#
# Network: an interface "baton0" with multicast on and 10.77.0.1/24 inside the private
# namespace (avahi ignores loopback). Multicast loopback delivers our own frames to local
# sockets, which is all two processes on one host need.
# Exit codes: 0 avahi-browse listed the node (its output is printed), 77 the environment
# cannot host avahi (reason printed), anything else a failure.
set -u
announcer=$1 name=$2 port=$3
work=$(mktemp -d /tmp/baton-avahi-XXXXXX)
cleanup() {
  [ -n "${ann_pid:-}" ] && kill -TERM "$ann_pid" 2>/dev/null
  [ -f "$work/avahi.pid" ] && kill "$(cat "$work/avahi.pid")" 2>/dev/null
  [ -n "${avahi_pid:-}" ] && kill "$avahi_pid" 2>/dev/null
  [ -f "$work/dbus.pid" ] && kill "$(cat "$work/dbus.pid")" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
skip() { echo "SKIP: $*"; exit 77; }

ip link set lo up || skip "cannot configure lo in the network namespace"
# A dummy device if the kernel has one, else a veth pair whose far end (baton1) stays in
# this namespace too: either way nothing leaves it.
if ip link add baton0 type dummy 2>/dev/null; then
  ip link set baton0 multicast on up || skip "cannot bring baton0 up"
elif ip link add baton0 type veth peer name baton1 2>/dev/null; then
  ip link set baton1 up && ip link set baton0 multicast on up || skip "cannot bring the veth pair up"
else
  skip "cannot create a dummy or veth interface in the namespace"
fi
ip addr add 10.77.0.1/24 dev baton0 || skip "cannot address baton0"

# Private /run (this is a private mount namespace): avahi's pid file and socket, D-Bus.
mount -t tmpfs tmpfs /run 2>/dev/null || skip "cannot mount a private /run"
mkdir -p /run/dbus /run/avahi-daemon

cat > "$work/dbus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=/run/dbus/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="signal"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
  </policy>
</busconfig>
CONF
dbus-daemon --config-file="$work/dbus.conf" --fork --print-pid > "$work/dbus.pid" 2> "$work/dbus.log" \
  || skip "dbus-daemon would not start: $(cat "$work/dbus.log")"
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=/run/dbus/system_bus_socket

cat > "$work/avahi.conf" <<CONF
[server]
use-ipv4=yes
use-ipv6=no
allow-interfaces=baton0
enable-dbus=yes
ratelimit-interval-usec=1000000
ratelimit-burst=1000
[wide-area]
enable-wide-area=no
[publish]
disable-publishing=yes
CONF
avahi-daemon -f "$work/avahi.conf" --no-drop-root --no-chroot --no-rlimits > "$work/avahi.log" 2>&1 &
avahi_pid=$!
i=0
until grep -q "Server startup complete" "$work/avahi.log"; do
  i=$((i+1))
  if [ $i -gt 100 ] || ! kill -0 $avahi_pid 2>/dev/null; then skip "avahi-daemon did not start: $(cat "$work/avahi.log")"; fi
  sleep 0.1
done

"$announcer" --name "$name" --port "$port" --interface baton0 --id avahi-id --kind pc --mem 512 \
  --role node > "$work/announcer.log" 2>&1 &
ann_pid=$!

# avahi-browse -t ends after the cache is dumped; poll (bounded) until the node resolves.
i=0
while [ $i -lt 20 ]; do
  out=$(timeout 5 avahi-browse -rpt _baton._tcp 2>&1)
  case "$out" in *"=;baton0;IPv4;"*) printf '%s\n' "$out"; exit 0;; esac
  i=$((i+1))
  sleep 0.25
done
echo "avahi-browse never resolved the node. Last output:"; printf '%s\n' "$out"
echo "--- avahi log"; cat "$work/avahi.log"; echo "--- announcer log"; cat "$work/announcer.log"
exit 1
