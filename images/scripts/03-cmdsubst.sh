# Command substitution, nested and with backquotes.
a=$(echo outer $(echo inner $(echo deepest)))
echo "$a"
b=`echo back | tr a-z A-Z`
echo "$b"
n=$(seq 10 | wc -l)
echo "lines=$n"
empty=$(true); echo "empty=[$empty]"
