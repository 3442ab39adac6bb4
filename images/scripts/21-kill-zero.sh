# kill -0 probes for a live process.
sleep 1 &
p=$!
kill -0 $p && echo "alive"
kill $p
sleep 0.1   # reaped before `wait`: no "Terminated" (see 07-kill-term.sh)
wait $p
kill -0 $p 2>/dev/null || echo "gone"
