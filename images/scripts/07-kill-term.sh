# A killed background job reports 128+SIGTERM.
sleep 10 &
p=$!
kill -TERM $p
wait $p
echo "status $?"
sleep 10 &
p=$!
kill -KILL $p
wait $p
echo "status $?"
