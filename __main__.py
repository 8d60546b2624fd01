"""Project-AI infrastructure: `pulumi up -s <stack>` builds the stack's role."""

from stacks.build import main

main()
