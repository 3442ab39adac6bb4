# awk and sed in a pipeline.
seq 1 20 | awk '{ s += $1; if ($1 % 5 == 0) print "at", $1, "sum", s }'
echo "hello sandbox world" | sed -e 's/sandbox/guest/' -e 's/o/0/g'
