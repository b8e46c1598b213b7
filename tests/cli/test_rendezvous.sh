#!/usr/bin/env bash
# Another program on MASTER_PORT, as a data-parallel rank meets it (127.0.0.1 only, each program a
# python3 listener on a port the kernel picks):
#   - an HTTP server, a listener that accepts and stays silent, and one that sends bytes of its
#     own: rank 1 ends with exit 1 and one line naming the port, within --dist-timeout and a few
#     seconds (it used to wait forever, or abort on std::length_error);
#   - rank 0 finds the port taken: exit 1 and one line;
#   - nothing is written in any of these cases.
source "$(dirname "$0")/lib.sh"
LIZ=$SRC/data/lizard.png
args=(--target "$LIZ" "${TINY[@]}" --damage 2 --iters 2 --save-every 0 --dist-timeout 5)

# listen KIND: starts a listener of that kind in the background on a free port of 127.0.0.1;
# sets $listener (its pid) and $lport.
listen() {
  rm -f port
  python3 - "$1" <<'EOF' &
import http.server, socket, sys, threading
kind = sys.argv[1]
def announce(port):
    with open("port.tmp", "w") as f:
        f.write(str(port))
    import os
    os.rename("port.tmp", "port")
if kind == "http":
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    announce(server.server_address[1])
    server.serve_forever()
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
announce(s.getsockname()[1])
held = []
def talk(conn):
    # Bytes of its own, as a program that speaks another protocol first would send them.
    try:
        while True:
            conn.sendall(b"\xff" * 64 + b"220 another program here\r\n")
            threading.Event().wait(0.2)
    except OSError:
        pass
while True:
    conn, _ = s.accept()
    held.append(conn)
    if kind == "sender":
        threading.Thread(target=talk, args=(conn,), daemon=True).start()
EOF
  listener=$!
  for _ in $(seq 100); do [[ -s port ]] && break; sleep 0.1; done
  lport=$(cat port 2>/dev/null)
}

# rank1 LOG: rank 1 of 2 against whatever listens on $lport; sets $rc.
rank1() {
  RANK=1 WORLD_SIZE=2 LOCAL_RANK=1 MASTER_ADDR=127.0.0.1 MASTER_PORT=$lport \
    timeout 25 "$NCA" train "${args[@]}" --run-dir "run-$1" >/dev/null 2>"$1"
  rc=$?
}

for kind in http silent sender; do
  listen "$kind"
  check "$kind: the listener is up (port ${lport:-none})" test -n "$lport"
  rank1 "$kind"
  kill "$listener" 2>/dev/null
  wait "$listener" 2>/dev/null
  check "$kind listener on MASTER_PORT: rank 1 exits 1 within the timeout and a margin (got $rc)" \
    test "$rc" -eq 1
  check "$kind listener on MASTER_PORT: one line" test "$(error_lines "$kind" | grep -c .)" -eq 1
  check "$kind listener on MASTER_PORT: the line says what to look at" \
    grep -q "^nca train: error: rank 1 of 2: .*127.0.0.1:$lport.*another program listening on MASTER_PORT $lport" \
    "$kind"
  check "$kind listener on MASTER_PORT: nothing written" test ! -e "run-$kind"
  [[ $rc -eq 1 ]] || cat "$kind" >&2
done

# Rank 0 serves the rendezvous: a port another program holds is said at once.
listen silent
RANK=0 WORLD_SIZE=2 LOCAL_RANK=0 MASTER_ADDR=127.0.0.1 MASTER_PORT=$lport \
  timeout 25 "$NCA" train "${args[@]}" --run-dir run-taken >/dev/null 2>taken
rc=$?
kill "$listener" 2>/dev/null
wait "$listener" 2>/dev/null
check "port taken: rank 0 exits 1 (got $rc)" test "$rc" -eq 1
check "port taken: one line" test "$(error_lines taken | grep -c .)" -eq 1
check "port taken: the line names the port" \
  grep -q "^nca train: error: rank 0 of 2: cannot serve the rendezvous at 127.0.0.1:$lport" taken
check "port taken: nothing written" test ! -e run-taken
[[ $rc -eq 1 ]] || cat taken >&2
finish
