# exec replaces the shell; the status is the new program's.
sh -c 'echo before; exec sh -c "echo replaced; exit 6"; echo never'
echo "status $?"
