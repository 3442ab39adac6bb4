# Background jobs and wait for each one's status.
(sleep 0.2; exit 3) & p1=$!
(sleep 0.1; exit 5) & p2=$!
(exit 7) & p3=$!
wait $p1; echo "first $?"
wait $p2; echo "second $?"
wait $p3; echo "third $?"
wait; echo "all done $?"
