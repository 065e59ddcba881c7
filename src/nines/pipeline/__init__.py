"""End-to-end runs that chain the stages of the loop."""
