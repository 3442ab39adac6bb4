# Redirections between descriptors.
echo "to stderr" >&2
{ echo out; echo err >&2; } 2>&1 | sort
exec 3>&1
echo "via fd 3" >&3
exec 3>&-
echo "fd 3 closed" >&3 2>/dev/null || echo "write to closed fd failed"
cat < /etc/hostname > /dev/null && echo "read stdin from a file"
