# Background writers into one pipe, read after all finish.
for i in 1 2 3 4 5; do (sleep 0.0$i; echo "job $i") & done | sort
echo "jobs done"
