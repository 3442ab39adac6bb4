# kill -0 probes for a live process.
sleep 1 &
p=$!
kill -0 $p && echo "alive"
kill $p
wait $p
kill -0 $p 2>/dev/null || echo "gone"
