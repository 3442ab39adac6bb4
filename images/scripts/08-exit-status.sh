# $? after commands, pipelines and negation.
true; echo "true $?"
false; echo "false $?"
sh -c 'exit 17'; echo "sh $?"
false | true; echo "pipeline $?"
! true; echo "negated $?"
nosuchcommand 2>/dev/null; echo "missing $?"
