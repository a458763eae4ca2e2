"""The CLOVA Studio dialect: chat v1 and v3, tuned tasks, the access-token flow and the chat
tools, in CLOVA Studio's ``{"status", "result"}`` envelope (clova-studio-api.md §1–§6, §10)."""
