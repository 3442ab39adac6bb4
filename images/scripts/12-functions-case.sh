# Functions with local state, return codes, and case.
classify() {
    case "$1" in
        [0-9]*) echo "$1 is a number"; return 0 ;;
        -*) echo "$1 is an option"; return 1 ;;
        *) echo "$1 is a word"; return 2 ;;
    esac
}
for a in 42 -v hello; do classify "$a"; echo "  returned $?"; done
