# A trap runs when the shell signals itself.
trap 'echo caught USR1' USR1
kill -USR1 $$
echo "after the signal"
trap - USR1
echo "trap reset"
