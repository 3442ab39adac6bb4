# Arithmetic and loops.
i=0; s=0
while [ $i -lt 100 ]; do s=$((s + i * i)); i=$((i + 1)); done
echo "sum of squares $s"
echo $(( (7 << 3) | 5 )) $(( 100 / 7 )) $(( 100 % 7 )) $(( -5 + 2 ))
