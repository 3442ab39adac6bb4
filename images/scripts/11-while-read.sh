# A while-read loop fed by a pipe; the loop runs in a subshell.
printf 'alpha\nbeta\ngamma\n' | while read w; do echo "${#w} $w"; done
count=0
printf 'a\nb\nc\n' | { while read x; do count=$((count+1)); done; echo "inner count $count"; }
echo "outer count $count"
