# Subshells: their variables and exit statuses stay their own.
x=outer
( x=inner; echo "in: $x"; exit 3 )
echo "status $? x=$x"
(exit 0) && echo "and-list ran"
( (exit 4) ); echo "nested $?"
