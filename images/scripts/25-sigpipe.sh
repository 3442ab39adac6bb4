# A writer whose reader goes away dies of SIGPIPE quietly.
yes | head -n 1000 | wc -l
seq 1 100000 | head -n 2
