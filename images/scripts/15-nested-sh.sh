# Shells in shells, passing exit statuses up.
sh -c 'sh -c "exit 3"; echo "inner got $?"; exit 5'
echo "outer got $?"
sh -c 'echo "args: $0 $1 $2"' zero one two
