# xargs forks a command per batch.
seq 1 10 | xargs echo
seq 1 10 | xargs -n 3 echo batch
echo a b c | xargs -n 1 sh -c 'echo "item $0"'
