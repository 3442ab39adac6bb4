# The benchmark's script: 200 lines through sort and wc.
i=0; while [ $i -lt 200 ]; do echo "line $i"; i=$((i+1)); done | sort -r | wc -l
