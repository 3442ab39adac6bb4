# Six processes in one pipeline.
seq 1 1000 | grep 7 | sed 's/7/seven/' | sort | uniq | wc -l
