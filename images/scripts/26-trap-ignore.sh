# An ignored signal stays ignored in children.
trap '' USR1
sh -c 'kill -USR1 $$; echo "child survived"'
trap 'echo parent got TERM' TERM
kill -TERM $$
echo end
