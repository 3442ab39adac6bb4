# A child killed by a signal: 128 + the signal number.
sh -c 'kill -SEGV $$'; echo "segv $?"
sh -c 'kill -INT $$'; echo "int $?"
sh -c 'kill -USR2 $$'; echo "usr2 $?"
