# set -e: the first failing command ends the script.
set -e
echo one
true && echo two
false || echo "guarded failure"
sh -c 'exit 9'
echo "never printed"
