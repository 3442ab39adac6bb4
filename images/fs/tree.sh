# Builds a tree under $1 and works on it with the usual tools; prints only
# what does not depend on where the tree is or when it was made. Run the
# same way natively and in the sandbox, the outputs must be identical.
set -e
cd "$1"
mkdir -p src/a/b src/c empty
printf 'alpha\nbeta\ngamma\n' > src/a/one.txt
seq 1 2000 > src/a/b/numbers
printf 'zeta\ny\nx\n' > src/c/unsorted
ln -s a/one.txt src/link
ln src/a/one.txt src/c/hard
echo data > src/c/mode600 && chmod 600 src/c/mode600

echo '--- find'
find src | sort
find src -type l
find src -type f -name '*.txt'
echo '--- ls -lR (mode links size name)'
ls -lR src | awk 'NF > 2 { print $1, $2, $5, $NF } NF <= 2 { print }'
echo '--- stat'
stat -c '%n %s %F %a %h' src/a/one.txt src/link src/c/hard src/c/mode600
echo '--- du'
du -a src/a | sort -k2
du -s src/c
echo '--- cp -r, mv, rm -r'
cp -r src copy
mv copy/a copy/moved
mv copy/c/unsorted copy/moved/b/
rm -r copy/c
find copy | sort
cmp src/a/b/numbers copy/moved/b/numbers && echo same
echo '--- tar'
tar cf src.tar src
tar tf src.tar | sort
mkdir x && cd x && tar xf ../src.tar && cd ..
find x | sort
cmp src/a/b/numbers x/src/a/b/numbers && echo untarred
echo '--- gzip'
gzip -c src/a/b/numbers > n.gz
gunzip -c n.gz | tail -2
gzip src/c/unsorted && ls src/c && gunzip src/c/unsorted.gz && ls src/c
echo '--- sed -i, sort -o'
sed -i 's/beta/BETA/' src/a/one.txt
cat src/a/one.txt src/c/hard
sort -o src/c/sorted src/c/unsorted && cat src/c/sorted
sort -r -o src/c/unsorted src/c/unsorted && cat src/c/unsorted
echo '--- renames and links'
mv src/a/b src/b2 && ls src src/b2
ln -s nowhere dangling && ls -l dangling | awk '{ print $1, $NF }'
[ -e dangling ] || echo dangling-missing
rm dangling src/link
rmdir empty
rmdir src 2>/dev/null || echo "rmdir: not empty"
rm -r src x copy src.tar n.gz
ls -a
