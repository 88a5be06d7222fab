"""Search-engine chat: a question is searched with a search engine (one provider interface, one module a
provider: chatchat.web.registry), the result pages are fetched (fetch) and their main text extracted
(extract), then split and ranked with the knowledge-base retrieval code (rank); chatchat.web.retriever
runs the flow. Nothing is sent to a search engine unless the person picked the mode and a provider."""
