"""The OpenAI dialect: ``/v1/chat/completions``, ``/v1/models``, ``/v1/embeddings``, also under
``/v1/openai/`` as CLOVA Studio offers them."""
