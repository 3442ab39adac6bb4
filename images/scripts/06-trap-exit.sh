# An EXIT trap sees the exit status.
trap 'echo "exit trap, status $?"' EXIT
echo working
exit 4
