"""Measuring a knowledge base: test sets (testset), scoring (judge), runs and their comparison (runs),
"try these settings" (trials) and questions drafted by the chat model (drafts)."""
