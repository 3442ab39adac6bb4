# timeout kills a slow child.
timeout 1 sleep 5
echo "timeout status $?"
timeout 5 true
echo "fast status $?"
