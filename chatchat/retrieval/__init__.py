"""Finding passages: the LanceDB store, embeddings, fusion, reranking, context and the relevance gate."""
