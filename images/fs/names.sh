# Names that move: run in directory $1 (a tmpfs). Prints paths relative to $1,
# so a native run and a sandboxed one print the same lines.
d=$1
rel() { sed "s|$d|DIR|g"; }
mkdir -p "$d/a/b/c" && cd "$d/a/b/c" || exit 1
mv "$d/a" "$d/z"
/bin/busybox pwd -P | rel                       # getcwd follows the renamed ancestor
/bin/busybox readlink /proc/self/cwd | rel
mv "$d/z/b" "$d/y"
/bin/busybox pwd -P | rel
cd "$d/y" && mv c c2 && cd c2 && /bin/busybox pwd -P | rel
echo data > "$d/f"
exec 3< "$d/f"
/bin/busybox readlink /proc/self/fd/3 | rel
mv "$d/f" "$d/g"
/bin/busybox readlink /proc/self/fd/3 | rel     # an open file's name follows a rename
rm "$d/g"
/bin/busybox readlink /proc/self/fd/3 | rel     # and says it is gone
exec 3<&-
mkdir "$d/gone" && cd "$d/gone" && rmdir "$d/gone"
/bin/busybox pwd -P 2>&1 | rel                  # getcwd of a removed directory: ENOENT
/bin/busybox readlink /proc/self/cwd | rel
cd "$d" && rm -r "$d/y" "$d/z"
echo done
