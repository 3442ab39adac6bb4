# Ten separate execs.
for i in 1 2 3 4 5 6 7 8 9 10; do true; /bin/busybox true; done
echo "ten execs done"
