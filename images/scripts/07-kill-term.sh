# A killed background job reports 128+SIGTERM.
# Whether ash also prints "Terminated" depends on a race, natively too: it
# does only if the job is still alive when `wait` starts. The short sleep
# settles it (the job is reaped before `wait`, no message).
sleep 10 &
p=$!
kill -TERM $p
sleep 0.1
wait $p
echo "status $?"
sleep 10 &
p=$!
kill -KILL $p
sleep 0.1
wait $p
echo "status $?"
