# Here-documents: expanded and quoted.
name=world
cat <<END
hello $name
sum $((2 + 3))
END
cat <<'END'
literal $name $((1+1))
END
while read a b; do echo "$b-$a"; done <<END
1 one
2 two
END
