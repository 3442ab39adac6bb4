# A three-stage pipeline of numbers.
for i in $(seq 50); do echo $i; done | sort -rn | head -3
