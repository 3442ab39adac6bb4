# read at EOF fails; a partial last line still reads.
printf 'no newline' | { read x; echo "status $? got [$x]"; }
printf '' | { read y; echo "status $? got [$y]"; }
