# Sourced by the demos: the sample repository the demo task fixes (a calculator whose add
# subtracts). make_demo_repo DIR creates it once; an existing repository is left as it is.
make_demo_repo() {
    [ -d "$1/.git" ] && return 0
    git init -q -b main "$1"
    git -C "$1" config user.name "Demo User"
    git -C "$1" config user.email "demo@example.com"
    printf 'def add(a, b):\n    return a - b\n' > "$1/calc.py"
    git -C "$1" add calc.py
    git -C "$1" commit -q -m "Add calculator"
}
