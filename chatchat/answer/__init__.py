"""Answering: the answerer, its prompts, follow-up rewriting and the conversation store."""
